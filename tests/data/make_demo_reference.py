"""Write ``demo_reference.nc``: the demo's results, kept to show a refactor changes no number.

Run from the repository root on the tree *before* a change (``python
tests/data/make_demo_reference.py``); ``tests/test_reference.py`` then checks that today's
code gives the same numbers. The file records the CPU features and library versions it was
made with: only on the same ones can bits be expected to match (SIMD dispatch of numpy and
the kernels numba compiles for the host change the last bits of sums).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
N_SAMPLES = 3


def platform_fingerprint() -> str:
    """The CPU features and library versions that decide the last bits of a result."""
    import numba
    import numpy as np
    import scipy
    import skimage
    import sklearn

    try:
        from numpy._core._multiarray_umath import __cpu_features__ as feats
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_features__ as feats
    cpu = ",".join(sorted(k for k, v in feats.items() if v))
    libs = ";".join(f"{m.__name__}={m.__version__}" for m in (np, scipy, numba, skimage, sklearn))
    return f"{sys.platform};{libs};{cpu}"


#: The other sampler kinds, each on the demo volume (not denoised; the parametric sampler
#: with 4 parameter draws) with a few quantities and 2 samples.
OTHER_KINDS = ("independent", "correlated", "parametric")
OTHER_QUANTITIES = ("volume_fraction", "specific_surface_area", "pore_size_distribution")


def run_demo(out_dir: Path, n_samples: int = N_SAMPLES, kind: str | None = None):
    """The demo's results Dataset, computed in this process.

    With ``kind`` the demo volume is run with that sampler kind and the few quantities
    ``OTHER_QUANTITIES``.
    """
    import uqtwin
    from uqtwin.data import demo_config

    cfg = demo_config(out_dir, n_samples=n_samples, workers=1)
    if kind is not None:
        from uqtwin.engine.config import config_from_dict

        data = cfg.to_dict()
        data["sampler"]["kind"] = kind
        data["quantities"] = {"names": list(OTHER_QUANTITIES)}
        data["denoise"] = {"enabled": False}  # the main demo covers the denoiser
        data["sampler"]["n_draws"] = 4
        cfg = config_from_dict(data)
    from threadpoolctl import threadpool_limits

    run = getattr(uqtwin, "run", None)
    if run is None:  # before the public API existed
        from uqtwin.engine.pipeline import run
    # The mixture fit's matrix products sum in an order that depends on the number of BLAS
    # threads (1e-13 apart): one thread makes the reference independent of the machine's.
    with threadpool_limits(1):
        return run(cfg)


#: Attributes that say where and when, not what was computed.
VOLATILE_ATTRS = ("created", "config", "uqtwin_version")


def comparable(ds):
    """The results with per-voxel maps replaced by their SHA-256 and volatile attrs dropped.

    Keeps the stored reference small (kB, not MB) while still checking every voxel's bits.
    """
    import hashlib
    import json

    voxel = [k for k, v in ds.data_vars.items() if {"z", "y", "x"} <= set(v.dims)]
    out = ds.drop_vars(voxel)
    out.attrs = {k: v for k, v in ds.attrs.items() if k not in VOLATILE_ATTRS}
    cfg = json.loads(ds.attrs.get("config", "{}"))
    for section in ("input", "output"):
        cfg.get(section, {}).pop("path", None)
    out.attrs["config_without_paths"] = json.dumps(cfg, sort_keys=True)
    for k in voxel:
        a = ds[k].values
        out.attrs[f"sha256_{k}"] = hashlib.sha256(
            f"{a.dtype.str}{a.shape}".encode() + a.tobytes()).hexdigest()
    for v in out.variables.values():
        v.encoding = {}
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ds = comparable(run_demo(Path(tmp)).load())
    ds.attrs["platform"] = platform_fingerprint()
    ds.attrs["n_samples"] = N_SAMPLES
    ds.to_netcdf(HERE / "demo_reference.nc")
    for kind in OTHER_KINDS:
        with tempfile.TemporaryDirectory() as tmp:
            other = comparable(run_demo(Path(tmp), 2, kind).load())
        other.to_netcdf(HERE / "demo_reference.nc", mode="a", group=kind)
    print(f"wrote {HERE / 'demo_reference.nc'}: {len(ds.data_vars)} variables")


if __name__ == "__main__":
    main()

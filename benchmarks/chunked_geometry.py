r"""Benchmark: connectivity and local thickness, whole volume vs chunk by chunk.

The labels of ``../shared/data/tf_electrode.tiff`` (256³, 0 pore, 85 NMC, 170 binder;
without it random three-phase blobs) are stored as a ``.npy`` file and memory-mapped.
Each row runs in a fresh process (``--repeat`` times, the least time kept) and reports
its time, its peak memory (``VmHWM``, Linux), that peak above the floor of the same code
run first on an 8³ corner (imports, compiled kernels), and a digest of its result, so that
whole and chunked results can be compared bit for bit:

* ``conn:<phase>:<chunk>``: :func:`~uqtwin.quantities.connectivity.cluster_fractions`
  (``chunk`` = ``whole``) or :func:`~uqtwin.morphology.cluster_fractions_by_chunks`
  (pore 6-connected, solids 26-connected);
* ``lt:<phase>:<chunk>``: :func:`~uqtwin.morphology.local_thickness` or
  :func:`~uqtwin.morphology.local_thickness_by_chunks` written to a Zarr array on disk
  (the digest is taken after the peak is read);
* ``hist:<phase>:<chunk>``: the volume-weighted local-thickness histogram and mean
  (:func:`~uqtwin.morphology.thickness_histogram_by_chunks`; whole: the same from
  :func:`~uqtwin.morphology.local_thickness`).

Usage::

    python benchmarks/chunked_geometry.py [--rows conn:0:whole conn:0:64 ...]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "tf_electrode.tiff"
STORE = Path("/tmp/uqtwin_chunked_geometry.npy")
ZARR = Path("/tmp/uqtwin_chunked_geometry.zarr")
SPACING = (0.39, 0.39, 0.39)
CONNECTIVITY = {0: 6, 85: 26, 170: 26}
ROWS = [*(f"{q}:0:{c}" for q in ("conn", "lt", "hist") for c in ("whole", "128", "64")),
        "conn:0:32", "conn:85:whole", "conn:85:64", "conn:170:whole", "conn:170:64"]


def _labels() -> np.ndarray:
    if SHARED.exists():
        import tifffile

        return tifffile.imread(SHARED)
    from scipy import ndimage

    rng = np.random.default_rng(0)
    field = ndimage.gaussian_filter(rng.random((256, 256, 256)), 3.0)
    return np.digitize(field, np.quantile(field, [0.45, 0.85])).astype(np.uint8) * 85


def _digest(a: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(a).tobytes()).hexdigest()[:10]


def _peak_mib() -> float:
    status = Path("/proc/self/status").read_text().split("\n")
    return next(int(x.split()[1]) for x in status if x.startswith("VmHWM")) / 1024


def _run(quantity: str, phase: int, chunk: int, labels, out_path: Path):
    """Compute one row on ``labels``; returns a function giving (digest, value)."""
    from uqtwin import morphology as mo
    from uqtwin.morphology.bins import binned_fractions, default_bins
    from uqtwin.quantities.connectivity import cluster_fractions

    if quantity == "conn":
        conn = CONNECTIVITY[phase]
        result = (cluster_fractions(np.asarray(labels) == phase, conn) if not chunk else
                  mo.cluster_fractions_by_chunks(labels, conn, phase=phase, chunk=chunk))
        return lambda: (_digest(result), f"perc {result[0, 0]:.6f}")
    if quantity == "lt":
        if not chunk:
            out = mo.local_thickness(np.asarray(labels) == phase, SPACING)
        else:
            import zarr

            shutil.rmtree(out_path, ignore_errors=True)
            out = zarr.open_array(str(out_path), mode="w", shape=labels.shape,
                                  chunks=(chunk,) * 3, dtype="f4")
            mo.local_thickness_by_chunks(labels, SPACING, phase=phase, chunk=chunk, out=out)
        return lambda: (_digest(np.asarray(out[:])), "")
    if not chunk:
        mask = np.asarray(labels) == phase
        lt = mo.local_thickness(mask, SPACING)[mask]
        frac = binned_fractions(lt, None, default_bins(labels.shape, SPACING)) / lt.size
        mean = float(lt.mean(dtype=np.float64))
    else:
        frac, mean = mo.thickness_histogram_by_chunks(labels, SPACING, phase=phase,
                                                      chunk=chunk)
    return lambda: (_digest(frac), f"mean {mean:.12g}")


def child(row: str) -> None:
    quantity, phase_s, chunk_s = row.split(":")
    phase, chunk = int(phase_s), (0 if chunk_s == "whole" else int(chunk_s))
    labels = np.load(STORE, mmap_mode="r")
    # the same code on an 8^3 corner first: imports and compiled kernels are the floor
    _run(quantity, phase, min(chunk, 8), np.array(labels[:8, :8, :8]), ZARR.with_suffix(".0"))
    floor = _peak_mib()
    start = time.perf_counter()
    finish = _run(quantity, phase, chunk, labels, ZARR)
    seconds = time.perf_counter() - start
    peak = _peak_mib()
    digest, note = finish()
    print(f"{seconds:.2f}\t{peak:.0f}\t{peak - floor:.0f}\t{digest}\t{note}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", nargs="*", default=ROWS)
    ap.add_argument("--repeat", type=int, default=2, help="runs per row (least time kept)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return
    np.save(STORE, _labels())
    # compile (or load from numba's cache) once, outside the measured processes
    for warm in ("conn:0:64", "hist:0:128"):
        subprocess.run([sys.executable, __file__, "--child", warm], check=True,
                       capture_output=True)
    print("| row | s | peak MiB | above floor MiB | digest | value |")
    print("|---|---|---|---|---|---|")
    for row in args.rows:
        runs = [subprocess.run([sys.executable, __file__, "--child", row], check=True,
                               capture_output=True, text=True).stdout.rstrip("\n").split("\t")
                for _ in range(args.repeat)]
        best = min(runs, key=lambda r: float(r[0]))
        print("| " + row + " | " + " | ".join(best) + " |", flush=True)
    for path in (ZARR, ZARR.with_suffix(".0")):
        shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()

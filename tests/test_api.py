"""The public API of ``uqtwin``: read_volume, measure, run.

Their Examples run as doctests; the tests below check what a notebook user relies on:
the same numbers as the engine and the CLI, and that ``import uqtwin`` stays light.
"""

from __future__ import annotations

import doctest
import json
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

import uqtwin
from uqtwin.errors import ConfigError, PhaseError


def test_docstring_examples_run():
    result = doctest.testmod(uqtwin, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted >= 10


def test_public_names_have_numpydoc_docstrings():
    for name in ("read_volume", "measure", "run"):
        doc = getattr(uqtwin, name).__doc__
        for section in ("Parameters", "Returns", "Examples"):
            assert section in doc, (name, section)
    assert set(uqtwin.__all__) >= {"read_volume", "measure", "run", "__version__"}


def test_import_is_light():
    # A notebook's `import uqtwin` must not load the heavy libraries nor the engine.
    code = ("import sys, uqtwin; heavy = {'sklearn', 'jax', 'numpyro', 'dask', 'matplotlib', "
            "'xarray', 'numba', 'skimage'}; print(sorted(heavy & {m.split('.')[0] for m in "
            "sys.modules}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_measuring_imports_no_segmentation():
    # Measuring a segmented volume needs neither segmentation (scikit-learn) nor JAX.
    # (Not dask: xarray itself imports part of it when it merges Datasets.)
    code = ("import sys, numpy as np, uqtwin; lab = np.zeros((8, 8, 8), np.uint8); "
            "lab[:, :, 4:] = 1; uqtwin.measure(lab, 1, spacing=1.0, "
            "quantities=['volume_fraction', 'specific_surface_area']); "
            "print(sorted({'sklearn', 'jax', 'numpyro', 'matplotlib', 'distributed'} & "
            "{m.split('.')[0] for m in sys.modules}), 'uqtwin.segment' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[] False"


def test_read_volume_is_the_pipelines_reader(tmp_path):
    from uqtwin.io import read_volume

    arr = np.arange(4 * 5 * 6, dtype=np.uint16).reshape(4, 5, 6)
    (tmp_path / "v.raw").write_bytes(arr.astype(">u2").tobytes())
    opts = dict(format="raw", shape=[4, 5, 6], dtype="uint16", byte_order="big",
                spacing=[2.0, 1.0, 1.0], unit="nm")
    vol = uqtwin.read_volume(tmp_path / "v.raw", **opts)
    np.testing.assert_array_equal(vol.values, arr)
    assert vol.attrs["spacing"] == (2.0, 1.0, 1.0) and vol.attrs["unit"] == "nm"
    xr.testing.assert_identical(vol, read_volume(tmp_path / "v.raw", **opts))


def _labels():
    lab = np.zeros((12, 12, 12), np.uint8)
    lab[:, :, 4:8] = 1
    lab[:, :, 8:] = 2
    return lab


def test_measure_matches_the_cli_measurement_per_phase(tmp_path):
    from uqtwin.engine.measure import measure_phase
    from uqtwin.volume import make_volume

    lab = _labels()
    names = ["volume_fraction", "specific_surface_area", "pore_size_distribution"]
    ds = uqtwin.measure(lab, None, phases=["pore", "binder", "active"],
                        spacing=(1.0, 0.5, 0.5), quantities=names)
    assert ds["volume_fraction"].dims == ("phase",)
    assert list(ds["phase"].values) == ["pore", "binder", "active"]
    # The CLI reads label values as phase names and reduces to the chosen phase.
    vol = make_volume(lab * 85, spacing=(1.0, 0.5, 0.5), unit="um")
    for index, label in enumerate(("0", "85", "170")):
        one, skipped = measure_phase(vol, label, ["volume_fraction", "specific_surface_area"])
        assert skipped == {}
        phase = ["pore", "binder", "active"][index]
        # The public function with a label value is the CLI's measurement, as data.
        api = uqtwin.measure(lab * 85, int(label), spacing=(1.0, 0.5, 0.5),
                             quantities=["volume_fraction", "specific_surface_area"])
        named = uqtwin.measure(lab, phase, phases=["pore", "binder", "active"],
                               spacing=(1.0, 0.5, 0.5),
                               quantities=["volume_fraction", "specific_surface_area"])
        for var in ("volume_fraction", "specific_surface_area"):
            assert one[var].item() == ds[var].sel(phase=phase).item(), (var, phase)
            assert api[var].dims == () and api[var].item() == one[var].item(), (var, label)
            assert named[var].item() == one[var].item(), (var, phase)
    assert ds["specific_surface_area"].attrs["units"] == "1/um"
    assert json.loads(ds.attrs["skipped"]) == {}


def test_measure_takes_a_labelled_dataarray_with_its_spacing():
    from uqtwin.volume import make_volume

    vol = make_volume(_labels(), spacing=(2.0, 2.0, 2.0), unit="nm")
    ds = uqtwin.measure(vol, None, phases=["pore", "binder", "active"],
                        quantities=["specific_surface_area"])
    direct = uqtwin.measure(_labels(), None, phases=["pore", "binder", "active"], spacing=2.0,
                            unit="nm", quantities=["specific_surface_area"])
    xr.testing.assert_identical(ds, direct)
    assert ds["specific_surface_area"].attrs["units"] == "1/nm"


def test_measure_skips_what_the_phases_do_not_allow_and_says_so():
    lab = _labels()
    with pytest.warns(UserWarning, match="skipped binder_contact"):
        ds = uqtwin.measure(lab, None, phases=["a", "b", "c"], spacing=1.0)
    assert "binder_contact" in json.loads(ds.attrs["skipped"])
    assert "volume_fraction" in ds
    with pytest.raises(PhaseError):  # asked for by name, it raises
        uqtwin.measure(lab, None, phases=["a", "b", "c"], spacing=1.0,
                       quantities=["binder_contact"])


@pytest.mark.parametrize("bad, match", [
    ({"spacing": None}, "spacing"),
    ({"phases": ["pore"]}, "0 .. 0"),
    ({"labels": np.zeros((4, 4), np.uint8)}, "3-D"),
    ({"labels": np.zeros((4, 4, 4))}, "integers"),
    ({"phases": None}, "name the phase"),
    ({"phases": None, "phase": 3}, "absent"),
    ({"phases": None, "phase": 1, "spacing": None}, "spacing"),
])
def test_measure_names_bad_input(bad, match):
    args = {"labels": _labels(), "phase": None, "phases": ["pore", "binder", "active"],
            "spacing": 1.0}
    args.update(bad)
    with pytest.raises(PhaseError, match=match):
        uqtwin.measure(args.pop("labels"), args.pop("phase"), **args)


def _grey(folder):
    rng = np.random.default_rng(0)
    blocks = (np.indices((16, 16, 16)) // 8).sum(axis=0) % 2
    grey = 60.0 + 120.0 * blocks + rng.normal(0, 10, blocks.shape)
    np.save(folder / "scan.npy", grey.astype(np.float32))
    return folder / "scan.npy"


def _config(folder):
    return {"input": {"path": str(_grey(folder)), "spacing": [1, 1, 1]},
            "phases": {"names": ["pore", "active"]},
            "denoise": {"enabled": False},
            "sampler": {"kind": "correlated", "n_samples": 2, "seed": 4},
            "quantities": {"names": ["volume_fraction"]},
            "output": {"path": str(folder / "results.nc"), "maps": False}}


def test_run_from_mapping_toml_and_runconfig_agree(tmp_path):
    from uqtwin.engine.config import config_from_dict

    (tmp_path / "a").mkdir()
    data = _config(tmp_path / "a")
    ds = uqtwin.run(data)
    assert ds.sizes["sample"] == 2
    assert (tmp_path / "a" / "results.nc").is_file()
    # A TOML file (relative paths relative to it) gives the same numbers.
    (tmp_path / "b").mkdir()
    _grey(tmp_path / "b")
    (tmp_path / "b" / "run.toml").write_text(
        '[input]\npath = "scan.npy"\nspacing = [1, 1, 1]\n'
        '[phases]\nnames = ["pore", "active"]\n[denoise]\nenabled = false\n'
        '[sampler]\nkind = "correlated"\nn_samples = 2\nseed = 4\n'
        '[quantities]\nnames = ["volume_fraction"]\n[output]\npath = "results.nc"\n'
        'maps = false\n')
    from_toml = uqtwin.run(tmp_path / "b" / "run.toml")
    np.testing.assert_array_equal(from_toml["volume_fraction"], ds["volume_fraction"])
    # A RunConfig, with the engine's keyword arguments passed on.
    (tmp_path / "c").mkdir()
    cfg = config_from_dict(_config(tmp_path / "c"))
    lines = []
    again = uqtwin.run(cfg, log=lines.append)
    np.testing.assert_array_equal(again["volume_fraction"], ds["volume_fraction"])
    assert any("sampling" in line for line in lines)


def test_run_checks_the_config(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'n_sample'"):
        uqtwin.run({"input": {"path": "x.npy"}, "sampler": {"n_sample": 3}})

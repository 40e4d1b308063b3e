"""Run configuration: the README's keys parse, every bad key or value is named."""

import pytest

from uqtwin.engine.config import DEFAULT_SAMPLER, config_from_dict, load_config
from uqtwin.errors import ConfigError

README_CONFIG = """
[input]
path = "electrode.tif"
format = "tiff"                 # tiff | tiff-slices | hdf5 | zarr | npy | raw (with shape, dtype)
spacing = [0.39, 0.39, 0.39]    # z, y, x
unit = "um"
[phases]
names = ["pore", "binder", "active"]   # grey input: in order of increasing grey value
[sampler]
kind = "independent"            # optional; the default is the best sampler the project has
n_samples = 32
seed = 7
[quantities]
names = ["volume_fraction", "specific_surface_area"]
[output]
path = "results.nc"
"""


def test_readme_config_parses(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(README_CONFIG)
    cfg = load_config(path)
    assert cfg.input.spacing == (0.39, 0.39, 0.39)
    assert cfg.input.path == str(tmp_path / "electrode.tif")  # relative to the config
    assert cfg.output.path == str(tmp_path / "results.nc")
    assert cfg.phases.names == ("pore", "binder", "active")
    assert cfg.sampler.n_samples == 32 and cfg.sampler.seed == 7
    assert cfg.quantities.names == ("volume_fraction", "specific_surface_area")


def test_sampler_kind_defaults_to_best():
    cfg = config_from_dict({"input": {"path": "a.tif"}})
    assert cfg.sampler.kind == DEFAULT_SAMPLER


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"input": {"path": "a", "spacng": [1, 1, 1]}}, "unknown key 'spacng' in \\[input\\]"),
        ({"input": {"path": "a"}, "sampeler": {}}, "unknown section \\[sampeler\\]"),
        ({"input": {}}, "missing required key.*path"),
        ({}, "no \\[input\\] section"),
        ({"input": {"path": "a", "spacing": [1, 0, 1]}}, "spacing must be > 0"),
        ({"input": {"path": "a", "spacing": [1, 1]}}, "3 values"),
        ({"input": {"path": "a", "format": "png"}}, "format 'png'"),
        ({"input": {"path": "a", "format": "raw"}}, "needs shape"),
        ({"input": {"path": "a"}, "sampler": {"n_samples": 0}}, "n_samples"),
        ({"input": {"path": "a"}, "sampler": {"n_samples": "many"}}, "must be an integer"),
        ({"input": {"path": "a"}, "sampler": {"kind": "magic"}}, "kind 'magic'"),
        ({"input": {"path": "a"}, "quantities": {"names": ["porosityy"]}}, "unknown quantity"),
        ({"input": {"path": "a"}, "phases": {"names": ["pore"]}}, "at least 2"),
        ({"input": {"path": "a"}, "quantities": {"names": ["volume_fraction"],
                                                  "phases": ["gas"]}}, "'gas'"),
        ({"input": {"path": "a"}, "quantities": {
            "names": ["volume_fraction"], "options": {"volume_fraction": {"bins": 3}}}},
         "unknown option 'bins'"),
        ({"input": {"path": "a"}, "output": {"hdi_prob": 1.5}}, "hdi_prob"),
        ({"input": {"path": "a"}, "quantities": {
            "names": ["volume_fraction"], "options": {"volume_fraction": {"phases": ["air"]}}}},
         "'air'"),
        ({"input": {"path": "a"}, "quantities": {"names": ["bruggeman_exponent"]}},
         "derived from"),
        ({"input": {"path": "a"}, "phases": {"materials": {"active": "unobtainium"}}},
         "unknown material"),
        ({"input": {"path": "a"}, "segment": {"min_feature_size": -1}}, "min_feature_size"),
        ({"input": {"path": "a"}, "sampler": {"solid_prior": [1.0, 0.0]}}, "solid_prior"),
        ({"input": {"path": "a"}, "sampler": {"texture_length": [0.0, 0.4]}},
         "texture_length"),
    ],
)
def test_bad_config_names_the_problem(data, match):
    with pytest.raises(ConfigError, match=match):
        config_from_dict(data)


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[input\npath=1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_per_quantity_phases():
    import numpy as np

    from uqtwin.microstructure import Microstructure
    from uqtwin.quantities.registry import compute_quantities

    cfg = config_from_dict({"input": {"path": "a"}, "quantities": {
        "names": ["volume_fraction", "specific_surface_area"],
        "options": {"specific_surface_area": {"phases": ["pore"]}}}})
    labels = np.zeros((6, 6, 6), np.uint8)
    labels[3:] = 2
    labels[:, :1] = 1
    ms = Microstructure(labels, (1, 1, 1), "um", cfg.phases.names)
    q = cfg.quantities
    ds = compute_quantities(ms, q.names, phases=q.phases, options=q.options)
    assert list(ds.volume_fraction.phase.values) == ["pore", "binder", "active"]
    ssa = ds.specific_surface_area
    assert list(ssa.phase.values) == ["pore", "binder", "active"]
    assert np.isfinite(ssa.sel(phase="pore")) and ssa.sel(phase=["binder", "active"]).isnull().all()

"""The results schema: generated from the registry, committed, and enforced."""

import json
import subprocess
import sys

import numpy as np
import xarray as xr

from uqtwin.quantities.registry import QUANTITIES
from uqtwin.results.schema import load_schema, schema_path, schema_problems
from uqtwin.results.schema_generator import build_schema


def test_committed_schema_matches_registry():
    # Registering a quantity must be followed by `python -m uqtwin.results`.
    assert load_schema() == json.loads(json.dumps(build_schema())), (
        f"{schema_path()} is stale: run `python -m uqtwin.results`"
    )


def test_every_registered_output_has_units_and_description():
    schema = build_schema()
    for quantity in QUANTITIES.values():
        for out in quantity.outputs:
            entry = schema["variables"][out.name]
            assert entry["units"] and entry["long_name"] and entry["description"]
            assert entry["dims"][0] == "sample"


def _minimal(units="1"):
    ds = xr.Dataset(
        {"volume_fraction": (("sample", "phase"), np.full((2, 2), 0.5),
                             {"units": units, "long_name": "volume fraction"})},
        coords={"sample": [0, 1], "phase": ["pore", "solid"]},
    )
    ds.attrs = {k: "x" for k in build_schema()["required_attrs"]}
    ds.attrs.update(schema_version=1, length_unit="um")
    return ds


def test_schema_problems_are_named():
    assert schema_problems(_minimal()) == []
    assert any("units" in p for p in schema_problems(_minimal(units="m")))
    ds = _minimal()
    ds["mystery"] = ("sample", [1.0, 2.0])
    assert any("'mystery' is not in schema" in p for p in schema_problems(ds))
    ds = _minimal()
    del ds.attrs["input_sha256"]
    assert any("input_sha256" in p for p in schema_problems(ds))
    ds = _minimal().transpose("phase", "sample")
    assert any("dims" in p for p in schema_problems(ds))


def test_reading_results_does_not_import_the_quantities():
    # Loading and validating a results file reads the committed JSON, not the registry.
    code = ("import sys, uqtwin.results, uqtwin.results.conventions; "
            "from uqtwin.results.schema import validate, load_schema, build_schema; "
            "load_schema(); "
            "print(sorted(m for m in sys.modules if m.startswith('uqtwin.quantities')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_conventions_store_path_and_phases():
    from uqtwin.results.conventions import phase_names, results_store, store_path

    assert store_path("/a/run.nc").as_posix() == "/a/run.nc.samples"
    ds = xr.Dataset(attrs={"config": json.dumps({"output": {"path": "/b/r.nc"}}),
                           "phases": json.dumps(["pore", "active"])})
    assert results_store(ds).as_posix() == "/b/r.nc.samples"
    assert results_store(ds, "/c/x.nc").as_posix() == "/c/x.nc.samples"
    assert phase_names(ds) == ["pore", "active"]


def test_variable_role_from_attribute_else_schema():
    from uqtwin.results.conventions import is_diagnostic, variable_role

    assert variable_role(xr.DataArray([1.0], name="diffusion_iterations")) == "diagnostic"
    assert variable_role(xr.DataArray([1.0], name="binder_solid_share")) == "nuisance"
    assert variable_role(xr.DataArray([1.0], name="not_in_schema")) == "quantity"
    assert not is_diagnostic(xr.DataArray([1.0], name="diffusion_iterations",
                                          attrs={"role": "quantity"}))


def test_hdi_matches_arviz_and_edge_cases():
    from uqtwin.results.conventions import arviz, hdi

    x = np.random.default_rng(3).normal(size=37)
    for prob in (0.5, 0.9, 0.94):
        assert hdi(x, prob) == tuple(float(v) for v in arviz().hdi(x, hdi_prob=prob))
    assert hdi(np.array([2.0]), 0.9) == (2.0, 2.0)
    assert hdi(np.array([1.0, 5.0, 2.0]), 1.0) == (1.0, 5.0)
    assert all(np.isnan(hdi(np.array([np.nan, np.inf]))))


def test_face_modules_do_not_import_the_pipeline_or_inputs():
    code = ("import sys, uqtwin.plot, uqtwin.report; "
            "print(sorted(m for m in sys.modules if m.startswith(("
            "'uqtwin.quantities', 'uqtwin.segment', 'uqtwin.sample', 'uqtwin.io', "
            "'uqtwin.engine'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"

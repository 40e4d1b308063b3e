"""The results schema: generated from the registry, committed, and enforced."""

import json

import numpy as np
import xarray as xr

from uqtwin.quantities.registry import QUANTITIES
from uqtwin.results.schema import build_schema, load_schema, schema_path, schema_problems


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

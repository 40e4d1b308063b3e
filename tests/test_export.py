"""PyBaMM export: parameter names, unit conversions and the Bruggeman relation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

from uqtwin.cli import app
from uqtwin.errors import UqtwinInputError
from uqtwin.export import (
    export_notes,
    length_to_m,
    pybamm_parameter_samples,
    pybamm_parameters,
    to_si,
    write_pybamm,
)
from uqtwin.results.dataset import write_results

PHASES = ["pore", "binder", "active"]


def _results(length_unit: str = "um", n: int = 3) -> xr.Dataset:
    """Known values: ε = 0.25, 0.30, 0.35; τ_z = 2, 3, ∞; diameter 10 µm; area 0.5 /µm."""
    eps = np.array([0.25, 0.30, 0.35])[:n]
    vf = np.stack([eps, np.full(n, 0.15), 0.85 - eps], axis=1)
    tau = np.full((n, 3, 3), 1.5)
    tau[:, 0, 0] = [2.0, 3.0, np.inf][:n]
    return xr.Dataset(
        {
            "volume_fraction": (("sample", "phase"), vf, {"units": "1"}),
            "tortuosity_factor": (("sample", "phase", "axis"), tau, {"units": "1"}),
            "mean_particle_diameter": (("sample", "phase"), np.full((n, 3), 10.0),
                                       {"units": length_unit}),
            "specific_surface_area": (("sample", "phase"), np.full((n, 3), 0.5),
                                      {"units": f"1/{length_unit}"}),
        },
        coords={"sample": np.arange(n), "phase": PHASES, "axis": list("zyx")},
        attrs={"phases": json.dumps(PHASES), "length_unit": length_unit},
    )


def test_unit_conversions():
    assert length_to_m("um") == 1e-6 and length_to_m("µm") == 1e-6 and length_to_m("nm") == 1e-9
    assert to_si(2.0, "1/um", "um") == pytest.approx(2e6)
    assert to_si(2.0, "um^-1", "um") == pytest.approx(2e6)
    assert to_si(3.0, "{length}", "nm") == pytest.approx(3e-9)
    assert to_si(0.4, "1", "um") == 0.4
    with pytest.raises(UqtwinInputError, match="unknown length unit"):
        length_to_m("furlong")


def test_per_sample_parameters():
    sets = pybamm_parameter_samples(_results())
    assert len(sets) == 3
    s0 = sets[0]
    assert s0["Positive electrode porosity"] == 0.25
    assert s0["Positive electrode active material volume fraction"] == pytest.approx(0.60)
    # τ = ε^(1−b): with ε = 0.25, τ = 2 → b = 1 − ln 2 / ln 0.25 = 1.5
    assert s0["Positive electrode Bruggeman coefficient (electrolyte)"] == pytest.approx(1.5)
    b1 = 1 - math.log(3.0) / math.log(0.30)
    assert sets[1]["Positive electrode Bruggeman coefficient (electrolyte)"] == pytest.approx(b1)
    assert s0["Positive particle radius [m]"] == pytest.approx(5e-6)
    assert s0["Positive electrode surface area to volume ratio [m-1]"] == pytest.approx(5e5)
    # the non-percolating sample has no Bruggeman coefficient, everything else
    assert "Positive electrode Bruggeman coefficient (electrolyte)" not in sets[2]
    assert sets[2]["Positive electrode porosity"] == 0.35


def test_median_set_and_units_in_nm():
    med = pybamm_parameters(_results("nm"), "negative")
    assert med["Negative electrode porosity"] == pytest.approx(0.30)
    assert med["Negative particle radius [m]"] == pytest.approx(5e-9)
    assert med["Negative electrode surface area to volume ratio [m-1]"] == pytest.approx(5e8)
    b = [1.5, 1 - math.log(3.0) / math.log(0.30)]  # median of the two finite ones
    assert med["Negative electrode Bruggeman coefficient (electrolyte)"] == pytest.approx(
        np.median(b))


def test_missing_variables_are_left_out_and_noted():
    ds = _results().drop_vars(["tortuosity_factor", "mean_particle_diameter"])
    med = pybamm_parameters(ds)
    assert set(med) == {"Positive electrode porosity",
                        "Positive electrode active material volume fraction",
                        "Positive electrode surface area to volume ratio [m-1]"}
    notes = " ".join(export_notes(ds))
    assert "Bruggeman coefficient left out" in notes and "particle radius left out" in notes


def test_preferred_sources():
    ds = _results()
    n = ds.sizes["sample"]
    ds["specific_interfacial_area"] = (("sample", "pair"), np.tile([0.2, 0.3], (n, 1)),
                                       {"units": "1/um"})
    ds = ds.assign_coords(pair=["pore|binder", "pore|active"])
    med = pybamm_parameters(ds)
    # the active|pore interface, not the whole active boundary
    assert med["Positive electrode surface area to volume ratio [m-1]"] == pytest.approx(3e5)
    ds["specific_active_area"] = (("sample",), np.full(n, 0.25), {"units": "1/um"})
    ds["mean_particle_radius"] = (("sample",), np.full(n, 4.0), {"units": "um"})
    med = pybamm_parameters(ds)
    assert med["Positive electrode surface area to volume ratio [m-1]"] == pytest.approx(2.5e5)
    assert med["Positive particle radius [m]"] == pytest.approx(4e-6)


def test_through_axis_and_phase_errors():
    ds = _results()
    mean_b = pybamm_parameter_samples(ds, through_axis=None)[0]
    tau = np.mean([2.0, 1.5, 1.5])
    assert mean_b["Positive electrode Bruggeman coefficient (electrolyte)"] == pytest.approx(
        1 - math.log(tau) / math.log(0.25))
    with pytest.raises(UqtwinInputError, match="through_axis"):
        pybamm_parameters(ds, through_axis="w")
    with pytest.raises(UqtwinInputError, match="active phase"):
        pybamm_parameters(ds, active_phase="nmc")
    with pytest.raises(UqtwinInputError, match="electrode"):
        pybamm_parameters(ds, "middle")


def test_write_and_cli(tmp_path):
    paths = write_pybamm(_results(), tmp_path / "a")
    assert [p.name for p in paths] == ["pybamm_median.json", "pybamm_samples.json"]
    assert len(json.loads(paths[1].read_text())) == 3
    results = write_results(_results(), tmp_path / "results.nc")
    res = CliRunner().invoke(app, ["export", "pybamm", str(results), "--out",
                                   str(tmp_path / "b")])
    assert res.exit_code == 0, res.output
    med = json.loads((tmp_path / "b" / "pybamm_median.json").read_text())
    assert med["Positive particle radius [m]"] == pytest.approx(5e-6)
    res = CliRunner().invoke(app, ["export", "pybamm", str(results), "--electrode", "x"])
    assert res.exit_code == 2 and "electrode must be" in res.output


def test_names_exist_in_pybamm(monkeypatch):
    monkeypatch.setenv("PYBAMM_DISABLE_TELEMETRY", "true")  # no prompt, no network
    pybamm = pytest.importorskip("pybamm")
    known = set(pybamm.ParameterValues("Chen2020").keys())
    for name in pybamm_parameters(_results()):
        if "surface area to volume ratio" in name:
            continue  # computed from ε_am and R by PyBaMM's spherical-particle models
        assert name in known, name

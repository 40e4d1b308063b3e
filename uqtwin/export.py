"""Export of an ensemble to PyBaMM parameter sets.

:func:`pybamm_parameters` turns a results Dataset into the electrode-microstructure
parameters of PyBaMM's lithium-ion models, with PyBaMM's own parameter names and SI
units; :func:`pybamm_parameter_samples` gives one set per sample, so a cell model can be
run over the ensemble and the microstructure uncertainty followed into the voltage curve.

=======================================================  ===================================
PyBaMM parameter (``Positive`` or ``Negative``)           from
=======================================================  ===================================
``… electrode porosity``                                  ``volume_fraction`` of the pore
``… electrode active material volume fraction``           ``volume_fraction`` of the active
``… electrode Bruggeman coefficient (electrolyte)``       ``tortuosity_factor`` of the pore
                                                          phase and its porosity:
                                                          τ = ε^(1−b) ⇒ b = 1 − ln τ / ln ε
``… particle radius [m]``                                 ``mean_particle_radius``, else
                                                          ``mean_particle_diameter`` / 2
``… electrode surface area to volume ratio [m-1]``        ``specific_active_area``, else the
                                                          active–pore entry of an interface
                                                          area over ``pair``, else
                                                          ``specific_surface_area`` of the
                                                          active phase
=======================================================  ===================================

A parameter whose source variable is absent is left out (and named in
:func:`export_notes`). PyBaMM's lithium-ion models with spherical particles compute the
surface area per volume themselves as 3 ε_am / R and ignore the exported value; it is
kept for models that use it and for comparison.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from uqtwin.errors import UqtwinInputError
from uqtwin.results.conventions import (
    SAMPLE_DIM,
    is_length_unit,
    length_to_m,
    phase_names,
)

_PORE_NAMES = ("pore", "pores", "void", "electrolyte", "porosity")
_ACTIVE_HINTS = ("active", "nmc", "nca", "lfp", "lco", "lmo", "graphite", "silicon")


def to_si(values: np.ndarray | float, units: str, length_unit: str) -> np.ndarray:
    """Convert values in ``units`` (``"1"``, a length, or ``"1/<length>"``) to SI.

    ``{length}`` in ``units`` stands for ``length_unit`` (as in the results schema).
    """
    u = str(units).replace("{length}", str(length_unit)).replace(" ", "")
    v = np.asarray(values, dtype=float)
    if u in ("", "1"):
        return v
    for prefix, suffix in (("1/", ""), ("", "^-1"), ("", "-1")):
        if u.startswith(prefix) and u.endswith(suffix) and (prefix or suffix):
            inner = u[len(prefix): len(u) - len(suffix)]
            if is_length_unit(inner):
                return v / length_to_m(inner)
    return v * length_to_m(u)


def resolve_phases(ds: xr.Dataset, pore_phase: str | None = None,
                   active_phase: str | None = None) -> tuple[str, str]:
    """The names of the pore and active phases: given, or recognised by their names.

    Raises
    ------
    UqtwinInputError
        If a phase is not among the results' phases or cannot be recognised.
    """
    phases = phase_names(ds)
    lower = {p.lower(): p for p in phases}

    def pick(given: str | None, exact: Sequence[str], hints: Sequence[str], role: str) -> str:
        if given is not None:
            if given not in phases:
                raise UqtwinInputError(f"{role} phase {given!r} is not one of {phases}")
            return given
        for name in exact:
            if name in lower:
                return lower[name]
        for p in phases:
            if any(h in p.lower() for h in hints):
                return p
        raise UqtwinInputError(
            f"cannot tell which of {phases} is the {role} phase; name it explicitly"
        )

    return (pick(pore_phase, _PORE_NAMES, _PORE_NAMES, "pore"),
            pick(active_phase, ("active",), _ACTIVE_HINTS, "active"))


def _per_sample(da: xr.DataArray, **sel: Any) -> np.ndarray:
    sub = da.sel({k: v for k, v in sel.items() if k in da.dims})
    if set(sub.dims) != {SAMPLE_DIM}:
        raise UqtwinInputError(f"{da.name} has dims {list(sub.dims)} after selecting {sel}")
    return np.asarray(sub.values, dtype=float)


def _interface_area(ds: xr.Dataset, pore: str, active: str) -> xr.DataArray | None:
    """An interface-area variable with an entry for the active–pore pair, if any."""
    for name, da in ds.data_vars.items():
        if "interfac" not in str(name) or SAMPLE_DIM not in da.dims:
            continue
        for dim in da.dims:
            if dim == SAMPLE_DIM or dim not in da.coords:
                continue
            for value in da[dim].values:
                parts = {s.strip() for s in str(value).replace("|", "-").split("-")}
                if parts == {pore, active}:
                    sub = da.sel({dim: value})
                    if set(sub.dims) == {SAMPLE_DIM}:
                        return sub
    return None


def _columns(
    ds: xr.Dataset, electrode: str, pore_phase: str | None, active_phase: str | None,
    through_axis: str | None,
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Per-sample SI arrays for every exportable parameter, and notes on what is missing."""
    if electrode not in ("positive", "negative"):
        raise UqtwinInputError(f"electrode must be 'positive' or 'negative', got {electrode!r}")
    if "volume_fraction" not in ds:  # the one variable every run has
        raise UqtwinInputError("the results hold no volume_fraction: nothing to export")
    pore, active = resolve_phases(ds, pore_phase, active_phase)
    length_unit = str(ds.attrs.get("length_unit", "um"))
    dom = electrode.capitalize()
    cols: dict[str, np.ndarray] = {}
    notes: list[str] = [f"pore phase: {pore!r}; active phase: {active!r}"]

    eps = _per_sample(ds["volume_fraction"], phase=pore)
    cols[f"{dom} electrode porosity"] = eps
    cols[f"{dom} electrode active material volume fraction"] = _per_sample(
        ds["volume_fraction"], phase=active)

    if "tortuosity_factor" in ds:
        tau_da = ds["tortuosity_factor"].sel(phase=pore)
        if "axis" in tau_da.dims:
            if through_axis is None:
                tau = np.asarray(tau_da.mean("axis").values, dtype=float)
                notes.append("Bruggeman coefficient from the mean tortuosity factor over axes")
            else:
                axes = [str(a) for a in tau_da["axis"].values]
                if through_axis not in axes:
                    raise UqtwinInputError(
                        f"through_axis must be one of {axes} or None, got {through_axis!r}")
                tau = np.asarray(tau_da.sel(axis=through_axis).values, dtype=float)
                notes.append(f"Bruggeman coefficient from the tortuosity factor along "
                             f"{through_axis!r} (the through-thickness axis)")
        else:
            tau = np.asarray(tau_da.values, dtype=float)
        from uqtwin.solvers import bruggeman_exponent  # loads the solvers' kernels

        # τ = ε^(1−b), the same convention as the registered bruggeman_exponent
        b = np.asarray(bruggeman_exponent(eps, tau), dtype=float)
        if np.isnan(b).any():
            notes.append(f"{int(np.isnan(b).sum())} samples have no Bruggeman coefficient "
                         "(the pore phase does not percolate there)")
        cols[f"{dom} electrode Bruggeman coefficient (electrolyte)"] = b
    else:
        notes.append("no tortuosity_factor in the results: Bruggeman coefficient left out "
                     "(PyBaMM's default applies)")

    if "mean_particle_radius" in ds:
        r = ds["mean_particle_radius"]
        cols[f"{dom} particle radius [m]"] = to_si(
            _per_sample(r, phase=active), r.attrs.get("units", "{length}"), length_unit)
        notes.append("particle radius from mean_particle_radius")
    elif "mean_particle_diameter" in ds:
        d = ds["mean_particle_diameter"]
        d_si = to_si(_per_sample(d, phase=active), d.attrs.get("units", "{length}"),
                     length_unit)
        cols[f"{dom} particle radius [m]"] = d_si / 2.0
        notes.append("particle radius from mean_particle_diameter / 2")
    else:
        notes.append("no mean_particle_diameter in the results: particle radius left out")

    area = _interface_area(ds, pore, active)
    if "specific_active_area" in ds:
        area = ds["specific_active_area"]
        notes.append("surface area per volume from specific_active_area (active–pore)")
    elif area is not None:
        notes.append(f"surface area per volume from {area.name} ({active}–{pore} interface)")
    elif "specific_surface_area" in ds:
        area = ds["specific_surface_area"].sel(phase=active)
        notes.append("surface area per volume from specific_surface_area of the active "
                     "phase (its whole boundary, including contacts with binder)")
    if area is not None:
        a_si = to_si(_per_sample(area, phase=active), area.attrs.get("units", "1/{length}"),
                     length_unit)
        cols[f"{dom} electrode surface area to volume ratio [m-1]"] = a_si
        if np.nanmax(a_si, initial=0.0) <= 0:
            # Seen when the segmentation wraps every particle in a thin shell of binder
            # (partial-volume voxels): active and pore never touch.
            notes.append("the active–pore surface area is 0 in every sample: the active phase "
                         "never touches the pore phase in this segmentation")
    else:
        notes.append("no surface-area variable: surface area to volume ratio left out")
    return cols, notes


def pybamm_parameter_samples(
    ds: xr.Dataset, electrode: str = "positive", *, pore_phase: str | None = None,
    active_phase: str | None = None, through_axis: str | None = "z",
) -> list[dict[str, float]]:
    """One PyBaMM parameter set per sample of the ensemble.

    Parameters
    ----------
    ds : xarray.Dataset
        Results with a ``sample`` dim and at least ``volume_fraction``.
    electrode : {"positive", "negative"}
        Which electrode the microstructure is (sets the parameter-name prefix).
    pore_phase, active_phase : str, optional
        Phase names (default: recognised by name, e.g. ``pore`` and ``active``).
    through_axis : str or None
        Axis of the electrode's thickness, whose tortuosity sets the Bruggeman
        coefficient (default ``"z"``); ``None`` averages τ over the axes.

    Returns
    -------
    list of dict
        ``{PyBaMM parameter name: value in SI}`` per sample, in sample order. A value that
        is undefined for a sample (a Bruggeman coefficient where the pore phase does not
        percolate) is left out of that sample's dict.
    """
    cols, _ = _columns(ds, electrode, pore_phase, active_phase, through_axis)
    n = ds.sizes[SAMPLE_DIM]
    return [{k: float(v[i]) for k, v in cols.items() if np.isfinite(v[i])} for i in range(n)]


def pybamm_parameters(
    ds: xr.Dataset, electrode: str = "positive", *, pore_phase: str | None = None,
    active_phase: str | None = None, through_axis: str | None = "z",
) -> dict[str, float]:
    """The median PyBaMM parameter set of the ensemble (per-parameter median over samples).

    Parameters are as in :func:`pybamm_parameter_samples`; each value is the median of
    that parameter's finite per-sample values (so it need not come from one sample).

    Returns
    -------
    dict
        ``{PyBaMM parameter name: value in SI}``, e.g. ``{"Positive electrode porosity":
        0.33, "Positive particle radius [m]": 5.1e-06, ...}``. Update a
        ``pybamm.ParameterValues`` with it.
    """
    cols, _ = _columns(ds, electrode, pore_phase, active_phase, through_axis)
    out = {}
    for k, v in cols.items():
        finite = v[np.isfinite(v)]
        if finite.size:
            out[k] = float(np.median(finite))
    return out


def export_notes(
    ds: xr.Dataset, electrode: str = "positive", *, pore_phase: str | None = None,
    active_phase: str | None = None, through_axis: str | None = "z",
) -> list[str]:
    """What the export used and what it left out, one sentence each.

    The notes of the same column building as :func:`pybamm_parameters`, e.g. which
    tortuosity the Bruggeman coefficient came from, or that a parameter was left out
    because the results lack its quantity.

    Parameters
    ----------
    ds : xarray.Dataset
        A results Dataset.
    electrode : {"positive", "negative"}, optional
        As in :func:`pybamm_parameters`; default ``"positive"``.
    pore_phase, active_phase : str, optional, keyword-only
        Phase names (default: recognised by name).
    through_axis : str or None, optional, keyword-only
        Axis of the electrode's thickness (default ``"z"``); None averages τ over the axes.

    Returns
    -------
    list of str
        The notes, in the order the parameters are built.

    Raises
    ------
    UqtwinInputError
        If ``electrode`` is not valid, the results hold no ``volume_fraction``, a phase
        cannot be resolved, or ``through_axis`` is not an axis of the tortuosity.
    """
    return _columns(ds, electrode, pore_phase, active_phase, through_axis)[1]


def write_pybamm(
    ds: xr.Dataset, out_dir: str | Path, electrode: str = "positive", **kwargs: Any
) -> list[Path]:
    """Write ``pybamm_median.json`` (a dict) and ``pybamm_samples.json`` (a list of dicts).

    Parameters
    ----------
    ds : xarray.Dataset
        Results with a ``sample`` dim.
    out_dir : path
        Folder for the two files (created if needed).
    electrode : {"positive", "negative"}
        As in :func:`pybamm_parameters`.
    **kwargs
        ``pore_phase``, ``active_phase``, ``through_axis``.

    Returns
    -------
    list of pathlib.Path
        The two files written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    median = pybamm_parameters(ds, electrode, **kwargs)
    samples = pybamm_parameter_samples(ds, electrode, **kwargs)
    paths = [out / "pybamm_median.json", out / "pybamm_samples.json"]
    for path, data in zip(paths, (median, samples), strict=True):
        # JSON has no NaN/inf: undefined values are already left out of the dicts.
        path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
    return paths


"""Deterministic quantities of an already-segmented labelled volume (no sampling)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from uqtwin.errors import PhaseError
from uqtwin.microstructure import Microstructure
from uqtwin.quantities.registry import QUANTITIES, compute_quantities, get_quantity
from uqtwin.volume import spacing_of, unit_of


def microstructure_from_labels(volume: xr.DataArray) -> Microstructure:
    """A Microstructure whose phases are named after the label values of ``volume``.

    A labelled file stores arbitrary integers per phase (``0, 85, 170``); they become
    phase indices ``0, 1, 2`` named ``"0", "85", "170"``.
    """
    arr = np.asarray(volume.values)
    if arr.dtype.kind == "f":
        if not np.all(arr == np.round(arr)):
            raise PhaseError("a labelled volume must hold whole numbers (one value per phase)")
        arr = arr.astype(np.int64)
    values, indices = np.unique(arr, return_inverse=True)
    if values.size > 64:
        raise PhaseError(
            f"the volume holds {values.size} distinct values: it looks like a grey image, not "
            "a labelled (segmented) one; segment it first (uqtwin run)"
        )
    return Microstructure(indices.reshape(arr.shape).astype(np.uint8), spacing_of(volume),
                          unit_of(volume), tuple(str(int(v)) for v in values))


def measure(
    volume: xr.DataArray,
    phase: int | str,
    quantities: Sequence[str] | None = None,
    *,
    skipped: list[tuple[str, str]] | None = None,
) -> xr.Dataset:
    """Compute registered quantities on a labelled volume for one phase.

    Per-phase outputs are computed for the chosen phase only; quantities about one
    phase's geometry (pore or particle sizes) take it as their phase. Quantities that
    need phases in named roles (e.g. binder contact needs an active and a binder phase,
    which bare label values cannot name) are skipped when not asked for by name, and
    listed in ``skipped``; asked for by name, they raise.

    Parameters
    ----------
    volume : xarray.DataArray
        Labelled volume (one integer per phase) with spacing.
    phase : int or str
        Label value of the phase of interest (e.g. ``0`` for the pore of a 0/85/170 file).
    quantities : sequence of str, optional
        Names of registered quantities (default: all).
    skipped : list, optional
        Receives ``(quantity, reason)`` for each quantity left out.

    Returns
    -------
    xarray.Dataset
        Every output; variables with a ``phase`` dim are reduced to the chosen phase. With
        ``particle_size_distribution``, also the per-particle list ``particle_diameter``
        (dim ``particle``) of the chosen phase.
    """
    ms = microstructure_from_labels(volume)
    name = str(int(phase)) if str(phase).lstrip("-").isdigit() else str(phase)
    if name not in ms.phases:
        raise PhaseError(
            f"phase label {phase} is absent from the volume; its labels are {list(ms.phases)}"
        )
    explicit = bool(quantities)
    names = list(quantities) if quantities else list(QUANTITIES)
    parts = []
    for qname in names:
        quantity = get_quantity(qname)
        # A derived quantity needs its inputs; the memo on ``ms`` keeps them from being
        # computed twice when they are measured too.
        wanted = [*quantity.requires, qname]
        per_phase = any("phase" in out.dims for q in wanted for out in get_quantity(q).outputs)
        options = {q: {"phase": name} for q in wanted if "phase" in get_quantity(q).option_names()}
        try:
            part = compute_quantities(ms, wanted, phases=[name] if per_phase else None,
                                      options=options)
            parts.append(part[[out.name for out in quantity.outputs]])
        except PhaseError as exc:
            if explicit:
                raise
            if skipped is not None:
                skipped.append((qname, str(exc)))
    ds = xr.merge(parts, combine_attrs="drop_conflicts") if parts else xr.Dataset()
    for var in list(ds.data_vars):
        if "phase" in ds[var].dims:
            ds[var] = ds[var].sel(phase=name, drop=True)
    ds = ds.drop_vars([c for c in ("phase",) if c in ds.coords])
    if "particle_size_distribution" in names and "particle_size_distribution" in ds:
        from uqtwin.quantities.particle_size import particle_diameters

        d = particle_diameters(ms.mask(name), ms.spacing)
        ds["particle_diameter"] = xr.DataArray(
            d, dims=("particle",), attrs={
                "units": ms.unit, "long_name": "particle diameter",
                "description": "Equivalent-sphere diameter of each particle of the phase "
                               "(watershed of the distance map; border particles left out).",
            })
    return ds


def to_json_dict(ds: xr.Dataset) -> dict[str, Any]:
    """``{name: {"value": number or nested list, "units": str, "dims": [...]}}``.

    JSON has no infinity: a non-finite value is written as ``null`` and its name listed
    under ``"non_finite"`` with the reason recorded by the quantity, when there is one.
    """
    out: dict[str, Any] = {}
    for name, da in ds.data_vars.items():
        values = np.asarray(da.values)
        entry: dict[str, Any] = {}
        if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
            entry["non_finite"] = np.where(np.isinf(values), "inf", "nan")[
                ~np.isfinite(values)].tolist()
            values = np.where(np.isfinite(values), values, np.nan).astype(object)
            values[values != values] = None  # NaN -> null
        value = values.tolist() if values.ndim else values.item()
        entry = {"value": value, "units": da.attrs.get("units", ""), "dims": list(da.dims),
                 **entry}
        if da.dims:
            entry["coords"] = {d: [str(v) for v in da[d].values] for d in da.dims
                               if d in da.coords}
        out[str(name)] = entry
    return out

"""Deterministic quantities of an already-segmented labelled volume (no sampling).

What ``uqtwin measure`` prints, as data: :func:`measure_phase` measures one phase of a
labelled file whose label values name the phases; :func:`measure_labels` measures every
phase of phase-index labels with named phases (the public :func:`uqtwin.measure`). Both
return the quantities and, separately, the quantities they left out and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from uqtwin.errors import PhaseError
from uqtwin.microstructure import Microstructure
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


class Measurement(NamedTuple):
    """The measured quantities and what was left out.

    ``skipped`` maps each quantity not computed to the reason (it needs phases in roles
    the phase names do not give, e.g. binder contact without a phase named binder).
    """

    quantities: xr.Dataset
    skipped: dict[str, str]


def measure_microstructure(
    ms: Microstructure,
    quantities: Sequence[str] | None = None,
    *,
    phase: str | None = None,
) -> Measurement:
    """Compute registered quantities on one microstructure, each with its inputs.

    Parameters
    ----------
    ms : Microstructure
        The labelled volume.
    quantities : sequence of str, optional
        Names of registered quantities (default: all). Asked for by name, a quantity
        whose phases are missing raises; by default it is skipped.
    phase : str, optional
        Measure only this phase: per-phase outputs are reduced to it (no ``phase`` dim)
        and quantities about one phase's geometry take it as their phase.

    Returns
    -------
    Measurement
    """
    from uqtwin.quantities.registry import QUANTITIES, compute_quantities, get_quantity

    explicit = bool(quantities)
    names = list(quantities) if quantities else list(QUANTITIES)
    parts = []
    skipped: dict[str, str] = {}
    for qname in names:
        quantity = get_quantity(qname)
        # A derived quantity needs its inputs; the cache on ``ms`` keeps them from being
        # computed twice when they are measured too.
        wanted = [*quantity.requires, qname]
        per_phase = any("phase" in out.dims for q in wanted for out in get_quantity(q).outputs)
        options = ({q: {"phase": phase} for q in wanted
                    if "phase" in get_quantity(q).option_names()} if phase is not None else {})
        try:
            part = compute_quantities(
                ms, wanted, phases=[phase] if per_phase and phase is not None else None,
                options=options)
            parts.append(part[[out.name for out in quantity.outputs]])
        except PhaseError as exc:
            if explicit:
                raise
            skipped[qname] = str(exc)
    ds = xr.merge(parts, combine_attrs="drop_conflicts") if parts else xr.Dataset()
    if phase is not None:
        for var in list(ds.data_vars):
            if "phase" in ds[var].dims:
                ds[var] = ds[var].sel(phase=phase, drop=True)
        ds = ds.drop_vars([c for c in ("phase",) if c in ds.coords])
    return Measurement(ds, skipped)


def measure_phase(
    volume: xr.DataArray,
    phase: int | str,
    quantities: Sequence[str] | None = None,
) -> Measurement:
    """Compute registered quantities on a labelled volume for one phase (``uqtwin measure``).

    Per-phase outputs are computed for the chosen phase only; quantities about one
    phase's geometry (pore or particle sizes) take it as their phase. Quantities that
    need phases in named roles (e.g. binder contact needs an active and a binder phase,
    which bare label values cannot name) are skipped when not asked for by name; asked
    for by name, they raise.

    Parameters
    ----------
    volume : xarray.DataArray
        Labelled volume (one integer per phase) with spacing.
    phase : int or str
        Label value of the phase of interest (e.g. ``0`` for the pore of a 0/85/170 file).
    quantities : sequence of str, optional
        Names of registered quantities (default: all).

    Returns
    -------
    Measurement
        ``quantities``: every output; variables with a ``phase`` dim are reduced to the
        chosen phase. With ``particle_size_distribution``, also the per-particle list
        ``particle_diameter`` (dim ``particle``) of the chosen phase. ``skipped``: the
        quantities left out, with the reason.
    """
    ms = microstructure_from_labels(volume)
    name = str(int(phase)) if str(phase).lstrip("-").isdigit() else str(phase)
    if name not in ms.phases:
        raise PhaseError(
            f"phase label {phase} is absent from the volume; its labels are {list(ms.phases)}"
        )
    ds, skipped = measure_microstructure(ms, quantities, phase=name)
    names = list(quantities) if quantities else None
    if (names is None or "particle_size_distribution" in names) and \
            "particle_size_distribution" in ds:
        from uqtwin.morphology.particles import particle_diameters

        # The watershed the particle sizes just ran, from the sample's cache.
        d = particle_diameters(ms.mask(name), ms.spacing,
                               particles=ms.cache.particles(ms.phase_index(name)))
        ds["particle_diameter"] = xr.DataArray(
            d, dims=("particle",), attrs={
                "units": ms.unit, "long_name": "particle diameter",
                "description": "Equivalent-sphere diameter of each particle of the phase "
                               "(watershed of the distance map; border particles left out).",
            })
    return Measurement(ds, skipped)


def measure_labels(
    labels: Any,
    phases: Sequence[str],
    *,
    spacing: float | Sequence[float] | None = None,
    unit: str | None = None,
    quantities: Sequence[str] | None = None,
    materials: Mapping[str, str] | None = None,
    phase: int | str | None = None,
) -> Measurement:
    """Compute registered quantities of a phase-index labelled volume (every phase or one).

    Parameters
    ----------
    labels : array-like of int or xarray.DataArray, shape (nz, ny, nx)
        Phase index per voxel, ``0 .. len(phases) - 1``; a DataArray brings its spacing
        and unit (``attrs``) unless they are given.
    phases : sequence of str
        Phase names, one per index (names such as ``pore``, ``binder``, ``active`` give the
        quantities that need phases in roles their phases).
    spacing : float or 3 floats, optional
        Voxel spacing (z, y, x); required for an ndarray.
    unit : str, optional
        Length unit of the spacing (default ``"um"``).
    quantities : sequence of str, optional
        Names of registered quantities (default: all that the phases allow).
    materials : mapping, optional
        Material card per phase name (as ``[phases] materials``), for quantities that need
        material properties (conductivities).
    phase : int or str, optional
        Measure only this phase (its name or index): per-phase outputs are reduced to it.
        Default: every phase, along a ``phase`` dim.

    Returns
    -------
    Measurement
    """
    from uqtwin.materials import load_material
    from uqtwin.volume import check_spacing, normalize_unit

    if isinstance(labels, xr.DataArray):
        arr = np.asarray(labels.values)
        if spacing is None and "spacing" in labels.attrs:
            spacing = spacing_of(labels)
        if unit is None and "unit" in labels.attrs:
            unit = unit_of(labels)
    else:
        arr = np.asarray(labels)
    if spacing is None:
        raise PhaseError("give the voxel spacing (spacing=...) of the labelled volume")
    names = tuple(str(p) for p in phases)
    if arr.ndim != 3:
        raise PhaseError(f"labels must be 3-D (z, y, x), got shape {arr.shape}")
    if arr.dtype.kind not in "iub":
        raise PhaseError(f"labels must be integers (phase indices), got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= len(names)):
        raise PhaseError(f"labels must lie in 0 .. {len(names) - 1} (one per phase of "
                         f"{list(names)}), got {int(arr.min())} .. {int(arr.max())}")
    space = check_spacing(spacing)
    cards = {p: load_material(card) for p, card in (materials or {}).items()}
    ms = Microstructure(arr.astype(np.uint8), space, normalize_unit(unit or "um"), names,
                        cards)
    chosen = None if phase is None else ms.phases[ms.phase_index(phase)]
    return measure_microstructure(ms, quantities, phase=chosen)


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

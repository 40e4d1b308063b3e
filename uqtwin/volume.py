"""A volume is an ``xarray.DataArray`` with dims ``(z, y, x)`` and physical coordinates.

The voxel spacing (per axis, it may differ: FIB-SEM voxels are often 10 x 10 x 20 nm)
and its length unit travel with the array in ``attrs["spacing"]`` and ``attrs["unit"]``;
the coordinates hold the voxel centres in that unit. Every stage of the pipeline takes
and returns such arrays, so the spacing is never lost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from uqtwin.errors import VolumeError

DIMS = ("z", "y", "x")

#: Accepted spellings of length units, mapped to the canonical symbol used in outputs.
_UNIT_ALIASES = {
    "um": "um", "µm": "um", "μm": "um", "micron": "um", "microns": "um", "micrometer": "um",
    "micrometre": "um",
    "nm": "nm", "nanometer": "nm", "nanometre": "nm",
    "mm": "mm", "millimeter": "mm", "millimetre": "mm",
    "cm": "cm", "centimeter": "cm", "centimetre": "cm",
    "m": "m", "meter": "m", "metre": "m",
    "voxel": "voxel", "px": "voxel", "": "voxel",
}

#: Metres per canonical length unit: the one table of length units (the results'
#: conventions and the export read it too).
METRES_PER_UNIT = {"um": 1e-6, "nm": 1e-9, "mm": 1e-3, "cm": 1e-2, "m": 1.0}


def normalize_unit(unit: str) -> str:
    """Canonical length-unit symbol: ``"um"``, ``"nm"``, ``"mm"``, ``"cm"``, ``"m"`` or ``"voxel"``.

    Parameters
    ----------
    unit : str
        A unit name or symbol, e.g. ``"µm"``, ``"micron"``, ``"nanometre"``, ``"px"``;
        surrounding spaces and case are ignored (an exact match is tried first). An empty
        string means ``"voxel"`` (no physical size).

    Returns
    -------
    str
        The canonical symbol.

    Raises
    ------
    VolumeError
        If the unit is not known.

    Examples
    --------
    >>> from uqtwin.volume import normalize_unit
    >>> normalize_unit("µm"), normalize_unit(" Micron "), normalize_unit("px")
    ('um', 'um', 'voxel')
    """
    key = str(unit).strip()
    canon = _UNIT_ALIASES.get(key, _UNIT_ALIASES.get(key.lower()))
    if canon is None:
        raise VolumeError(
            f"unknown length unit {unit!r}; use one of um, nm, mm, cm, m (or voxel)"
        )
    return canon


def unit_scale(from_unit: str, to_unit: str) -> float:
    """Factor that converts a length in ``from_unit`` to ``to_unit``.

    Parameters
    ----------
    from_unit, to_unit : str
        Length units (any spelling :func:`normalize_unit` accepts).

    Returns
    -------
    float
        Multiply a length in ``from_unit`` by this to get it in ``to_unit``; 1.0 for the
        same unit (including ``voxel`` to ``voxel``).

    Raises
    ------
    VolumeError
        If a unit is unknown, or one but not both is ``voxel`` (no physical size).

    Examples
    --------
    >>> from uqtwin.volume import unit_scale
    >>> unit_scale("m", "mm"), unit_scale("voxel", "px")
    (1000.0, 1.0)
    """
    a, b = normalize_unit(from_unit), normalize_unit(to_unit)
    if a == b:
        return 1.0
    if "voxel" in (a, b):
        raise VolumeError(f"cannot convert between {a!r} and {b!r}: a voxel has no physical size")
    return METRES_PER_UNIT[a] / METRES_PER_UNIT[b]


def check_spacing(spacing: Sequence[float] | float, ndim: int = 3) -> tuple[float, ...]:
    """Validate a voxel spacing: ``ndim`` finite positive numbers (a scalar is broadcast).

    Parameters
    ----------
    spacing : float or sequence of float
        One voxel size for all axes, or one per axis (z, y, x), in length units.
    ndim : int, optional
        Number of axes; default 3.

    Returns
    -------
    tuple of float
        ``ndim`` voxel sizes.

    Raises
    ------
    VolumeError
        If there are neither 1 nor ``ndim`` values, or any is not finite and > 0.

    Examples
    --------
    >>> from uqtwin.volume import check_spacing
    >>> check_spacing(0.5), check_spacing([1, 0.5, 0.5])
    ((0.5, 0.5, 0.5), (1.0, 0.5, 0.5))
    """
    arr = np.atleast_1d(np.asarray(spacing, dtype=float))
    if arr.size == 1:
        arr = np.repeat(arr, ndim)
    if arr.shape != (ndim,):
        raise VolumeError(f"spacing must have {ndim} values (z, y, x), got {list(arr)}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise VolumeError(f"spacing must be finite and > 0 along every axis, got {list(arr)}")
    return tuple(float(v) for v in arr)


def check_array(array: Any, *, name: str = "volume") -> np.ndarray:
    """Return ``array`` as a 3-D numpy array, or raise a :class:`VolumeError` naming the problem.

    Parameters
    ----------
    array : array_like
        The volume (z, y, x).
    name : str, optional, keyword-only
        What it is, for the messages; default ``"volume"``.

    Returns
    -------
    ndarray
        ``np.asarray(array)`` (not copied if already an array).

    Raises
    ------
    VolumeError
        If it is not 3-D, is empty, is not numeric (bool, int, uint or float), or holds NaN
        or infinite values (the message gives the count and the first position).
    """
    arr = np.asarray(array)
    if arr.ndim != 3:
        raise VolumeError(
            f"{name} must be 3-D (z, y, x), got {arr.ndim}-D array of shape {arr.shape}"
        )
    if arr.size == 0 or min(arr.shape) < 1:
        raise VolumeError(f"{name} is empty (shape {arr.shape})")
    if arr.dtype.kind not in "biuf":
        raise VolumeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise VolumeError(
                f"{name} contains {int(bad.sum())} NaN or infinite value(s), first at "
                f"(z, y, x) = {idx}"
            )
    return arr


def make_volume(
    array: Any,
    spacing: Sequence[float] | float = 1.0,
    unit: str = "um",
    *,
    name: str = "grey",
    attrs: Mapping[str, Any] | None = None,
) -> xr.DataArray:
    """Wrap a 3-D array as a volume with voxel spacing and physical coordinates.

    Parameters
    ----------
    array : array_like, shape (nz, ny, nx)
        Grey values or labels. NaN or infinite values are rejected.
    spacing : float or sequence of 3 floats
        Voxel size along (z, y, x) in ``unit``.
    unit : str
        Length unit of ``spacing`` (``"um"``, ``"nm"``, ``"mm"``, ``"m"`` or ``"voxel"``).
    name : str
        Name of the DataArray.
    attrs : mapping, optional
        Extra attributes (provenance), kept on the result.

    Returns
    -------
    xarray.DataArray
        Dims ``("z", "y", "x")``; coords are voxel centres in ``unit``; ``attrs`` hold
        ``spacing`` (tuple) and ``unit``.
    """
    arr = check_array(array, name=name)
    sp = check_spacing(spacing)
    u = normalize_unit(unit)
    coords = {
        d: xr.Variable(d, (np.arange(n) + 0.5) * s, {"units": u})
        for d, n, s in zip(DIMS, arr.shape, sp, strict=True)
    }
    all_attrs = dict(attrs or {})
    all_attrs.update(spacing=sp, unit=u)
    return xr.DataArray(arr, dims=DIMS, coords=coords, name=name, attrs=all_attrs)


def spacing_of(volume: xr.DataArray) -> tuple[float, float, float]:
    """Voxel spacing (z, y, x) of a volume made by :func:`make_volume`.

    Parameters
    ----------
    volume : xarray.DataArray
        A volume with a ``spacing`` attribute.

    Returns
    -------
    tuple of 3 floats
        The voxel sizes, in the volume's length unit (:func:`unit_of`).

    Raises
    ------
    VolumeError
        If there is no ``spacing`` attribute, or it is not valid (:func:`check_spacing`).
    """
    try:
        return check_spacing(volume.attrs["spacing"])  # type: ignore[return-value]
    except KeyError:
        raise VolumeError("volume has no 'spacing' attribute; build it with make_volume") from None


def unit_of(volume: xr.DataArray) -> str:
    """Length unit of a volume's spacing.

    Parameters
    ----------
    volume : xarray.DataArray
        A volume (:func:`make_volume`).

    Returns
    -------
    str
        The canonical unit of its ``unit`` attribute, ``"voxel"`` when it has none.

    Raises
    ------
    VolumeError
        If the attribute is not a known unit.
    """
    return normalize_unit(volume.attrs.get("unit", "voxel"))

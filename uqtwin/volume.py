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
    "m": "m", "meter": "m", "metre": "m",
    "voxel": "voxel", "px": "voxel", "": "voxel",
}

#: Metres per unit, for converting between length units.
_METRES = {"um": 1e-6, "nm": 1e-9, "mm": 1e-3, "m": 1.0}


def normalize_unit(unit: str) -> str:
    """Canonical length-unit symbol: ``"um"``, ``"nm"``, ``"mm"``, ``"m"`` or ``"voxel"``."""
    key = str(unit).strip()
    canon = _UNIT_ALIASES.get(key, _UNIT_ALIASES.get(key.lower()))
    if canon is None:
        raise VolumeError(
            f"unknown length unit {unit!r}; use one of um, nm, mm, m (or voxel)"
        )
    return canon


def unit_scale(from_unit: str, to_unit: str) -> float:
    """Factor that converts a length in ``from_unit`` to ``to_unit``."""
    a, b = normalize_unit(from_unit), normalize_unit(to_unit)
    if a == b:
        return 1.0
    if "voxel" in (a, b):
        raise VolumeError(f"cannot convert between {a!r} and {b!r}: a voxel has no physical size")
    return _METRES[a] / _METRES[b]


def check_spacing(spacing: Sequence[float] | float, ndim: int = 3) -> tuple[float, ...]:
    """Validate a voxel spacing: ``ndim`` finite positive numbers (a scalar is broadcast)."""
    arr = np.atleast_1d(np.asarray(spacing, dtype=float))
    if arr.size == 1:
        arr = np.repeat(arr, ndim)
    if arr.shape != (ndim,):
        raise VolumeError(f"spacing must have {ndim} values (z, y, x), got {list(arr)}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise VolumeError(f"spacing must be finite and > 0 along every axis, got {list(arr)}")
    return tuple(float(v) for v in arr)


def check_array(array: Any, *, name: str = "volume") -> np.ndarray:
    """Return ``array`` as a 3-D numpy array, or raise a :class:`VolumeError` naming the problem."""
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
    """Voxel spacing (z, y, x) of a volume made by :func:`make_volume`."""
    try:
        return check_spacing(volume.attrs["spacing"])  # type: ignore[return-value]
    except KeyError:
        raise VolumeError("volume has no 'spacing' attribute; build it with make_volume") from None


def unit_of(volume: xr.DataArray) -> str:
    """Length unit of a volume's spacing."""
    return normalize_unit(volume.attrs.get("unit", "voxel"))

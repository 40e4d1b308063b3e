"""Argument checks shared by the generators; each raises a :class:`VolumeError` naming the
argument, so a bad call fails before any work is done."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from uqtwin.errors import VolumeError
from uqtwin.volume import check_array


def per_axis(value: float | Sequence[float], name: str) -> np.ndarray:
    """One or three finite values >= 0 as a length-3 array.

    Parameters
    ----------
    value : float or sequence of 3 floats
        One value for all axes, or one per axis (z, y, x).
    name : str
        The argument's name, for the error message.

    Returns
    -------
    ndarray of float, shape (3,)
        The value per axis.

    Raises
    ------
    VolumeError
        If there are neither 1 nor 3 values, or any is negative or not finite.

    Examples
    --------
    >>> from uqtwin.phantoms._checks import per_axis
    >>> per_axis(2, "sigma")
    array([2., 2., 2.])
    """
    arr = np.atleast_1d(np.asarray(value, dtype=float))
    if arr.size == 1:
        arr = np.repeat(arr, 3)
    if arr.shape != (3,) or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise VolumeError(f"{name} must be one or three finite values >= 0, got {value!r}")
    return arr


def check_shape(shape: Sequence[int]) -> tuple[int, int, int]:
    """Three positive integers.

    Parameters
    ----------
    shape : sequence of 3 ints
        A volume shape (z, y, x), voxels; entries are converted with ``int``.

    Returns
    -------
    tuple of 3 ints
        The shape.

    Raises
    ------
    VolumeError
        If ``shape`` is not three integers >= 1.
    """
    try:
        shp = tuple(int(n) for n in shape)
    except (TypeError, ValueError):
        raise VolumeError(f"shape must be three positive integers, got {shape!r}") from None
    if len(shp) != 3 or min(shp) < 1:
        raise VolumeError(f"shape must be three positive integers, got {shape!r}")
    return shp  # type: ignore[return-value]


def check_open_unit(value: float, name: str, *, closed_right: bool = False) -> float:
    """A number in (0, 1), or (0, 1] with ``closed_right``.

    Parameters
    ----------
    value : float
        The value (e.g. a volume fraction).
    name : str
        The argument's name, for the error message.
    closed_right : bool, optional, keyword-only
        Also accept 1; default False.

    Returns
    -------
    float
        ``value`` as a float.

    Raises
    ------
    VolumeError
        If ``value`` is outside the interval (or NaN).
    """
    v = float(value)
    ok = 0.0 < v <= 1.0 if closed_right else 0.0 < v < 1.0
    if not ok:
        interval = "(0, 1]" if closed_right else "(0, 1)"
        raise VolumeError(f"{name} must be in {interval}, got {value!r}")
    return v


def check_radius(radius: Sequence[float]) -> tuple[float, float]:
    """A (min, max) pair with 0 < min <= max.

    Parameters
    ----------
    radius : sequence of 2 floats
        The range of radii, voxels.

    Returns
    -------
    tuple of 2 floats
        ``(min, max)``.

    Raises
    ------
    VolumeError
        If ``radius`` is not two numbers with 0 < min <= max < inf.
    """
    try:
        r0, r1 = (float(r) for r in radius)
    except (TypeError, ValueError):
        raise VolumeError(f"radius must be (min, max), got {radius!r}") from None
    if not 0 < r0 <= r1 < np.inf:
        raise VolumeError(f"radius must be (min, max) with 0 < min <= max, got {radius!r}")
    return r0, r1


def as_particles(active: Any) -> np.ndarray:
    """A boolean mask or an integer array of particle ids, checked to be 3-D and non-empty.

    Floats are refused rather than thresholded: a grey volume passed by mistake would
    otherwise become a mask without complaint.
    """
    arr = check_array(active, name="active")
    if arr.dtype.kind not in "biu":
        raise VolumeError(
            f"active must be a boolean mask or integer particle ids, got dtype {arr.dtype}"
        )
    if arr.dtype.kind == "i" and arr.min() < 0:
        raise VolumeError("active particle ids must be >= 0 (0 is outside the particles)")
    if not arr.any():
        raise VolumeError("active holds no particle voxel")
    if arr.all():
        raise VolumeError("active fills the whole volume: there is no pore to put binder in")
    return arr

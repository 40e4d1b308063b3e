"""Headerless binary volumes (``.raw``, ``.bin``, ``.vol``): the caller gives the layout.

The file must be exactly ``offset + nz*ny*nx*itemsize`` bytes: a shorter file is
truncated, and a longer one means the shape, dtype or offset is wrong (a trailing footer
or a wrong guess would silently shift every slice), so both are errors naming the sizes.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from uqtwin.io._common import FileMeta, fail
from uqtwin.io.lazy import MemmapSource

BYTE_ORDERS = {"little": "<", "big": ">"}


def _layout(path: Path, shape: Any, dtype: Any, byte_order: str,
            offset: int) -> tuple[tuple[int, int, int], np.dtype]:
    if shape is None or dtype is None:
        missing = " and ".join(n for n, v in (("shape", shape), ("dtype", dtype)) if v is None)
        raise fail(path, f"raw data needs {missing}: pass shape=(nz, ny, nx) and dtype= "
                         "(e.g. 'uint16') to read_volume")
    try:
        shp = tuple(int(n) for n in shape)
    except (TypeError, ValueError):
        raise fail(path, f"raw shape must be 3 integers (nz, ny, nx), got {shape!r}") from None
    if len(shp) != 3 or min(shp) < 1:
        raise fail(path, f"raw shape must be 3 positive integers (nz, ny, nx), got {shape!r}")
    if byte_order not in BYTE_ORDERS:
        raise fail(path, f"byte_order must be 'little' or 'big', got {byte_order!r}")
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise fail(path, f"unknown dtype {dtype!r}") from None
    if dt.kind not in "biuf":
        raise fail(path, f"raw dtype must be a number type, got {dt}")
    order = BYTE_ORDERS[byte_order]
    explicit = {"=": "<" if sys.byteorder == "little" else ">", "<": "<", ">": ">"}
    # A dtype like ">u2" names its own byte order; refuse to guess which of the two is meant.
    if isinstance(dtype, str) and dtype[:1] in "<>" and explicit[dtype[0]] != order:
        raise fail(path, f"dtype {dtype!r} contradicts byte_order={byte_order!r}")
    if not isinstance(offset, (int, np.integer)) or offset < 0:
        raise fail(path, f"offset must be a non-negative number of bytes, got {offset!r}")
    return shp, dt.newbyteorder(order)  # type: ignore[return-value]


def checked_layout(path: Path, shape: Sequence[int] | None, dtype: Any,
                   byte_order: str = "little",
                   offset: int = 0) -> tuple[tuple[int, int, int], np.dtype]:
    """The shape and stored dtype of a raw file, checked against the file's size.

    Parameters
    ----------
    path : Path
    shape, dtype, byte_order, offset
        As for :func:`read_raw`.

    Returns
    -------
    shape : tuple of 3 ints
    dtype : numpy dtype
        In the file's byte order.

    Raises
    ------
    VolumeError
        Missing shape or dtype, a bad layout, or a file shorter (truncated) or longer than
        ``offset + nz*ny*nx*itemsize`` bytes.
    """
    shp, dt = _layout(path, shape, dtype, byte_order, offset)
    expected = offset + int(np.prod(shp)) * dt.itemsize
    actual = path.stat().st_size
    if actual != expected:
        what = "truncated" if actual < expected else "larger than expected"
        raise fail(path, f"raw file is {what}: shape {shp} of {dt.name} with offset {offset} "
                         f"needs {expected} bytes, the file has {actual} bytes")
    return shp, dt


def open_raw(path: Path, shape: Sequence[int] | None, dtype: Any, byte_order: str = "little",
             offset: int = 0) -> tuple[MemmapSource, FileMeta]:
    """Open a raw volume lazily: the layout is checked now, the voxels read per chunk.

    Parameters
    ----------
    path, shape, dtype, byte_order, offset
        As for :func:`read_raw`.

    Returns
    -------
    source : MemmapSource
        For :func:`uqtwin.io.lazy.lazy_array`.
    meta : FileMeta
        Always empty: raw files store no spacing.
    """
    shp, dt = checked_layout(path, shape, dtype, byte_order, offset)
    return MemmapSource(path, shp, dt, offset), FileMeta(notes=["raw files store no spacing"])


def read_raw(path: Path, shape: Sequence[int] | None, dtype: Any, byte_order: str = "little",
             offset: int = 0) -> tuple[np.ndarray, FileMeta]:
    """Read a headerless binary volume stored in C order (x fastest).

    Parameters
    ----------
    path : Path
    shape : sequence of 3 ints
        (nz, ny, nx).
    dtype : numpy dtype or str
        Element type, e.g. ``"uint16"`` or ``np.float32``.
    byte_order : {"little", "big"}
    offset : int
        Header bytes to skip before the data.

    Returns
    -------
    array : numpy.ndarray, shape (nz, ny, nx), native byte order
    meta : FileMeta
        Always empty: raw files store no spacing.
    """
    shp, dt = checked_layout(path, shape, dtype, byte_order, offset)
    try:
        arr = np.fromfile(path, dtype=dt, count=int(np.prod(shp)), offset=offset)
    except MemoryError:
        raise
    except Exception as exc:
        raise fail(path, f"cannot read raw data ({type(exc).__name__}: {exc})") from None
    return arr.reshape(shp), FileMeta(notes=["raw files store no spacing"])


def write_raw(arr: np.ndarray, path: Path, byte_order: str = "little") -> None:
    """Write a (z, y, x) array as headerless binary in C order; spacing is not stored.

    Parameters
    ----------
    arr : numpy.ndarray, shape (nz, ny, nx)
    path : Path
    byte_order : {"little", "big"}
    """
    if byte_order not in BYTE_ORDERS:
        raise fail(path, f"byte_order must be 'little' or 'big', got {byte_order!r}")
    np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder(BYTE_ORDERS[byte_order])).tofile(path)

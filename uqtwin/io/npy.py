"""NumPy ``.npy`` volumes.

A ``.npy`` file has no place for metadata, so the spacing must be passed to
:func:`~uqtwin.io.read_volume` (else it is unknown, with a warning), and
:func:`write_npy` loses it. Pickled object arrays are refused: loading them runs code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from uqtwin.io._common import FileMeta, fail, squeeze_to_3d
from uqtwin.io.lazy import MemmapSource


def read_npy(path: Path) -> tuple[np.ndarray, FileMeta]:
    """Read a ``.npy`` file as a (z, y, x) array.

    Parameters
    ----------
    path : Path

    Returns
    -------
    array : numpy.ndarray, shape (nz, ny, nx)
    meta : FileMeta
        Always empty: ``.npy`` stores no spacing.
    """
    try:
        arr = np.load(path, allow_pickle=False)
    except MemoryError:
        raise
    except Exception as exc:
        raise fail(path, f"cannot read .npy, the file is truncated, corrupted or not a .npy "
                         f"array ({type(exc).__name__}: {exc})") from None
    if not isinstance(arr, np.ndarray):
        raise fail(path, "is an .npz archive, not a single .npy array")
    return squeeze_to_3d(arr, path), FileMeta(notes=[".npy files store no spacing"])


def open_npy(path: Path) -> tuple[MemmapSource, FileMeta]:
    """Open a ``.npy`` file lazily: the header is checked now, the voxels read per chunk.

    Parameters
    ----------
    path : Path

    Returns
    -------
    source : MemmapSource
        For :func:`uqtwin.io.lazy.lazy_array`; length-1 axes beyond 3 are refused (a
        lazy read does not reshape).
    meta : FileMeta
        Always empty: ``.npy`` stores no spacing.
    """
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read_header(fh)
            offset = fh.tell()
    except Exception as exc:
        raise fail(path, f"cannot read .npy, the file is truncated, corrupted or not a .npy "
                         f"array ({type(exc).__name__}: {exc})") from None
    if dtype.hasobject:
        raise fail(path, "holds Python objects (pickled), not numbers")
    expected = offset + int(np.prod(shape)) * dtype.itemsize
    actual = path.stat().st_size
    if actual < expected:
        raise fail(path, f".npy file is truncated: its header announces shape {shape} of "
                         f"{dtype.name}, {expected} bytes, the file has {actual} bytes")
    if len(shape) > 3:
        # Length-1 axes do not change the byte layout: map the file with them dropped.
        squeezed = tuple(n for n in shape if n != 1)
        shape = squeezed if len(squeezed) == 3 else shape
    if len(shape) != 3:
        raise fail(path, f"array is {len(shape)}-D with shape {shape}; a volume must be 3-D "
                         "(z, y, x)")
    return (MemmapSource(path, shape, dtype, offset, "F" if fortran else "C"),
            FileMeta(notes=[".npy files store no spacing"]))


def write_npy(arr: np.ndarray, path: Path) -> None:
    """Write a (z, y, x) array as ``.npy``; the voxel spacing is not stored.

    Parameters
    ----------
    arr : numpy.ndarray, shape (nz, ny, nx)
    path : Path
    """
    with open(path, "wb") as fh:
        # np.save(path) would append ".npy" to other suffixes; a file handle keeps the name.
        np.save(fh, arr, allow_pickle=False)

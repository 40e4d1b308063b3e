"""NumPy ``.npy`` volumes.

A ``.npy`` file has no place for metadata, so the spacing must be passed to
:func:`~uqtwin.io.read_volume` (else it is unknown, with a warning), and
:func:`write_npy` loses it. Pickled object arrays are refused: loading them runs code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from uqtwin.io._common import FileMeta, fail, squeeze_to_3d


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

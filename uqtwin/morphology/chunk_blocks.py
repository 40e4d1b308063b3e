"""Blocks of a volume read one at a time: validated chunk shapes and the mask of a block.

Shared by the chunk-by-chunk clusters (:mod:`~uqtwin.morphology.chunked_components`) and
local thickness (:mod:`~uqtwin.morphology.chunked_thickness`). The volume is anything that
can be sliced and whose slices convert to arrays (numpy, a memory map, Zarr, HDF5, dask).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from uqtwin.errors import VolumeError


def check_chunk(shape: Sequence[int], chunk: int | Sequence[int]) -> tuple[int, int, int]:
    """The chunk shape (voxels per axis) of a 3-D volume, or a :class:`VolumeError`.

    Parameters
    ----------
    shape : sequence of int
        Volume shape; must be 3-D and non-empty.
    chunk : int or sequence of 3 ints
        Chunk side(s), voxels, each >= 1 (a chunk larger than the volume is clipped).

    Returns
    -------
    tuple of 3 ints

    Examples
    --------
    >>> check_chunk((10, 20, 30), 8), check_chunk((10, 20, 30), (4, 5, 6))
    ((8, 8, 8), (4, 5, 6))
    >>> check_chunk((10, 20, 30), 0)
    Traceback (most recent call last):
    ...
    uqtwin.errors.VolumeError: chunk must be one int or 3 ints, each >= 1 voxel, got 0
    """
    if len(shape) != 3 or min(shape) < 1:
        raise VolumeError(f"volume must be 3-D (z, y, x) and non-empty, got shape {tuple(shape)}")
    sides = (chunk,) * 3 if np.ndim(chunk) == 0 else tuple(chunk)
    ok = len(sides) == 3 and all(
        isinstance(c, (int, np.integer)) and not isinstance(c, bool) and c >= 1 for c in sides
    )
    if not ok:
        raise VolumeError(f"chunk must be one int or 3 ints, each >= 1 voxel, got {chunk!r}")
    return tuple(int(c) for c in sides)  # type: ignore[return-value]


def read_block(volume: Any, lo: Sequence[int], hi: Sequence[int]) -> np.ndarray:
    """The block ``[lo, hi)`` of a sliceable volume, as a numpy array.

    Parameters
    ----------
    volume : array-like, shape (nz, ny, nx)
        Anything sliceable whose slices convert to arrays.
    lo, hi : sequence of 3 ints
        Block corners, voxels (``hi`` excluded).

    Returns
    -------
    ndarray, shape ``hi - lo``

    Examples
    --------
    >>> read_block(np.arange(8).reshape(2, 2, 2), (1, 0, 1), (2, 2, 2)).tolist()
    [[[5], [7]]]
    """
    return np.asarray(volume[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]])


def read_mask(volume: Any, lo: Sequence[int], hi: Sequence[int],
              phase: int | None = None) -> np.ndarray:
    """The boolean mask of the block ``[lo, hi)`` of a volume.

    Parameters
    ----------
    volume : array-like, shape (nz, ny, nx)
        A mask (any dtype, nonzero is True), or labels when ``phase`` is given.
    lo, hi : sequence of 3 ints
        Block corners, voxels (``hi`` excluded).
    phase : int, optional
        Label of the phase: the mask is ``block == phase``.

    Returns
    -------
    ndarray of bool, shape ``hi - lo``

    Examples
    --------
    >>> lab = np.arange(24).reshape(2, 3, 4) % 3
    >>> read_mask(lab, (0, 1, 1), (1, 3, 3), phase=0).astype(int).tolist()
    [[[0, 1], [1, 0]]]
    """
    block = read_block(volume, lo, hi)
    if phase is None:
        return block.astype(bool, copy=False)
    return block == phase

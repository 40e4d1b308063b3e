"""Clusters of a phase too large for memory: labelled chunk by chunk, merged by union–find.

Each chunk is labelled on its own (:func:`scipy.ndimage.label`, the project's dual
connectivity: :mod:`~uqtwin.morphology.components`), its clusters get global ids, and the
clusters that meet across a chunk boundary are merged in a union–find forest over those
ids (:func:`~uqtwin.morphology.unionfind.find`). Chunks are visited in z, y, x order, so
every neighbour across a boundary that is already labelled lies in the one-voxel planes
just below the chunk's low faces: the global ids of the last z plane of the previous slab
of chunks (reaching one voxel past the chunk in y and x, for the edge and corner
neighbours in chunks ahead along those axes), the last y plane of the previous row
(one voxel past in x) and the last x plane of the previous chunk are kept, and each voxel
of those planes is joined with its 6 (face), 18 or 26 (face, edge and corner) neighbours
in the chunk. A cluster inside one chunk is complete there: its voxels are added at once
to a table of 64 counts, one per set of box faces touched. A cluster cut by a chunk face
gets a global id; its voxel count and the box faces it touches are added up per id and
folded onto the roots (and into the table) at the end.

The result is exact: the same clusters as labelling the whole volume. Memory: one chunk
(its mask, local labels and global ids with the overlap planes, ~13 bytes a voxel), two
(ny, nx) and two (chunk, nx) planes of int64, and 17 bytes (union–find parent, size,
faces) per chunk-local cluster cut by a chunk face.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from scipy import ndimage

from uqtwin.errors import ConfigError
from uqtwin.morphology.chunk_blocks import check_chunk, read_mask
from uqtwin.morphology.chunked import chunk_corners
from uqtwin.morphology.cluster_faces import face_fractions
from uqtwin.morphology.unionfind import find

#: ``FACE_BITS[axis, side, b]``: the set of box faces ``b`` (bit ``2 * axis + side``)
#: holds the first (side 0) or last (side 1) plane normal to ``axis``.
FACE_BITS = ((np.arange(64)[None, None, :] >> (2 * np.arange(3)[:, None, None]
                                                + np.arange(2)[None, :, None])) & 1).astype(bool)

#: Neighbourhood size -> rank of scipy's structuring element.
_RANK = {6: 1, 18: 2, 26: 3}


def _rank(connectivity: int) -> int:
    if connectivity not in _RANK:
        raise ConfigError(f"connectivity must be 6, 18 or 26, got {connectivity!r}")
    return _RANK[connectivity]


@numba.njit(cache=True, nogil=True)
def _union(parent, a, b):  # pragma: no cover - compiled
    ra = find(parent, a)
    rb = find(parent, b)
    if ra < rb:
        parent[rb] = ra
    elif rb < ra:
        parent[ra] = rb


@numba.njit(cache=True, nogil=True)
def _join(ext, z, y, x, core, offsets, parent):  # pragma: no cover - compiled
    """Union the id of overlap voxel (z, y, x) with its neighbours inside the chunk, the
    box ``core[0] <= . < core[1]`` of ``ext``."""
    a = ext[z, y, x]
    if a == 0:
        return
    for j in range(offsets.shape[0]):
        zz = z + offsets[j, 0]
        yy = y + offsets[j, 1]
        xx = x + offsets[j, 2]
        if (zz < core[0, 0] or yy < core[0, 1] or xx < core[0, 2]
                or zz >= core[1, 0] or yy >= core[1, 1] or xx >= core[1, 2]):
            continue
        b = ext[zz, yy, xx]
        if b != 0:
            _union(parent, a, b)


@numba.njit(cache=True, nogil=True)
def _link(ext, core, offsets, parent):  # pragma: no cover - compiled
    """Join the overlap planes of ``ext`` below the chunk's low faces (the z plane, then
    the y plane, then the x plane; each voxel once) to the chunk ``core``."""
    nz, ny, nx = ext.shape
    s0, s1, s2 = core[0, 0], core[0, 1], core[0, 2]
    for z in range(s0):
        for y in range(ny):
            for x in range(nx):
                _join(ext, z, y, x, core, offsets, parent)
    for z in range(s0, nz):
        for y in range(s1):
            for x in range(nx):
                _join(ext, z, y, x, core, offsets, parent)
        for y in range(s1, ny):
            for x in range(s2):
                _join(ext, z, y, x, core, offsets, parent)


@numba.njit(cache=True, nogil=True)
def _fold(parent, sizes, faces):  # pragma: no cover - compiled
    """Sizes and face bits of every global id added onto its root (index = id)."""
    n = sizes.shape[0]
    total = np.zeros(n + 1, np.int64)
    bits = np.zeros(n + 1, np.uint8)
    for i in range(1, n + 1):
        r = find(parent, i)
        total[r] += sizes[i - 1]
        bits[r] |= faces[i - 1]
    return total, bits


def _grow(parent: np.ndarray, size: int) -> np.ndarray:
    if size <= parent.size:
        return parent
    new = np.arange(max(size, 2 * parent.size), dtype=np.int64)
    new[: parent.size] = parent
    return new


def voxels_by_faces_touched(
    volume: Any,
    connectivity: int = 6,
    *,
    phase: int | None = None,
    chunk: int | tuple[int, int, int] = 128,
) -> np.ndarray:
    """Voxels of a phase in clusters touching each set of box faces, chunk by chunk (exact).

    Parameters
    ----------
    volume : array-like, shape (nz, ny, nx)
        A mask (nonzero is the phase), or labels with ``phase``; anything sliceable whose
        slices convert to arrays (numpy, memory map, Zarr, HDF5, dask). Read one chunk at
        a time.
    connectivity : {6, 18, 26}
        Voxel connectivity of the clusters (6 for the pore, 26 for solids by convention).
    phase : int, optional
        Label of the phase in ``volume`` (default: ``volume`` is a mask).
    chunk : int or tuple of 3 ints
        Chunk shape, voxels.

    Returns
    -------
    ndarray of int64, shape (64,)
        Entry ``b``: voxels in the clusters whose set of box faces touched is ``b``, bit
        ``2 * axis + side`` set for the first (side 0) or last (side 1) plane normal to
        ``axis`` (:data:`FACE_BITS`).

    Examples
    --------
    A ring split over four chunks is one cluster, touching the two z faces only:

    >>> m = np.zeros((1, 6, 6), bool); m[0, 1:5, 1:5] = True; m[0, 2:4, 2:4] = False
    >>> counts = voxels_by_faces_touched(m, 6, chunk=3)
    >>> np.flatnonzero(counts).tolist(), int(counts[0b11])
    ([3], 12)
    """
    rank = _rank(connectivity)
    shape = tuple(int(s) for s in volume.shape)
    sides = check_chunk(shape, chunk)
    structure = ndimage.generate_binary_structure(3, rank)
    offsets = np.argwhere(structure) - 1
    offsets = np.ascontiguousarray(offsets[np.any(offsets != 0, axis=1)], dtype=np.int64)
    ny, nx = shape[1], shape[2]
    parent = np.arange(1024, dtype=np.int64)
    sizes: list[np.ndarray] = []
    faces: list[np.ndarray] = []
    closed = np.zeros(64, np.int64)  # voxels by faces touched (module docstring)
    n_ids = 0
    zprev = znext = yprev = ynext = xprev = np.zeros((0, 0), np.int64)
    for lo, hi in chunk_corners(shape, sides):
        if lo[2] == 0:  # a new row of chunks; the planes below are read, the new ones written
            if lo[1] == 0:
                zprev, znext = znext, np.zeros((ny, nx), np.int64)
            yprev, ynext = ynext, np.zeros((hi[0] - lo[0], nx), np.int64)
        mask = read_mask(volume, lo, hi, phase)
        lab, n = ndimage.label(mask, structure=structure)
        counts = np.bincount(lab.reshape(-1), minlength=n + 1)
        bits = np.zeros(n + 1, np.uint8)  # box faces touched, bit 2 * axis + side
        shared = np.zeros(n + 1, bool)  # on a face shared with another chunk
        for ax in range(3):
            for side, (on_box, at) in enumerate(((lo[ax] == 0, 0), (hi[ax] == shape[ax], -1))):
                on = np.bincount(np.take(lab, at, axis=ax).reshape(-1), minlength=n + 1) > 0
                if on_box:
                    bits[on] |= np.uint8(1 << (2 * ax + side))
                else:
                    shared |= on
        shared[0] = False
        # A cluster inside the chunk is whole already: only its size by faces touched is
        # kept, so that the per-cluster arrays hold only clusters cut by chunk faces.
        inside = ~shared
        inside[0] = False
        np.add.at(closed, bits[inside], counts[inside])
        k = int(shared.sum())
        gid = np.zeros(n + 1, np.int64)
        gid[shared] = np.arange(n_ids + 1, n_ids + k + 1)
        # Overlap planes (global ids of voxels already seen): z = lo - 1 from the previous
        # slab, y = lo - 1 from the previous row, x = lo - 1 from the previous chunk. The
        # z plane reaches one voxel past the chunk in y and x, the y plane in x, for the
        # edge and corner neighbours in chunks ahead along those axes but already seen.
        shell = (lo > 0).astype(np.int64)
        ahead = (hi < shape).astype(np.int64)
        s0, s1, s2 = (int(s) for s in shell)
        size = hi - lo
        ext = np.zeros((size[0] + s0, size[1] + s1 + ahead[1], size[2] + s2 + ahead[2]),
                       np.int64)
        core = np.array([shell, shell + size])
        glab = ext[s0:, s1:s1 + size[1], s2:s2 + size[2]]
        np.take(gid, lab, out=glab)
        if s0:
            ext[0] = zprev[lo[1] - s1:hi[1] + ahead[1], lo[2] - s2:hi[2] + ahead[2]]
        if s1:
            ext[s0:, 0] = yprev[:, lo[2] - s2:hi[2] + ahead[2]]
        if s2:
            ext[s0:, s1:s1 + size[1], 0] = xprev
        parent = _grow(parent, n_ids + k + 1)
        _link(ext, core, offsets, parent)
        sizes.append(counts[shared])
        faces.append(bits[shared])
        n_ids += k
        znext[lo[1]:hi[1], lo[2]:hi[2]] = glab[-1]
        ynext[:, lo[2]:hi[2]] = glab[:, -1]
        xprev = glab[:, :, -1].copy()
    total, bits = _fold(parent, np.concatenate(sizes), np.concatenate(faces))
    np.add.at(closed, bits[total > 0], total[total > 0])
    return closed


def cluster_fractions_by_chunks(
    volume: Any,
    connectivity: int = 6,
    *,
    phase: int | None = None,
    chunk: int | tuple[int, int, int] = 128,
) -> np.ndarray:
    """:func:`~uqtwin.quantities.connectivity.cluster_fractions`, one chunk at a time.

    Exact: the same numbers as on the whole volume (the module docstring has the method).

    Parameters
    ----------
    volume : array-like, shape (nz, ny, nx)
        A mask (nonzero is the phase), or labels with ``phase``; sliced one chunk at a
        time.
    connectivity : {6, 18, 26}
        Voxel connectivity of the clusters (6 for the pore, 26 for solids by convention).
    phase : int, optional
        Label of the phase in ``volume`` (default: ``volume`` is a mask).
    chunk : int or tuple of 3 ints
        Chunk shape, voxels.

    Returns
    -------
    ndarray of float, shape (3, 3)
        ``[axis, kind]`` with kind 0 percolating, 1 dead-end, 2 isolated; fractions of
        the phase volume (NaN if the phase is absent).

    Examples
    --------
    >>> from uqtwin.quantities.connectivity import cluster_fractions
    >>> rng = np.random.default_rng(1)
    >>> m = rng.random((12, 13, 14)) < 0.3
    >>> whole = cluster_fractions(m, 26)
    >>> bool(np.array_equal(cluster_fractions_by_chunks(m, 26, chunk=5), whole))
    True
    """
    counts = voxels_by_faces_touched(volume, connectivity, phase=phase, chunk=chunk)
    return face_fractions(counts, FACE_BITS)


def percolates_by_chunks(
    volume: Any,
    axis: int,
    connectivity: int = 6,
    *,
    phase: int | None = None,
    chunk: int | tuple[int, int, int] = 128,
) -> bool:
    """Whether one cluster touches both box faces normal to ``axis``, chunk by chunk (exact).

    Parameters
    ----------
    volume : array-like, shape (nz, ny, nx)
        A mask (nonzero is the phase), or labels with ``phase``; sliced one chunk at a
        time.
    axis : int
        Array axis (0 z, 1 y, 2 x).
    connectivity : {6, 18, 26}
        Voxel connectivity of the clusters.
    phase : int, optional
        Label of the phase in ``volume`` (default: ``volume`` is a mask).
    chunk : int or tuple of 3 ints
        Chunk shape, voxels.

    Returns
    -------
    bool

    Examples
    --------
    A diagonal staircase percolates along z for the solid (26) but not the pore (6):

    >>> m = np.zeros((6, 6, 6), bool)
    >>> for i in range(6): m[i, i, :] = True
    >>> percolates_by_chunks(m, 0, 26, chunk=4), percolates_by_chunks(m, 0, 6, chunk=4)
    (True, False)
    """
    if axis not in (0, 1, 2, -1, -2, -3):
        raise ConfigError(f"axis must be 0, 1 or 2, got {axis!r}")
    counts = voxels_by_faces_touched(volume, connectivity, phase=phase, chunk=chunk)
    return bool(np.any(counts[FACE_BITS[axis, 0] & FACE_BITS[axis, 1]] > 0))

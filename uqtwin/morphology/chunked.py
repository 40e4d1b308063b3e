"""Local geometry of a volume too large for memory, chunk by chunk, combined exactly.

The functions take any array that can be sliced (numpy, a memory map, a lazily read
:func:`uqtwin.io.read_volume` volume's ``.data``, a Zarr or HDF5 dataset) and hold one
chunk plus its halo at a time.

* Phase voxel counts (hence volume fractions): exact, chunk by chunk.
* Surface area (approximate across chunks, error measured): each chunk's smoothed
  boundary mesh is built on the chunk grown by a halo and clipped to the chunk's box.
  Marching cubes is local, and the smoothing moves a vertex by what lies within
  ``2 x iterations`` edges with an influence that decays fast, so the error falls
  geometrically with the halo. Against the whole-volume area: 96³ random blobs in 32³
  chunks, halo 4 voxels 6e-6 relative, 8 5e-9, 12 4e-12, 16 1e-14; tf_electrode's active
  phase (256³), halo 16, 1.5e-15 in 128³ chunks and 2e-7 in 64³ chunks (benchmarks/
  README.md, "Whole scans"). :data:`AREA_HALO` is 16. Per-chunk areas are added with
  :func:`math.fsum`, so the total does not depend on the order of the chunks.
* Connectivity (exact): clusters labelled per chunk and merged across chunk faces, edges
  and corners by a union–find over global ids, with each cluster's size and box faces
  touched (:mod:`~uqtwin.morphology.chunked_components`:
  :func:`~uqtwin.morphology.chunked_components.cluster_fractions_by_chunks`,
  :func:`~uqtwin.morphology.chunked_components.percolates_by_chunks`); the same
  numbers as the whole volume.
* Local thickness (exact): each chunk computed on the chunk plus a halo of 2R + one voxel
  diagonal, R the largest inscribed-ball radius found chunk by chunk first
  (:mod:`~uqtwin.morphology.chunked_thickness`); bit-identical to the whole volume. Its
  volume-weighted histogram is exact, its mean equal to float rounding.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from uqtwin.errors import VolumeError
from uqtwin.morphology.areas import areas_in_box
from uqtwin.morphology.chunk_blocks import read_block, read_mask
from uqtwin.morphology.mesh import boundary_mesh
from uqtwin.morphology.smoothing import DEFAULT_ITERATIONS

#: Halo (voxels) around each chunk for the surface area: the chunked area is then within
#: ~1e-7 of the whole volume's, usually within float rounding (module docstring).
AREA_HALO = 16


def chunk_corners(shape: Sequence[int], chunk: int | Sequence[int],
                  ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The (start, stop) corners of the chunks that tile ``shape``.

    Parameters
    ----------
    shape : sequence of 3 ints
        Volume shape.
    chunk : int or sequence of 3 ints
        Chunk shape (voxels, >= 1).

    Yields
    ------
    start, stop : ndarray of 3 ints

    Examples
    --------
    >>> [tuple(int(v) for v in b) for _, b in chunk_corners((4, 4, 6), 4)]
    [(4, 4, 4), (4, 4, 6)]
    """
    n = np.asarray(shape, dtype=np.int64)
    c = np.broadcast_to(np.asarray(chunk, dtype=np.int64), (3,))
    if n.size != 3 or np.any(c < 1):
        raise VolumeError(f"chunks must be >= 1 voxel per axis of a 3-D volume, got {chunk!r}")
    for z in range(0, int(n[0]), int(c[0])):
        for y in range(0, int(n[1]), int(c[1])):
            for x in range(0, int(n[2]), int(c[2])):
                start = np.array([z, y, x])
                yield start, np.minimum(start + c, n)


class PhaseMask:
    """The mask of some phases of a label volume, computed one slice request at a time.

    Lets the chunked functions take ``labels == k`` (or a union of phases) without a
    whole-volume boolean array.

    Parameters
    ----------
    labels : array-like of int, shape (nz, ny, nx)
        Phase index per voxel (anything sliceable).
    phases : sequence of int
        The phases in the mask.

    Examples
    --------
    >>> lab = np.arange(8).reshape(2, 2, 2) % 3
    >>> PhaseMask(lab, [0, 2])[0].astype(int).tolist()
    [[1, 0], [1, 1]]
    """

    def __init__(self, labels: Any, phases: Sequence[int]) -> None:
        self.labels = labels
        self.phases = np.asarray(sorted(int(p) for p in phases))
        self.shape = tuple(int(n) for n in labels.shape)

    def __getitem__(self, index: Any) -> np.ndarray:
        return np.isin(np.asarray(self.labels[index]), self.phases)


def phase_counts_by_chunks(labels: Any, n_phases: int, *, chunk: int = 128) -> np.ndarray:
    """Voxels of each phase, chunk by chunk (exact).

    Parameters
    ----------
    labels : array-like of int, shape (nz, ny, nx)
        Phase index per voxel; sliced one chunk at a time.
    n_phases : int
        Phases ``0 .. n_phases - 1``; other values are refused.
    chunk : int
        Chunk side, voxels.

    Returns
    -------
    ndarray of int64, shape (n_phases,)

    Examples
    --------
    >>> lab = np.zeros((5, 6, 7), np.uint8); lab[:, :, :3] = 1
    >>> phase_counts_by_chunks(lab, 2, chunk=4).tolist()
    [120, 90]
    """
    counts = np.zeros(int(n_phases), dtype=np.int64)
    for lo, hi in chunk_corners(labels.shape, chunk):
        part = read_block(labels, lo, hi)
        c = np.bincount(part.reshape(-1).astype(np.int64), minlength=int(n_phases))
        if c.size > n_phases:
            raise VolumeError(f"labels hold phase {c.size - 1}, beyond the {n_phases} phases "
                              f"0..{n_phases - 1}")
        counts += c
    return counts


def surface_area_by_chunks(
    mask: Any,
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
    *,
    chunk: int = 128,
    halo: int = AREA_HALO,
    iterations: int = DEFAULT_ITERATIONS,
) -> float:
    """:func:`~uqtwin.morphology.surface_area` of a mask, one chunk (plus halo) at a time.

    Parameters
    ----------
    mask : array-like of bool, shape (nz, ny, nx)
        The object (e.g. one phase, or ``labels == k`` of a lazily read volume: anything
        sliceable whose slices convert to arrays).
    spacing : sequence of 3 floats
        Voxel size along (z, y, x).
    chunk : int
        Chunk side, voxels.
    halo : int
        Voxels added around each chunk (with the default the result is within ~1e-7 of
        the whole-volume area; the module docstring has the error for other halos).
    iterations : int
        Smoothing iterations, as :func:`~uqtwin.morphology.surface_area`.

    Returns
    -------
    float
        Area in the squared length unit of ``spacing``, box sides excluded.

    Examples
    --------
    >>> from uqtwin.morphology import surface_area
    >>> z, y, x = np.mgrid[:40, :40, :40]
    >>> ball = (z - 19.5) ** 2 + (y - 20.2) ** 2 + (x - 18.7) ** 2 <= 12.0 ** 2
    >>> whole = surface_area(ball)
    >>> bool(abs(surface_area_by_chunks(ball, chunk=16) - whole) < 1e-9 * whole)
    True
    """
    if halo < 0:
        raise VolumeError(f"halo must be >= 0 voxels, got {halo!r}")
    sp = np.asarray(spacing, dtype=float)
    n = np.asarray(mask.shape, dtype=np.int64)
    parts = []
    for start, stop in chunk_corners(mask.shape, chunk):
        lo = np.maximum(start - halo, 0)
        hi = np.minimum(stop + halo, n)
        sub = read_mask(mask, lo, hi)
        mesh = boundary_mesh(sub, sp, iterations=iterations)
        # the chunk's box in the sub-volume's coordinates (voxel centres at i * spacing)
        box_lo = (start - lo - 0.5) * sp
        box_hi = (stop - lo - 0.5) * sp
        parts.append(float(areas_in_box(mesh, box_lo, box_hi).sum()))
    return math.fsum(parts)

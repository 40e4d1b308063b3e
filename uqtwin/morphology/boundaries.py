"""Boundary and interface areas of the phases of a label image, each surface meshed once.

A set of phases and its complement share their boundary, so the boundary of a union of
phases is measured on the mask of whichever of the two is smaller (in a canonical
order). For two phases i, j the set identity

    A(i|j) = [A(∂i) + A(∂j) − A(∂(i ∪ j))] / 2

holds for any number of phases (the boundary of i ∪ j is the boundary of i and of j less
their common interface, counted once from each side); with three phases
A(∂(i ∪ j)) = A(∂k), so three meshes serve all three pairs. Every area is the estimator
of :func:`uqtwin.morphology.areas.surface_area` (smoothed marching cubes, box sides
excluded).

:class:`BoundaryAreas` remembers the areas it has measured on one label image, so that
surface areas, interfacial areas, the binder contact and the cell parameters of one
sample mesh each distinct surface once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from uqtwin.morphology.areas import surface_area, triangle_areas
from uqtwin.morphology.chunked import PhaseMask, surface_area_by_chunks
from uqtwin.morphology.mesh import Mesh, boundary_mesh
from uqtwin.morphology.smoothing import DEFAULT_ITERATIONS

#: Label images with more voxels than this are meshed chunk by chunk
#: (:func:`~uqtwin.morphology.chunked.surface_area_by_chunks`: the whole mesh's area
#: within rounding, tests/test_engine.py): a whole mesh takes ~150 bytes per vertex,
#: 2-3 GB for one fragmented phase of a 256³ sample, so larger volumes would not fit.
CHUNKED_AREA_VOXELS = 2**25
#: Chunk side (voxels) of those volumes: the halo of 16 voxels each side adds 42 % work.
AREA_CHUNK = 256


class BoundaryAreas:
    """Boundary areas of unions of phases of one label image, each measured once.

    Parameters
    ----------
    labels : ndarray of int, shape (nz, ny, nx)
        Phase index of every voxel.
    spacing : sequence of 3 floats
        Voxel size along (z, y, x), in length units.
    chunk_above : int, optional
        Volumes of more voxels are meshed in chunks of :data:`AREA_CHUNK` voxels (one chunk
        and its halo in memory at a time); default :data:`CHUNKED_AREA_VOXELS`.

    Notes
    -----
    An area is remembered under the set of phases whose mask was meshed and the number of
    smoothing iterations: a set and its complement share their boundary, but their meshes
    may differ in the last bits, so each entry is reused only for that very mask.

    Examples
    --------
    >>> import numpy as np
    >>> from uqtwin.morphology.boundaries import BoundaryAreas
    >>> labels = np.zeros((10, 20, 20), np.uint8)
    >>> labels[3:7] = 1
    >>> areas = BoundaryAreas(labels, (1.0, 1.0, 1.0))
    >>> areas.union(frozenset({1}), n_phases=2)
    800.0
    """

    def __init__(self, labels: np.ndarray, spacing: Sequence[float], *,
                 chunk_above: int | None = None) -> None:
        self.labels = np.asarray(labels)
        self.spacing = tuple(float(s) for s in spacing)
        self.chunk_above = CHUNKED_AREA_VOXELS if chunk_above is None else int(chunk_above)
        self._areas: dict[tuple[frozenset[int], int], float] = {}

    def union(
        self,
        members: frozenset[int],
        n_phases: int,
        iterations: int = DEFAULT_ITERATIONS,
    ) -> float:
        """Boundary area of the union of the phases ``members`` (box sides excluded).

        The smaller of ``members`` and its complement in ``range(n_phases)`` (by size,
        then sorted indices) is meshed.
        """
        other = frozenset(range(n_phases)) - members
        meshed = min(members, other, key=lambda s: (len(s), sorted(s)))
        return self.of(meshed, iterations)

    def of(self, meshed: frozenset[int], iterations: int = DEFAULT_ITERATIONS) -> float:
        """Boundary area of the mask of exactly the phases ``meshed`` (0 for no phase)."""
        key = (frozenset(meshed), int(iterations))
        if key not in self._areas:
            phases = sorted(meshed)
            if not meshed:
                area = 0.0
            elif self.labels.size > self.chunk_above:
                area = surface_area_by_chunks(PhaseMask(self.labels, phases), self.spacing,
                                              chunk=AREA_CHUNK, iterations=iterations)
            else:
                area = surface_area(np.isin(self.labels, phases), self.spacing,
                                    iterations=iterations)
            self._areas[key] = area
        return self._areas[key]

    def mesh(
        self, meshed: frozenset[int], iterations: int = DEFAULT_ITERATIONS
    ) -> tuple[Mesh, np.ndarray]:
        """The mesh of the mask of the phases ``meshed`` and its triangles' areas in the box.

        For callers that need the surface itself (the binder contact classifies its
        vertices). The mesh is not kept (hundreds of MB on large volumes); its area is
        remembered if not yet measured, the same number :meth:`of` gives.
        """
        mask = np.isin(self.labels, sorted(meshed))
        mesh = boundary_mesh(mask, self.spacing, iterations=iterations)
        tri = (triangle_areas(mesh, self.labels.shape, self.spacing) if len(mesh.faces)
               else np.zeros(0))
        self._areas.setdefault((frozenset(meshed), int(iterations)), float(tri.sum()))
        return mesh, tri


def interfacial_areas(
    labels: np.ndarray,
    spacing: Sequence[float],
    pairs: Sequence[tuple[int, int]],
    *,
    n_phases: int | None = None,
    smoothing_iterations: int = DEFAULT_ITERATIONS,
    areas: BoundaryAreas | None = None,
) -> np.ndarray:
    """Area of the interface between each pair of phase labels.

    Parameters
    ----------
    labels : ndarray of int, shape (nz, ny, nx)
        Phase index of every voxel.
    spacing : sequence of 3 floats
        Voxel size along (z, y, x), in length units.
    pairs : sequence of (int, int)
        Phase-index pairs.
    n_phases : int, optional
        Number of phases (default ``labels.max() + 1``).
    smoothing_iterations : int
        Constrained Taubin iterations on each marching-cubes mesh.
    areas : BoundaryAreas, optional
        Boundary areas already measured on these labels, reused and extended.

    Returns
    -------
    ndarray of float, shape (len(pairs),)
        Interface areas in length unit².

    Examples
    --------
    A slab of phase 1 inside phase 0: its two faces are the interface.

    >>> import numpy as np
    >>> from uqtwin.morphology.boundaries import interfacial_areas
    >>> labels = np.zeros((10, 20, 20), np.uint8)
    >>> labels[3:7] = 1
    >>> interfacial_areas(labels, (1.0, 1.0, 1.0), [(0, 1)]).tolist()
    [800.0]
    """
    labels = np.asarray(labels)
    n = int(labels.max()) + 1 if n_phases is None else int(n_phases)
    areas = BoundaryAreas(labels, spacing) if areas is None else areas

    def area(members: frozenset) -> float:
        return areas.union(members, n, smoothing_iterations)

    out = []
    for i, j in pairs:
        a = area(frozenset({i})) + area(frozenset({j})) - area(frozenset({i, j}))
        # Rounding at triple lines can make a vanishing interface slightly negative.
        out.append(max(0.5 * a, 0.0))
    return np.asarray(out, dtype=float)

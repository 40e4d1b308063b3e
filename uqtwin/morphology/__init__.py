"""Geometry of voxel masks as plain functions of arrays: the pure-array layer of uqtwin.

What :mod:`uqtwin.solvers` is for transport, this package is for geometry: every function
takes a mask (or labels) and the voxel ``spacing`` and returns arrays or floats in the
spacing's length unit; nothing here knows about phases, materials or samples. The
quantities of :mod:`uqtwin.quantities` are thin wrappers around these functions.

=====================================  ==========================================================
:func:`surface_area`                   boundary area of a mask, box sides excluded
:func:`surface_area_by_chunks`         the same, one chunk and its halo in memory at a time
:func:`boundary_mesh`                  smoothed marching-cubes surface of a mask
:func:`local_thickness`                diameter of the largest inscribed ball covering each voxel
:func:`intrusion_size`                 ball diameter at which fluid from a face reaches each voxel
:func:`particle_labels`                watershed split of a mask into particles
:func:`particle_table`                 per-particle volume, diameter, area, sphericity
:func:`connected_components`           clusters under the dual pore/solid connectivity
:func:`cluster_fractions_by_chunks`    percolating/dead-end/isolated fractions, chunk by chunk
:func:`percolates_by_chunks`           whether a cluster spans an axis, chunk by chunk
:func:`local_thickness_by_chunks`      local thickness written chunk by chunk (chunk + halo)
:func:`thickness_histogram_by_chunks`  its volume-weighted histogram and mean
:func:`largest_radius_by_chunks`       largest inscribed-ball radius, chunk by chunk
=====================================  ==========================================================

One idea per module: :mod:`~uqtwin.morphology.marching` (marching cubes),
:mod:`~uqtwin.morphology.smoothing` (constrained Taubin smoothing),
:mod:`~uqtwin.morphology.mesh` (the boundary mesh), :mod:`~uqtwin.morphology.areas`
(clipping to the box and areas), :mod:`~uqtwin.morphology.distance` (exact EDTs),
:mod:`~uqtwin.morphology.thickness` (local thickness), :mod:`~uqtwin.morphology.intrusion`
(intrusion size), :mod:`~uqtwin.morphology.unionfind`, :mod:`~uqtwin.morphology.particles`
(particle segmentation), :mod:`~uqtwin.morphology.bins` (the shared size bins),
:mod:`~uqtwin.morphology.components` (connected components) and
:mod:`~uqtwin.morphology.chunked` (counts and surface areas of volumes too large for
memory, chunk by chunk), :mod:`~uqtwin.morphology.chunk_blocks` (chunk shapes, block
masks), :mod:`~uqtwin.morphology.cluster_faces` (fractions from cluster sizes and faces),
:mod:`~uqtwin.morphology.chunked_components` (clusters merged across chunks by union–find)
and :mod:`~uqtwin.morphology.chunked_thickness` (local thickness with exact halos).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from uqtwin.morphology.areas import areas_in_box, mesh_area, surface_area, triangle_areas
    from uqtwin.morphology.bins import default_bins
    from uqtwin.morphology.chunked import phase_counts_by_chunks, surface_area_by_chunks
    from uqtwin.morphology.chunked_components import (
        cluster_fractions_by_chunks,
        percolates_by_chunks,
    )
    from uqtwin.morphology.chunked_thickness import (
        largest_radius_by_chunks,
        local_thickness_by_chunks,
        thickness_histogram_by_chunks,
    )
    from uqtwin.morphology.components import CONNECTIVITY, connected_components, percolates
    from uqtwin.morphology.intrusion import intrusion_size
    from uqtwin.morphology.mesh import Mesh, boundary_mesh
    from uqtwin.morphology.particles import particle_labels, particle_table
    from uqtwin.morphology.thickness import local_thickness

#: Public name -> module that defines it. Loaded on first use (as scikit-image's
#: lazy_loader does), so that labelling clusters does not import numba or the meshing.
_EXPORTS = {
    "CONNECTIVITY": "components",
    "Mesh": "mesh",
    "areas_in_box": "areas",
    "boundary_mesh": "mesh",
    "cluster_fractions_by_chunks": "chunked_components",
    "connected_components": "components",
    "default_bins": "bins",
    "intrusion_size": "intrusion",
    "largest_radius_by_chunks": "chunked_thickness",
    "local_thickness": "thickness",
    "local_thickness_by_chunks": "chunked_thickness",
    "mesh_area": "areas",
    "particle_labels": "particles",
    "particle_table": "particles",
    "percolates": "components",
    "percolates_by_chunks": "chunked_components",
    "phase_counts_by_chunks": "chunked",
    "surface_area": "areas",
    "surface_area_by_chunks": "chunked",
    "thickness_histogram_by_chunks": "chunked_thickness",
    "triangle_areas": "areas",
}

__all__ = [
    "CONNECTIVITY",
    "Mesh",
    "areas_in_box",
    "boundary_mesh",
    "cluster_fractions_by_chunks",
    "connected_components",
    "default_bins",
    "intrusion_size",
    "largest_radius_by_chunks",
    "local_thickness",
    "local_thickness_by_chunks",
    "mesh_area",
    "particle_labels",
    "particle_table",
    "percolates",
    "percolates_by_chunks",
    "phase_counts_by_chunks",
    "surface_area",
    "surface_area_by_chunks",
    "thickness_histogram_by_chunks",
    "triangle_areas",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

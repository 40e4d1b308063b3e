"""A medium prepared once for the solves along its axes, and its driven copies.

The solves of one conductivity field along the three axes usually keep the same voxels
(one network joins all six faces). Then the kept voxels' face conductances (no driven
axis, :func:`~uqtwin.solvers.conductances.face_conductances` with ``axis=None``, which
applies the contact resistance too), the multigrid grids and the high-conductivity
clusters to deflate are computed once (:func:`prepare_medium`); per axis only the two
outer face layers along the driven axis differ, on every grid. :func:`drive_medium`
returns a new :class:`Medium` with those layers (new arrays along the driven axis only,
the rest shared), with the same kernels, so each solve is bit for bit the single-axis
solve, and the prepared medium is never modified.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from uqtwin.solvers.clusters import conductivity_contrast, high_conductivity_clusters
from uqtwin.solvers.conductances import drive_faces, face_conductances
from uqtwin.solvers.multigrid import coarsen_levels, drive_levels
from uqtwin.solvers.options import SolverOptions

__all__ = ["Medium", "drive_medium", "prepare_medium"]


@dataclass(frozen=True, eq=False)
class Medium:
    """What the solves along the axes of one medium share.

    Attributes
    ----------
    keep : ndarray of bool
        Voxels in the solve.
    kk : ndarray
        Their conductivities (0 elsewhere).
    g : tuple of 3 ndarrays
        Face conductances (no driven axis, or driven along one by :func:`drive_medium`).
    levels : tuple of Level
        The multigrid grids coarsened from ``g``.
    active_fraction : float
        Fraction of the voxels in the solve.
    clusters : (ndarray, int) or None
        High-conductivity clusters to deflate (None: none).
    high_contrast : bool
        Whether ``k_max / k_min`` reaches ``deflation_contrast`` (then a warm start's
        coarse solver is not borrowed).
    """

    keep: np.ndarray
    kk: np.ndarray
    g: tuple[np.ndarray, np.ndarray, np.ndarray]
    levels: tuple
    active_fraction: float
    clusters: tuple[np.ndarray, int] | None = None
    high_contrast: bool = False


def prepare_medium(k: np.ndarray, keep: np.ndarray, spacing, options: SolverOptions,
                   particles: np.ndarray | None, contact_resistance: float) -> Medium:
    """The shared parts of the solves of ``k`` restricted to the voxels ``keep``.

    Parameters
    ----------
    k : ndarray of float, shape (nz, ny, nx)
        Conductivity of every voxel.
    keep : ndarray of bool, same shape
        Voxels in the solve (e.g. those connected to the driven faces); the others get
        conductivity 0.
    spacing : sequence of 3 floats
        Voxel size along (z, y, x), in length units.
    options : SolverOptions
        Periodicity, precision, coarsest multigrid size and deflation settings.
    particles : ndarray of int or None
        Particle label of every voxel (0 = none), for contact resistance between particles.
    contact_resistance : float
        Area-specific contact resistance between different particles, units ``ℓ / [k]``.

    Returns
    -------
    Medium
        Face conductances with no driven axis, their multigrid grids, the fraction of voxels
        kept, the high-conductivity clusters to deflate (only with ``deflation = "auto"``)
        and whether the conductivity contrast reaches ``deflation_contrast``.
    """
    kk = np.where(keep, k, 0.0)
    g = face_conductances(kk, spacing, None, periodic=options.periodic, particles=particles,
                          contact_resistance=contact_resistance,
                          dtype=np.dtype(options.dtype))
    clusters = None
    if options.deflation == "auto":
        clusters = high_conductivity_clusters(kk, contrast=options.deflation_contrast,
                                              min_clusters=options.deflation_min_clusters)
    return Medium(keep, kk, g, coarsen_levels(*g, coarsest_size=options.coarsest_size),
                  float(keep.mean()), clusters,
                  conductivity_contrast(kk) >= options.deflation_contrast)


def drive_medium(medium: Medium, spacing, axis: int) -> Medium:
    """``medium`` driven along ``axis``: fixed-value outer faces on every grid (a new
    :class:`Medium`; ``medium`` is not modified)."""
    g = drive_faces(medium.g, medium.kk, spacing, axis)
    return replace(medium, g=g, levels=drive_levels(medium.levels, g[axis], axis))

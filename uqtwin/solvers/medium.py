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

A medium of one conductivity (every cell in the solve alike: a tortuosity solve) is kept
as a :class:`BinaryMedium` instead, a padded mask of one byte per voxel from which the
kernels of :mod:`~uqtwin.solvers.binary` compute the same face conductances on the fly
(:func:`binary_unit` says when, :func:`prepare_binary` builds it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numba import njit

from uqtwin.solvers.clusters import conductivity_contrast, high_conductivity_clusters
from uqtwin.solvers.conductances import (
    drive_faces,
    face_areas,
    face_conductances,
    fixed_value_conductance,
    harmonic_conductance,
)
from uqtwin.solvers.layout import padded_zeros
from uqtwin.solvers.multigrid import coarsen_levels, drive_levels
from uqtwin.solvers.options import SolverOptions

__all__ = [
    "BinaryMedium",
    "Medium",
    "binary_unit",
    "drive_medium",
    "prepare_binary",
    "prepare_medium",
    "uniform_conductivity",
]


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


@dataclass(frozen=True, eq=False)
class BinaryMedium:
    """A medium of one conductivity (:mod:`~uqtwin.solvers.binary`).

    Attributes
    ----------
    mask : ndarray of uint8, padded
        1 on the voxels in the solve; its ghost frame is set per solve
        (:func:`~uqtwin.solvers.binary.mask_ghosts`).
    unit : ndarray of float32, shape (3,)
        Conductance of a face between two cells in the solve, per axis (z, y, x).
    active_fraction : float
        Fraction of the voxels in the solve.
    """

    mask: np.ndarray
    unit: np.ndarray
    active_fraction: float

    @property
    def shape(self) -> tuple[int, int, int]:
        """Cells along (z, y, x)."""
        return tuple(n - 2 for n in self.mask.shape)


@njit(cache=True, nogil=True)
def _positive_range(k):  # pragma: no cover - compiled
    """Smallest and largest positive value of ``k`` (inf, -inf if none), in float64."""
    lo = np.inf
    hi = -np.inf
    for a in range(k.shape[0]):
        for b in range(k.shape[1]):
            for c in range(k.shape[2]):
                v = np.float64(k[a, b, c])
                if v > 0:
                    lo = min(lo, v)
                    hi = max(hi, v)
    return lo, hi


def uniform_conductivity(k: np.ndarray) -> float | None:
    """The conductivity of every conducting voxel of ``k`` if they all have the same one.

    Parameters
    ----------
    k : ndarray, 3-D
        Conductivities (bool: True conducts with conductivity 1).

    Returns
    -------
    float or None
        The common positive value (1.0 for a boolean array), None when the positive
        values differ or there are none. One pass, no temporary arrays.

    Examples
    --------
    >>> uniform_conductivity(np.array([[[0.0, 2.0, 2.0]]]))
    2.0
    >>> uniform_conductivity(np.array([[[0.5, 2.0, 0.0]]])) is None
    True
    """
    if k.dtype == bool:
        return 1.0 if k.any() else None
    lo, hi = _positive_range(k)
    return float(lo) if lo == hi else None


def binary_unit(value: float, spacing) -> np.ndarray | None:
    """Per-axis conductance (float32) of a face between two cells of conductivity
    ``value``, exactly as :func:`~uqtwin.solvers.conductances.face_conductances` stores
    it, or None when a driven face's conductance (half a cell) is not exactly twice it
    in float32 (then the mask cannot imply it; a rounding case of odd spacings).

    Examples
    --------
    >>> binary_unit(1.0, (1.0, 1.0, 2.0)).tolist()
    [2.0, 2.0, 0.5]
    """
    h = [float(v) for v in spacing]
    areas = face_areas(h)
    unit = np.empty(3, dtype=np.float32)
    for a in range(3):
        geom = areas[a] / h[a]
        unit[a] = np.float32(harmonic_conductance(value, value, geom))
        if np.float32(fixed_value_conductance(value, geom)) != 2 * unit[a]:
            return None
    return unit


def prepare_binary(keep: np.ndarray, unit: np.ndarray) -> BinaryMedium:
    """The :class:`BinaryMedium` of the voxels ``keep`` (bool) with face conductances
    ``unit`` (:func:`binary_unit`)."""
    mask = padded_zeros(keep.shape, np.uint8)
    mask[1:-1, 1:-1, 1:-1] = keep
    return BinaryMedium(mask, unit, float(keep.mean()))

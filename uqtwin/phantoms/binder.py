"""Carbon-binder deposition on a given active phase: conformal films and contact bridges.

Both deposits are grown from Euclidean distance maps of the pore space and sized to a
target volume fraction by ranking the pore voxels: the ``n`` voxels of lowest rank become
binder, which is the same as growing a distance threshold until ``n`` voxels pass it and
filling its last, partly passed level at random (``seed``; for bridges, after the pairs
already bridged). So the fraction is hit to one voxel.

- :func:`binder_film`: the pore within a distance of any particle, a coat of every free
  surface (a slurry that wets everything).
- :func:`binder_bridges`: the pore close to *two different* particles, pendular necks at
  contacts and near-contacts and nothing on free surfaces (binder that gathered where
  the drying liquid lingered longest).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from uqtwin.errors import VolumeError
from uqtwin.phantoms._checks import as_particles, check_open_unit
from uqtwin.phantoms.particles import label_particles, two_nearest
from uqtwin.phantoms.phases import ACTIVE, BINDER, PORE
from uqtwin.volume import check_spacing


def film_and_necks(active: np.ndarray, thickness: float, neck: float) -> np.ndarray:
    """Labels with a binder film of ``thickness`` voxels and necks of radius ``neck``.

    The film is the pore within ``thickness`` of the active surface; the necks are the
    pore filled by a morphological closing of the active phase with a ball of radius
    ``neck``, i.e. the concave gaps near particle contacts, where carbon-binder collects.
    Both come from Euclidean distance transforms, which are exact and fast.
    """
    labels = np.where(active, ACTIVE, PORE).astype(np.uint8)
    if thickness <= 0 and neck <= 0:
        return labels
    dist_out = ndimage.distance_transform_edt(~active)
    binder = (dist_out > 0) & (dist_out <= thickness)
    if neck > 0:
        dilated = dist_out <= neck
        closed = ndimage.distance_transform_edt(dilated) > neck
        binder |= closed & ~active
    labels[binder] = BINDER
    return labels


def _lowest(
    score: np.ndarray, n: int, rng: np.random.Generator, tie: np.ndarray | None = None
) -> np.ndarray:
    """Mask of the ``n`` voxels of lowest finite ``score``; ties by ``tie``, then at random.

    Distances on a grid take few distinct values, so many voxels tie at the threshold;
    the random tie-break fills the last level without favouring one corner of the volume,
    as a raster-order tie-break would.
    """
    flat = score.ravel()
    idx = np.flatnonzero(np.isfinite(flat))
    keys = [rng.random(idx.size)]
    if tie is not None:
        keys.append(tie.ravel()[idx])
    keys.append(flat[idx])
    order = np.lexsort(keys)[:n]
    mask = np.zeros(score.size, dtype=bool)
    mask[idx[order]] = True
    return mask.reshape(score.shape)


def _pair_gaps(score: np.ndarray, i1: np.ndarray, i2: np.ndarray) -> np.ndarray:
    """Per voxel, the lowest ``score`` over voxels with the same two nearest particles.

    That is the gap of the particle pair the voxel would bridge; ranking ties by it lets
    the bridges already started widen before new ones start at the same level, which
    would otherwise be filled by a random part of their voxels and left in pieces.
    """
    gaps = np.full(score.shape, np.inf)
    ok = np.isfinite(score)
    if not ok.any():
        return gaps
    lo, hi = np.minimum(i1[ok], i2[ok]), np.maximum(i1[ok], i2[ok])
    pairs, inverse = np.unique(lo.astype(np.int64) * (int(hi.max()) + 1) + hi,
                               return_inverse=True)
    least = np.full(pairs.size, np.inf)
    np.minimum.at(least, inverse, score[ok])
    gaps[ok] = least[inverse]
    return gaps


def _target_count(fraction: float, pore: int, size: int) -> int:
    n = int(round(fraction * size))
    if n > pore:
        raise VolumeError(
            f"fraction {fraction} needs {n} binder voxels but the active mask leaves only "
            f"{pore} pore voxels (pore fraction {pore / size:.3f})"
        )
    return n


def binder_film(
    active: np.ndarray,
    *,
    thickness: float | None = None,
    fraction: float | None = None,
    spacing: Sequence[float] | float = (1.0, 1.0, 1.0),
    seed: int = 0,
) -> np.ndarray:
    """Conformal carbon-binder film on every particle surface.

    With ``thickness``, the binder is the pore within ``thickness`` of the active phase
    (for unit spacing the same film as :func:`spheres_with_binder` grows, without its
    necks). With ``fraction``, the film is grown from the surface outwards until it holds
    that volume fraction: the pore voxels nearest the particles, ties at the last
    distance drawn at random.

    Parameters
    ----------
    active : ndarray of bool or int, shape (nz, ny, nx)
        Active-material mask; for an integer array, every non-zero voxel is active (pass
        ``labels == ACTIVE`` for a phase-label volume).
    thickness : float, optional
        Film thickness in ``spacing`` units; default 1 when ``fraction`` is not given.
    fraction : float, optional
        Target binder volume fraction of the whole volume, in (0, 1); excludes
        ``thickness``.
    spacing : float or sequence of 3 floats
        Voxel size along (z, y, x); distances are measured in these units.
    seed : int
        Seed of the tie-break at the last distance (``fraction`` only).

    Returns
    -------
    ndarray of uint8, shape ``active.shape``
        ``0`` pore, ``1`` binder, ``2`` active.

    Examples
    --------
    >>> import numpy as np
    >>> from uqtwin.phantoms import ACTIVE, BINDER, spheres_with_binder
    >>> active = spheres_with_binder((32, 32, 32), binder_thickness=0, seed=0) == ACTIVE
    >>> labels = binder_film(active, fraction=0.1)
    >>> round(float(np.mean(labels == BINDER)), 4)
    0.1
    >>> labels = binder_film(active, thickness=1.0)
    >>> round(float(np.mean(labels == BINDER)), 3)
    0.145
    """
    arr = as_particles(active)
    sp = check_spacing(spacing)
    if thickness is not None and fraction is not None:
        raise VolumeError("give either thickness or fraction of the binder film, not both")
    solid = arr.astype(bool)
    dist = ndimage.distance_transform_edt(~solid, sampling=sp)
    labels = np.where(solid, ACTIVE, PORE).astype(np.uint8)
    if fraction is None:
        t = 1.0 if thickness is None else float(thickness)
        if not (np.isfinite(t) and t > 0):
            raise VolumeError(f"thickness must be a finite number > 0, got {thickness!r}")
        labels[(dist > 0) & (dist <= t)] = BINDER
        return labels
    frac = check_open_unit(fraction, "fraction")
    n = _target_count(frac, int(np.count_nonzero(~solid)), solid.size)
    dist[solid] = np.inf
    labels[_lowest(dist, n, np.random.default_rng(seed))] = BINDER
    return labels


def binder_bridges(
    active: np.ndarray,
    *,
    fraction: float = 0.10,
    spacing: Sequence[float] | float = (1.0, 1.0, 1.0),
    seed: int = 0,
) -> np.ndarray:
    """Solid carbon-binder bridges (pendular necks) at particle contacts and near-contacts.

    Every pore voxel is ranked by ``d1 + d2``, its distances to the nearest and the
    second-nearest particle, and the lowest ranked become binder until the volume
    fraction is reached. The set ``d1 + d2 <= s`` between two particles is a lens around
    the segment of closest approach, so it appears only once ``s`` exceeds their gap and
    then always spans it: every bridge touches both particles, unlike the set
    ``max(d1, d2) <= d`` (within ``d`` of both), which leaves floating blobs in gaps
    between ``d`` and ``2 d`` wide. At a contact between spheres of radius ``R`` the lens
    is a ring of radius about ``sqrt(s R)``. A free surface, far from every other
    particle, gets no binder. Voxels tied at the last level go first to the pairs of
    narrowest gap (bridges already growing), then at random.

    Parameters
    ----------
    active : ndarray of bool or int, shape (nz, ny, nx)
        The particles: a boolean mask, split into particles by a watershed of its
        distance map (:func:`uqtwin.phantoms.particles.label_particles`), or integer
        particle ids (``0`` outside, one positive value per particle). A phase-label
        volume is *not* particle ids: pass ``labels == ACTIVE``.
    fraction : float
        Target binder volume fraction of the whole volume, in (0, 1); reached to one
        voxel.
    spacing : float or sequence of 3 floats
        Voxel size along (z, y, x); distances are measured in these units.
    seed : int
        Seed of the tie-break among voxels of equal rank and equal pair gap at the last
        level.

    Returns
    -------
    ndarray of uint8, shape ``active.shape``
        ``0`` pore, ``1`` binder, ``2`` active.

    Examples
    --------
    >>> import numpy as np
    >>> from uqtwin.phantoms import BINDER
    >>> z, y, x = np.ogrid[:32, :32, :56]
    >>> def ball(c, r):
    ...     return (z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= r * r
    >>> # two spheres touching at x = 15.5, a third one alone at x = 41 .. 51
    >>> active = ball((16, 16, 8), 7) | ball((16, 16, 23), 7) | ball((16, 16, 46), 5)
    >>> labels = binder_bridges(active, fraction=0.005)
    >>> round(float(np.mean(labels == BINDER)), 4)
    0.005
    >>> x_binder = np.nonzero(labels == BINDER)[2]  # all in the neck of the pair
    >>> int(x_binder.min()), int(x_binder.max())
    (14, 17)
    """
    arr = as_particles(active)
    frac = check_open_unit(fraction, "fraction")
    sp = check_spacing(spacing)
    if arr.dtype.kind == "b":
        ids = label_particles(arr, sp)
    else:
        # Consecutive ids (0 is present: as_particles refuses a volume without pore), so
        # the per-particle loop visits no empty label.
        ids = np.unique(arr, return_inverse=True)[1].reshape(arr.shape).astype(np.int32)
    n_particles = int(ids.max())
    if n_particles < 2:
        raise VolumeError(
            f"binder bridges need at least two particles, active holds {n_particles}"
            + ("" if arr.dtype.kind == "b" else
               " (an integer array is read as particle ids; pass a boolean mask to have "
               "the particles separated by a watershed)")
        )
    solid = ids > 0
    n = _target_count(frac, int(np.count_nonzero(~solid)), solid.size)
    # Distances are exact where d1 + d2 <= reach (see two_nearest); widen the reach until
    # that holds for n pore voxels, or until it spans the volume (every pore voxel).
    span = float(np.linalg.norm(np.multiply(arr.shape, sp)))
    reach = 4.0 * max(sp)
    while True:
        d1, d2, i1, i2 = two_nearest(ids, sp, reach)
        score = d1 + d2
        score[solid | (score > reach)] = np.inf
        if np.count_nonzero(np.isfinite(score)) >= n or reach > 2.0 * span:
            break
        reach *= 2.0
    labels = np.where(solid, ACTIVE, PORE).astype(np.uint8)
    tie = _pair_gaps(score, i1, i2)
    labels[_lowest(score, n, np.random.default_rng(seed), tie)] = BINDER
    return labels

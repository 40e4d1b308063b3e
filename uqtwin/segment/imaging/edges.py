"""Edge-spread profiles: selection of the clean dark-to-bright edges along one axis, their
raw profiles aligned at the ring mean's crossing, and the local interface geometry."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from uqtwin.segment.imaging._common import RELAXED_PLATEAUS

__all__ = ["EdgeProfiles", "edge_profiles", "edge_windows", "ring_mean"]

#: An edge is used along axis ``a`` when its unit normal has ``|n_a|`` above this.
_NORMAL_MIN = 0.9
#: The plateaus either side of an edge must be within this fraction of the contrast.
_PLATEAU_TOL = 0.1
#: Plateau distance (voxels) is ``_PLATEAU_SIGMAS * sigma + 1``.
_PLATEAU_SIGMAS = 2.5


@dataclass
class EdgeProfiles:
    """Edge profiles along one axis ``a``, oriented dark to bright, with local geometry.

    The interface near each profile is a height function ``x_a = h(x_p, x_q)`` over the
    two other axes (p < q in z, y, x order), measured on the smoothed volume at the
    crossing and multiplied by the orientation (+1 rising, -1 falling along ``a``):
    ``deriv`` holds ``(h_p, h_q, h_pp, h_qq, h_pq)``; ``grad_a`` is the smoothed grey's
    derivative along ``a`` (for the noise of the derivatives).
    """

    x: np.ndarray        # (n, w) offsets from the mid-level crossing, voxels
    y: np.ndarray        # (n, w) raw grey values
    deriv: np.ndarray    # (n, 5)
    grad_a: np.ndarray   # (n,)

    def __len__(self) -> int:
        return len(self.x)


def ring_mean(arr: np.ndarray, axis: int) -> np.ndarray:
    """Mean of the 8 neighbours in the plane normal to ``axis`` (not the voxel itself).

    Parameters
    ----------
    arr : ndarray of float, 3-D
        The volume.
    axis : int
        0, 1 or 2 (z, y, x): the neighbours are taken in the plane normal to it.

    Returns
    -------
    ndarray, same shape
        The mean of the 3 × 3 in-plane neighbourhood without its centre; the box sides are
        extended by their nearest value (``mode="nearest"``).
    """
    shape = [3, 3, 3]
    shape[axis] = 1
    k = np.ones(shape)
    centre = [1, 1, 1]
    centre[axis] = 0
    k[tuple(centre)] = 0.0
    return ndimage.convolve(arr, k / k.sum(), mode="nearest")


def edge_profiles(flat: np.ndarray, smooth: np.ndarray, ring: np.ndarray, axis: int,
                   lo: float, hi: float, half: int, plateau: int) -> EdgeProfiles:
    """Select the clean dark-to-bright edges along ``axis`` and pool their raw profiles.

    ``half``: the window is ``i - half .. i + 1 + half`` around the crossing between
    voxels ``i`` and ``i + 1``; ``plateau``: from this distance on (up to ``half``)
    the smoothed image must be within ``_PLATEAU_TOL`` of the contrast of the levels.
    """
    mid, contrast = 0.5 * (lo + hi), hi - lo
    v = np.moveaxis(flat, axis, -1)
    s = np.moveaxis(smooth, axis, -1)
    r = np.moveaxis(ring, axis, -1)
    n = v.shape[-1]
    d0, d1 = s[..., :-1] - mid, s[..., 1:] - mid
    cand = (d0 * d1 <= 0) & (d0 != d1)
    # Keep the window inside the volume and the 3 x 3 neighbourhood inside the plane.
    cand[..., :half] = False
    cand[..., n - 1 - half:] = False
    cand[0], cand[-1], cand[:, 0], cand[:, -1] = False, False, False, False
    p, q, i = np.nonzero(cand)

    def at(dp: int, dq: int, di: int) -> np.ndarray:
        return s[p + dp, q + dq, i + di].astype(np.float64)

    def pair(dp: int, dq: int) -> np.ndarray:
        # Mean over the two voxels either side of the crossing (its mid-point).
        return 0.5 * (at(dp, dq, 0) + at(dp, dq, 1))

    # Derivatives of the smoothed grey at the crossing's mid-point (central differences).
    s_a = at(0, 0, 1) - at(0, 0, 0)
    s_p = 0.5 * (pair(1, 0) - pair(-1, 0))
    s_q = 0.5 * (pair(0, 1) - pair(0, -1))
    ok = np.abs(s_a) > _NORMAL_MIN * np.sqrt(s_a**2 + s_p**2 + s_q**2)
    rising = s_a > 0
    # Plateau test on both sides, over distances plateau .. half from the crossing.
    dist = np.arange(plateau, half + 1)
    before = s[p[:, None], q[:, None], i[:, None] - dist[None, :]]
    after = s[p[:, None], q[:, None], i[:, None] + 1 + dist[None, :]]
    dark = np.where(rising[:, None], before, after)
    bright = np.where(rising[:, None], after, before)
    tol = _PLATEAU_TOL * contrast
    ok &= np.all(np.abs(dark - lo) < tol, axis=1) & np.all(np.abs(bright - hi) < tol, axis=1)
    p, q, i, rising = p[ok], q[ok], i[ok], rising[ok]
    s_a, s_p, s_q = s_a[ok], s_p[ok], s_q[ok]

    # Interface as a height function x_a = h(x_p, x_q) (implicit function theorem).
    s_pp = pair(1, 0) - 2.0 * pair(0, 0) + pair(-1, 0)
    s_qq = pair(0, 1) - 2.0 * pair(0, 0) + pair(0, -1)
    s_pq = 0.25 * (pair(1, 1) - pair(1, -1) - pair(-1, 1) + pair(-1, -1))
    s_ap = 0.5 * ((at(1, 0, 1) - at(1, 0, 0)) - (at(-1, 0, 1) - at(-1, 0, 0)))
    s_aq = 0.5 * ((at(0, 1, 1) - at(0, 1, 0)) - (at(0, -1, 1) - at(0, -1, 0)))
    s_aa = 0.5 * (at(0, 0, 2) - at(0, 0, 1) - at(0, 0, 0) + at(0, 0, -1))
    h_p, h_q = -s_p / s_a, -s_q / s_a
    h_pp = -(s_pp + 2.0 * s_ap * h_p + s_aa * h_p**2) / s_a
    h_qq = -(s_qq + 2.0 * s_aq * h_q + s_aa * h_q**2) / s_a
    h_pq = -(s_pq + s_ap * h_q + s_aq * h_p + s_aa * h_p * h_q) / s_a
    sign = np.where(rising, 1.0, -1.0)
    # A radius of curvature under one voxel is not resolved: such values are noise
    # (a nearly flat s_a), and unclipped they would dominate the mean squares.
    curv = np.clip(np.column_stack([h_pp, h_qq, h_pq]), -1.0, 1.0)
    deriv = np.column_stack([h_p, h_q, curv]) * sign[:, None]

    offs = np.arange(-half, half + 2)
    pos = i[:, None] + offs[None, :]
    y = v[p[:, None], q[:, None], pos]
    ring_prof = r[p[:, None], q[:, None], pos]
    # Orient dark -> bright: reversing a falling window keeps the crossing pair central.
    y = np.where(rising[:, None], y, y[:, ::-1])
    ring_prof = np.where(rising[:, None], ring_prof, ring_prof[:, ::-1])
    # Sub-voxel crossing of the ring mean (independent of the profile's own noise).
    c = np.full(i.size, np.nan)
    for j in (half, half - 1, half + 1):
        r0, r1 = ring_prof[:, j] - mid, ring_prof[:, j + 1] - mid
        hit = np.isnan(c) & (r0 <= 0) & (r1 > 0)
        c[hit] = j + r0[hit] / (r0[hit] - r1[hit])
    ok = ~np.isnan(c)
    x = np.arange(offs.size, dtype=float)[None, :] - c[ok, None]
    return EdgeProfiles(x, y[ok], deriv[ok], s_a[ok])


def edge_windows(sigma: float, n: int, level: int) -> tuple[int, int]:
    """Window half-width and plateau distance of the edge selection along one axis.

    Level 0 is the standard rule (plateaus from ``2.5 sigma + 1`` to the window's end at
    ``3 sigma + 1``); level ``k >= 1`` the ``k``-th relaxed rule of
    ``RELAXED_PLATEAUS``: plateaus from ``k_sigma * sigma + 1`` over two voxels, the
    window ending there (small volumes hold few particles wide enough for the standard
    rule at sigma >= 1.5). Both are clipped to the volume.
    """
    if level == 0:
        plateau = math.ceil(_PLATEAU_SIGMAS * sigma) + 1
        half = max(plateau, math.ceil(3.0 * sigma) + 1)
    else:
        plateau = math.ceil(RELAXED_PLATEAUS[level - 1] * sigma) + 1
        half = plateau + 1
    half = min(half, (n - 4) // 2)
    return half, min(plateau, half)

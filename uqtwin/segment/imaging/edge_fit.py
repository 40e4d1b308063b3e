"""Pooled edge fit: the edge-spread model (sampled Gaussian, spread of edge positions from
tilt and curvature, middle-phase film mixture) fitted per axis, with jackknife replicates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

from uqtwin.segment.imaging._common import JACKKNIFE_GROUPS, SMOOTH, gaussian_kernel
from uqtwin.segment.imaging.edges import EdgeProfiles

__all__ = ["axis_fit"]

#: Thickness (voxels) of the middle-phase layer in the edge-spread mixture.
_FILM = 1.0
_BIN = 0.05  # voxels: pooled samples and edge shifts are binned on this grid
#: Gauss-Hermite nodes per perpendicular axis for the spread of edge positions.
_HERMITE = 5
#: Mean squared offsets of the ring's columns (the 8 neighbours) along p and along q.
_RING_OFFSET2 = 0.75


def _esf(x: np.ndarray, sigma: float) -> np.ndarray:
    """Edge-spread function: sampled Gaussian convolved with a one-voxel box, 0 to 1.

    At offsets ``k + 1/2`` from a voxel-face step it is the cumulative sampled kernel
    (exact for a voxelised edge blurred by :func:`scipy.ndimage.gaussian_filter`);
    between them it interpolates linearly; for sigma >~ 1 it equals the erf.
    """
    m, w = gaussian_kernel(sigma)
    return np.clip(x[:, None] - m[None, :] + 0.5, 0.0, 1.0) @ w


def _noise_gains() -> np.ndarray:
    """Noise variance of the finite differences behind ``h_p, h_pp, h_pq`` in
    :func:`edge_profiles`, per unit voxel variance of white noise, after the
    ``SMOOTH`` Gaussian as scipy samples it."""
    _, k = gaussian_kernel(SMOOTH)

    def norm2(*ops: list[float]) -> float:
        out = 1.0
        for op in ops:
            out *= float(np.sum(np.convolve(k, op) ** 2))
        return out

    mean2, ident, central = [0.5, 0.5], [1.0], [0.5, 0.0, -0.5]
    return np.array([
        norm2(mean2, central, ident), norm2(mean2, central, ident),
        norm2(mean2, [1.0, -2.0, 1.0], ident), norm2(mean2, [1.0, -2.0, 1.0], ident),
        norm2(mean2, central, central),
    ])


def _shrunk(prof: EdgeProfiles, noise_var: float) -> np.ndarray:
    """Height derivatives scaled so their mean squares lose the expected noise part.

    Each finite difference carries noise of variance ``gain * noise_var``; divided by
    ``grad_a^2`` it adds to the mean square of every height derivative, which would
    widen the modelled spread of edge positions. Scaling by
    ``sqrt(1 - noise / mean square)`` removes it on average.
    """
    noise = _noise_gains() * noise_var * float(np.median(1.0 / prof.grad_a**2))
    msq = np.mean(prof.deriv**2, axis=0)
    scale = np.sqrt(np.clip(1.0 - noise / np.maximum(msq, 1e-300), 0.0, 1.0))
    return prof.deriv * scale


def _shift_histograms(deriv: np.ndarray, sig_pq: np.ndarray, groups: int,
                      limit: float) -> tuple[np.ndarray, int]:
    """Distribution of every edge's position in the blur footprint, relative to the
    alignment, per group of edges (rows sum to 1) and the offset of bin 0.

    Blur along ``p`` and ``q`` mixes neighbouring columns, whose edge lies at
    ``h(t_p, t_q) - h(0, 0) = h_p t_p + h_q t_q + (h_pp t_p^2 + h_qq t_q^2) / 2
    + h_pq t_p t_q`` with ``t ~ N(0, sigma_p^2), N(0, sigma_q^2)`` (Gauss-Hermite
    nodes). Tilt (linear terms) widens the pooled edge, curvature skews it. The profile
    is aligned at the ring mean's crossing: the blurred columns' mean position plus
    ``_RING_OFFSET2 (h_pp + h_qq) / 2`` (the ring's columns sit one voxel off).
    """
    nodes, weights = np.polynomial.hermite.hermgauss(_HERMITE)
    t = np.sqrt(2.0) * nodes
    w = weights / np.sqrt(np.pi)
    tp, tq = (np.meshgrid(t * sig_pq[0], t * sig_pq[1], indexing="ij"))
    wt = np.outer(w, w).ravel()
    tp, tq = tp.ravel(), tq.ravel()
    h_p, h_q, h_pp, h_qq, h_pq = (deriv[:, k:k + 1] for k in range(5))
    shift = (h_p * tp + h_q * tq + 0.5 * (h_pp * tp**2 + h_qq * tq**2) + h_pq * tp * tq)
    shift = np.clip(shift, -limit, limit)
    # Alignment: the mean position over the blur footprint (quadrature mean over the
    # nodes, with the far columns clipped) and the ring's own offset.
    mean = shift @ wt
    shift = np.clip(shift - mean[:, None] - 0.5 * _RING_OFFSET2 * (h_pp + h_qq),
                    -limit, limit)
    idx = np.rint(shift / _BIN).astype(np.int64)
    offset = int(idx.min())
    idx -= offset
    nb = int(idx.max()) + 1
    group = (np.arange(len(deriv)) * groups // max(len(deriv), 1))[:, None]
    flat = (group * nb + idx).ravel()
    hist = np.bincount(flat, np.broadcast_to(wt, idx.shape).ravel(), minlength=groups * nb)
    return hist.reshape(groups, nb), offset


def _binned(x: np.ndarray, y: np.ndarray, groups: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Counts and sums of the pooled samples on the ``_BIN`` grid, per contiguous group
    of profiles, and the grid index of bin 0 (centre ``(index + 1/2) * _BIN``)."""
    idx = np.floor(x / _BIN).astype(np.int64)
    offset = int(idx.min())
    idx -= offset
    nb = int(idx.max()) + 1
    group = np.repeat(np.arange(x.shape[0]) * groups // x.shape[0], x.shape[1])
    flat = group * nb + idx.ravel()
    cnt = np.bincount(flat, minlength=groups * nb).reshape(groups, nb)
    sy = np.bincount(flat, y.ravel().astype(np.float64), minlength=groups * nb)
    return cnt, sy.reshape(groups, nb), offset


@dataclass
class _Pooled:
    """Binned pooled samples and shift distribution of one axis (one group or all)."""

    cnt: np.ndarray
    sy: np.ndarray
    x_offset: int
    shifts: np.ndarray
    s_offset: int

    def model(self, params: np.ndarray, p_film: float | None) -> np.ndarray:
        """Expected grey in every data bin: the ESF (with the film mixture) averaged
        over the edge-position distribution, then levels and offset."""
        lo, hi, x0, sigma = params[:4]
        sigma = max(float(sigma), 0.05)
        nx, ns = self.cnt.size, self.shifts.size
        # Grid u_m = centre of data bin 0 - x0 - largest shift + m * _BIN, so that
        # model_k = sum_j shifts_j * esf(centre_k - x0 - shift_j) is a correlation.
        u = ((self.x_offset + 0.5) * _BIN - x0 - (self.s_offset + ns - 1) * _BIN
             + _BIN * np.arange(nx + ns - 1))
        edge = _esf(u, sigma)
        if p_film is not None:
            f = params[4]
            # A one-voxel layer of relative grey p_film centred on the interface.
            film = (p_film * _esf(u + _FILM / 2, sigma)
                    + (1.0 - p_film) * _esf(u - _FILM / 2, sigma))
            edge = (1.0 - f) * edge + f * film
        return lo + (hi - lo) * np.correlate(edge, self.shifts[::-1], mode="valid")


def _fit_edge(pooled: _Pooled, start: np.ndarray, p_film: float | None) -> np.ndarray:
    """Least-squares fit of the pooled edge model to binned means (weights: counts)."""
    m = pooled.cnt > 0
    yb = pooled.sy[m] / pooled.cnt[m]
    w = np.sqrt(pooled.cnt[m])
    lower = [-np.inf, -np.inf, -1.0, 0.05] + ([0.0] if p_film is not None else [])
    upper = [np.inf, np.inf, 1.0, 20.0] + ([1.0] if p_film is not None else [])
    start = np.clip(start, np.array(lower) + 1e-9, np.array(upper) - 1e-9)
    scale = [yb.std() + 1.0] * 2 + [0.1] * (len(start) - 2)
    res = optimize.least_squares(lambda q: w * (pooled.model(q, p_film)[m] - yb), start,
                                 bounds=(lower, upper), x_scale=scale)
    return res.x


def axis_fit(prof: EdgeProfiles, sigma: np.ndarray, axis: int, lo: float, hi: float,
              p_film: float | None, noise_var: float,
              jackknife: bool) -> tuple[np.ndarray, np.ndarray]:
    """Fitted (lo, hi, x0, sigma_a[, f]) of one axis, and delete-a-group replicates.

    ``sigma`` holds the current PSF of all axes; the other two set the spread of edge
    positions (see :func:`_shift_histograms`).
    """
    groups = JACKKNIFE_GROUPS if jackknife else 1
    cnt, sy, x_off = _binned(prof.x, prof.y, groups)
    sig_pq = sigma[[i for i in range(3) if i != axis]]
    limit = float(np.abs(prof.x).max()) + 2.0  # beyond: all dark or all bright
    shifts, s_off = _shift_histograms(_shrunk(prof, noise_var), sig_pq, groups, limit)
    start = np.array([lo, hi, 0.0, sigma[axis]] + ([0.3] if p_film is not None else []))

    def pooled(keep: np.ndarray) -> _Pooled:
        sh = shifts[keep].sum(0)
        return _Pooled(cnt[keep].sum(0), sy[keep].sum(0), x_off, sh / sh.sum(), s_off)

    full = _fit_edge(pooled(np.ones(groups, bool)), start, p_film)
    reps = [_fit_edge(pooled(np.arange(groups) != g), full, p_film)
            for g in range(groups)] if jackknife else []
    return full, np.array(reps)

"""Vector kernels of conjugate gradients: inner products and updates, reproducible.

Each reduction sums one accumulator per column of a plane (a unit-stride loop with
independent lanes, which vectorises without reassociation), then the columns and the
planes in order (:func:`serial_sum`): the same bits for any thread count and any
compilation (see :mod:`uqtwin.solvers` on ``fastmath``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = [
    "axpy",
    "cg_direction",
    "cg_update",
    "dot",
    "serial_sum",
]


@njit(cache=True, nogil=True)
def serial_sum(v):  # pragma: no cover - compiled
    """Sum in index order. ``v.sum()`` inside a parallel function becomes a parallel
    reduction whose order (and last bit) depends on the number of threads."""
    total = 0.0
    for i in range(v.size):
        total += v[i]
    return total


@njit(parallel=True, cache=True, nogil=True)
def dot(a, b):  # pragma: no cover - compiled
    """Sum of ``a * b`` over the real cells, accumulated in float64.

    Each plane sums its rows into one accumulator per column (a unit-stride loop with
    independent lanes, which vectorises without reassociation), then the columns and
    the planes in order: the same bits for any thread count and any compilation.
    """
    nz = a.shape[0] - 2
    ny = a.shape[1] - 2
    nx = a.shape[2] - 2
    planes = np.zeros(nz)
    for k in prange(1, nz + 1):
        acc = np.zeros(nx + 2)
        for j in range(1, ny + 1):
            for i in range(1, nx + 1):
                acc[i] += np.float64(a[k, j, i]) * np.float64(b[k, j, i])
        planes[k - 1] = serial_sum(acc)
    return serial_sum(planes)


@njit(parallel=True, cache=True, nogil=True)
def cg_update(x, r, p, q, alpha):  # pragma: no cover - compiled
    """``x += alpha p``, ``r -= alpha q``; returns ``r·r`` (float64, summed as :func:`dot`).

    One fused pass of the conjugate-gradient update (compiled with numba); the norm is
    summed in a fixed order so the result does not depend on the number of threads.

    Parameters
    ----------
    x, r, p, q : ndarray, padded, 3-D
        Solution, residual, search direction and ``A p`` (the solver's precision); ``x``
        and ``r`` are updated in place (real cells only).
    alpha : float
        Step length (applied in float32).

    Returns
    -------
    float
        The new residual's squared norm, accumulated in float64.
    """
    nz = x.shape[0] - 2
    ny = x.shape[1] - 2
    nx = x.shape[2] - 2
    al = np.float32(alpha)
    planes = np.zeros(nz)
    for k in prange(1, nz + 1):
        acc = np.zeros(nx + 2)
        for j in range(1, ny + 1):
            for i in range(1, nx + 1):
                x[k, j, i] += al * p[k, j, i]
                rv = r[k, j, i] - al * q[k, j, i]
                r[k, j, i] = rv
                acc[i] += np.float64(rv) * np.float64(rv)
        planes[k - 1] = serial_sum(acc)
    return serial_sum(planes)


@njit(parallel=True, cache=True, nogil=True)
def cg_direction(p, z, beta):  # pragma: no cover - compiled
    """``p = z + beta p``.

    The conjugate-gradient direction update, in place over the real cells (compiled with
    numba).

    Parameters
    ----------
    p : ndarray, padded, 3-D
        Search direction, updated in place.
    z : ndarray, padded, 3-D
        Preconditioned residual.
    beta : float
        Ratio of successive residual norms (applied in float32).
    """
    nz = p.shape[0] - 2
    ny = p.shape[1] - 2
    nx = p.shape[2] - 2
    be = np.float32(beta)
    for k in prange(1, nz + 1):
        for j in range(1, ny + 1):
            for i in range(1, nx + 1):
                p[k, j, i] = z[k, j, i] + be * p[k, j, i]


@njit(parallel=True, cache=True, nogil=True)
def axpy(x, p, alpha):  # pragma: no cover - compiled
    """``x += alpha p`` over the real cells (``alpha`` applied in float32, as
    :func:`cg_update` applies it)."""
    nz = x.shape[0] - 2
    ny = x.shape[1] - 2
    nx = x.shape[2] - 2
    al = np.float32(alpha)
    for k in prange(1, nz + 1):
        for j in range(1, ny + 1):
            for i in range(1, nx + 1):
                x[k, j, i] += al * p[k, j, i]

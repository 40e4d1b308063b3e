"""Smoothers: red-black Gauss-Seidel sweeps, and the relaxation of selected cells.

Red-black Gauss-Seidel (e.g. Trottenberg, Oosterlee & Schüller, *Multigrid*, 2001,
§2.1) smooths the error of the 7-point operator for the multigrid cycle
(:mod:`uqtwin.solvers.multigrid`): cells of one colour only read cells of the other.
:func:`relax_cells` gives the cells a warm start has no value for their neighbours'
level (breadth-first, then Gauss-Seidel on those cells alone).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = [
    "rbgs_pair",
    "rbgs_sweep",
    "relax_cells",
]


@njit(inline="always")
def _stencil(gz, gy, gx, x, k, j, i):  # pragma: no cover - compiled
    """Diagonal and off-diagonal sum of the 7-point operator at padded cell (k, j, i)."""
    a0 = gz[k - 1, j - 1, i - 1]
    a1 = gz[k, j - 1, i - 1]
    b0 = gy[k - 1, j - 1, i - 1]
    b1 = gy[k - 1, j, i - 1]
    c0 = gx[k - 1, j - 1, i - 1]
    c1 = gx[k - 1, j - 1, i]
    off = (a0 * x[k - 1, j, i] + a1 * x[k + 1, j, i] + b0 * x[k, j - 1, i]
           + b1 * x[k, j + 1, i] + c0 * x[k, j, i - 1] + c1 * x[k, j, i + 1])
    return a0 + a1 + b0 + b1 + c0 + c1, off


@njit(parallel=True, cache=True, nogil=True)
def rbgs_sweep(gz, gy, gx, x, b, color):  # pragma: no cover - compiled
    """One Gauss-Seidel half-sweep over the cells with ``(k + j + i) % 2 == color``.

    Cells of one colour only read cells of the other, so a whole row is computed into a
    buffer with a unit-stride (vectorisable) loop and the cells of this colour are copied
    back; a stride-2 loop over the colour would not vectorise and is 3-4x slower.
    """
    nz = x.shape[0] - 2
    nx = x.shape[2] - 2
    for k in prange(1, nz + 1):
        row = np.empty(nx + 2, dtype=x.dtype)
        _rb_plane(gz, gy, gx, x, b, k, color, row)


@njit(cache=True, nogil=True)
def _rb_plane(gz, gy, gx, x, b, k, color, row):  # pragma: no cover - compiled
    """Gauss-Seidel update of the cells of ``color`` in plane ``k`` (see :func:`rbgs_sweep`)."""
    ny = x.shape[1] - 2
    nx = x.shape[2] - 2
    for j in range(1, ny + 1):
        for i in range(1, nx + 1):
            d, off = _stencil(gz, gy, gx, x, k, j, i)
            row[i] = (b[k, j, i] + off) / d if d > 0 else b[k, j, i]
        i0 = 1 + (color + k + j + 1) % 2
        for i in range(i0, nx + 1, 2):
            x[k, j, i] = row[i]


@njit(parallel=True, cache=True, nogil=True)
def rbgs_pair(gz, gy, gx, x, b, first, nblocks):  # pragma: no cover - compiled
    """One red-black sweep (colour ``first``, then the other) in one pass over memory.

    Equal to ``rbgs_sweep(.., first)`` followed by ``rbgs_sweep(.., 1 - first)`` (the
    update of a colour does not depend on the order of its cells), for non-periodic
    ghosts. Each block of z-planes updates ``first`` on plane ``k`` and then the other
    colour on plane ``k - 1`` while both are in cache; the other colour on the first
    and last plane of each block (whose neighbours belong to another block) is
    updated after all blocks are done. Halves the memory traffic of the smoother.
    """
    nz = x.shape[0] - 2
    nx = x.shape[2] - 2
    nb = max(1, min(nblocks, nz // 3))
    second = 1 - first
    for blk in prange(nb):
        k0 = 1 + (blk * nz) // nb
        k1 = 1 + ((blk + 1) * nz) // nb
        row = np.empty(nx + 2, dtype=x.dtype)
        for k in range(k0, k1):
            _rb_plane(gz, gy, gx, x, b, k, first, row)
            if k - 1 > k0:
                _rb_plane(gz, gy, gx, x, b, k - 1, second, row)
    for blk in prange(nb):
        k0 = 1 + (blk * nz) // nb
        k1 = 1 + ((blk + 1) * nz) // nb
        row = np.empty(nx + 2, dtype=x.dtype)
        _rb_plane(gz, gy, gx, x, b, k0, second, row)
        if k1 - 1 > k0:
            _rb_plane(gz, gy, gx, x, b, k1 - 1, second, row)


@njit(cache=True, nogil=True)
def _unravel(idx, py, px):  # pragma: no cover - compiled
    return idx // (py * px), (idx // px) % py, idx % px


@njit(cache=True, nogil=True)
def _local_mean(gz, gy, gx, x, b, k, j, i, unknown):  # pragma: no cover - compiled
    """Source plus conductance-weighted neighbours of cell ``k, j, i`` over its diagonal,
    counting only neighbours not flagged in ``unknown``; returns (value, weight)."""
    a0 = np.float64(gz[k - 1, j - 1, i - 1]) * (1 - unknown[k - 1, j, i])
    a1 = np.float64(gz[k, j - 1, i - 1]) * (1 - unknown[k + 1, j, i])
    b0 = np.float64(gy[k - 1, j - 1, i - 1]) * (1 - unknown[k, j - 1, i])
    b1 = np.float64(gy[k - 1, j, i - 1]) * (1 - unknown[k, j + 1, i])
    c0 = np.float64(gx[k - 1, j - 1, i - 1]) * (1 - unknown[k, j, i - 1])
    c1 = np.float64(gx[k - 1, j - 1, i]) * (1 - unknown[k, j, i + 1])
    d = a0 + a1 + b0 + b1 + c0 + c1
    if d <= 0:
        return 0.0, 0.0
    v = (b[k, j, i] + a0 * x[k - 1, j, i] + a1 * x[k + 1, j, i] + b0 * x[k, j - 1, i]
         + b1 * x[k, j + 1, i] + c0 * x[k, j, i - 1] + c1 * x[k, j, i + 1]) / d
    return v, d


@njit(cache=True, nogil=True)
def relax_cells(gz, gy, gx, x, b, cells, max_sweeps, tol):  # pragma: no cover - compiled
    """Give the cells ``cells`` (flat indices into padded ``x``) values from their
    neighbours, in place; the other cells are kept.

    First in breadth-first order from the cells with values (each cell takes the
    conductance-weighted mean of its neighbours that already have one, the fixed face
    values included), so a cluster joined at one point starts at that point's level;
    then Gauss-Seidel sweeps over the listed cells, a cell leaving them once its update
    moves it by no more than ``tol`` (at most ``max_sweeps``). Returns the number of
    updates.
    """
    py = x.shape[1]
    px = x.shape[2]
    unknown = np.zeros(x.shape, dtype=np.uint8)
    for c in range(cells.shape[0]):
        k, j, i = _unravel(cells[c], py, px)
        unknown[k, j, i] = 1
    todo = cells.copy()
    n = todo.shape[0]
    updates = 0
    while n > 0:  # breadth-first: every round reaches one more layer
        m = 0
        for c in range(n):
            k, j, i = _unravel(todo[c], py, px)
            v, d = _local_mean(gz, gy, gx, x, b, k, j, i, unknown)
            if d > 0:
                x[k, j, i] = v
                unknown[k, j, i] = 0
            else:
                todo[m] = todo[c]
                m += 1
        updates += n
        if m == n:  # no path to a known value (cannot happen for cells of a solve)
            break
        n = m
    unknown[...] = 0
    todo[:] = cells
    n = todo.shape[0]
    for _ in range(max_sweeps):
        m = 0
        for c in range(n):
            k, j, i = _unravel(todo[c], py, px)
            v, d = _local_mean(gz, gy, gx, x, b, k, j, i, unknown)
            if d > 0:
                moved = abs(v - x[k, j, i])
                x[k, j, i] = v
                if moved > tol:
                    todo[m] = todo[c]
                    m += 1
        updates += n
        n = m
        if n == 0:
            break
    return updates

"""Grid transfers of the multigrid cycle: restriction, prolongation, coarse conductances.

Coarsening merges 2 x 2 x 2 cells (an axis of one cell is not coarsened). The transfers
are piecewise constant: restriction sums the children (:func:`restrict`), prolongation
injects the coarse value into them (:func:`prolong_add`); the coarse operator is the
Galerkin operator of that prolongation divided by the coarsening ratio along each face's
normal (:func:`coarsen_faces`). See Trottenberg, Oosterlee & Schüller, *Multigrid*
(Academic Press, 2001) for the transfers and the Galerkin coarse operator.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from uqtwin.solvers.operators import net_flux

__all__ = [
    "coarsen_faces",
    "prolong_add",
    "residual_restrict",
    "restrict",
]


@njit(parallel=True, cache=True, nogil=True)
def restrict(r, rc, rz, ry, rx):  # pragma: no cover - compiled
    """``rc = R r``: fine values summed over the children of each coarse cell.

    Compiled with numba (parallel over coarse z planes).

    Parameters
    ----------
    r : ndarray, padded, 3-D
        Fine-grid values (only the real cells are read).
    rc : ndarray, padded, 3-D
        Coarse-grid output; its real cells are overwritten.
    rz, ry, rx : int
        Coarsening ratio along z, y, x: 2, or 1 for an axis that is not coarsened. A last
        coarse cell over an odd fine count has one child along that axis.
    """
    nz = r.shape[0] - 2
    ny = r.shape[1] - 2
    nx = r.shape[2] - 2
    nzc = rc.shape[0] - 2
    nyc = rc.shape[1] - 2
    nxc = rc.shape[2] - 2
    for kc in prange(1, nzc + 1):
        for jc in range(1, nyc + 1):
            for ic in range(1, nxc + 1):
                rc[kc, jc, ic] = 0.0
            for dk in range(rz):
                k = rz * (kc - 1) + dk + 1
                if k > nz:
                    continue
                for dj in range(ry):
                    j = ry * (jc - 1) + dj + 1
                    if j > ny:
                        continue
                    if rx == 2:
                        for ic in range(1, nx // 2 + 1):
                            rc[kc, jc, ic] += r[k, j, 2 * ic - 1] + r[k, j, 2 * ic]
                        if nx % 2 == 1:
                            rc[kc, jc, nxc] += r[k, j, nx]
                    else:
                        for ic in range(1, nxc + 1):
                            rc[kc, jc, ic] += r[k, j, ic]


def residual_restrict(gz, gy, gx, x, b, rc, rz, ry, rx, work=None):
    """``rc = R (b - A x)`` in one pass over the fine grid.

    Each fine row's residual (:func:`~uqtwin.solvers.operators.coarse_residual`) is
    formed in a float32 row buffer and summed into its coarse row in the order of
    :func:`restrict`: the numbers of the residual written out and then restricted, to
    the bit, without a scratch array of the fine shape (4 bytes a voxel).

    Parameters
    ----------
    gz, gy, gx : ndarray
        Face conductances of the fine grid.
    x, b : ndarray, padded
        Current solution and right-hand side on the fine grid.
    rc : ndarray, padded
        Coarse-grid output; its real cells are overwritten.
    rz, ry, rx : int
        Coarsening ratios along z, y, x (2, or 1 for an axis not coarsened).
    work : None
        Ignored (the scratch array it once was is no longer needed).
    """
    _residual_restrict(gz, gy, gx, x, b, rc, rz, ry, rx)


@njit(cache=True, nogil=True)
def _residual_row(gz, gy, gx, x, b, k, j, row):  # pragma: no cover - compiled
    """Row ``(k, j)`` of :func:`~uqtwin.solvers.operators.coarse_residual` into ``row``."""
    nx = x.shape[2] - 2
    for i in range(1, nx + 1):
        flux = net_flux(gz, gy, gx, x, k, j, i)
        inside = (gz[k - 1, j - 1, i - 1] + gz[k, j - 1, i - 1] + gy[k - 1, j - 1, i - 1]
                  + gy[k - 1, j, i - 1] + gx[k - 1, j - 1, i - 1]
                  + gx[k - 1, j - 1, i]) > 0
        row[i] = b[k, j, i] - flux if inside else 0.0


@njit(parallel=True, cache=True, nogil=True)
def _residual_restrict(gz, gy, gx, x, b, rc, rz, ry, rx):  # pragma: no cover - compiled
    nz = x.shape[0] - 2
    ny = x.shape[1] - 2
    nx = x.shape[2] - 2
    nzc = rc.shape[0] - 2
    nyc = rc.shape[1] - 2
    nxc = rc.shape[2] - 2
    for kc in prange(1, nzc + 1):
        row = np.zeros(nx + 2, dtype=rc.dtype)
        for jc in range(1, nyc + 1):
            for ic in range(1, nxc + 1):
                rc[kc, jc, ic] = 0.0
            for dk in range(rz):
                k = rz * (kc - 1) + dk + 1
                if k > nz:
                    continue
                for dj in range(ry):
                    j = ry * (jc - 1) + dj + 1
                    if j > ny:
                        continue
                    _residual_row(gz, gy, gx, x, b, k, j, row)
                    if rx == 2:
                        for ic in range(1, nx // 2 + 1):
                            rc[kc, jc, ic] += row[2 * ic - 1] + row[2 * ic]
                        if nx % 2 == 1:
                            rc[kc, jc, nxc] += row[nx]
                    else:
                        for ic in range(1, nxc + 1):
                            rc[kc, jc, ic] += row[ic]


@njit(parallel=True, cache=True, nogil=True)
def prolong_add(x, xc, rz, ry, rx):  # pragma: no cover - compiled
    """``x += P xc``: piecewise-constant interpolation of the coarse correction.

    Compiled with numba (parallel over fine z planes).

    Parameters
    ----------
    x : ndarray, padded, 3-D
        Fine-grid solution; each real cell gets its coarse parent's value added.
    xc : ndarray, padded, 3-D
        Coarse-grid correction.
    rz, ry, rx : int
        Coarsening ratios along z, y, x (2, or 1 for an axis not coarsened).
    """
    nz = x.shape[0] - 2
    ny = x.shape[1] - 2
    nx = x.shape[2] - 2
    for k in prange(1, nz + 1):
        kc = (k - 1) // rz + 1
        for j in range(1, ny + 1):
            jc = (j - 1) // ry + 1
            if rx == 2:
                for ic in range(1, nx // 2 + 1):
                    v = xc[kc, jc, ic]
                    x[k, j, 2 * ic - 1] += v
                    x[k, j, 2 * ic] += v
                if nx % 2 == 1:
                    x[k, j, nx] += xc[kc, jc, (nx + 1) // 2]
            else:
                for i in range(1, nx + 1):
                    x[k, j, i] += xc[kc, jc, i]


@njit(parallel=True, cache=True, nogil=True)
def coarsen_faces(g, axis, r0, r1, r2, out):  # pragma: no cover - compiled
    """Coarse face conductances: fine faces summed over the coarse face, over the ratio.

    For a homogeneous medium this reproduces the conductance ``k A / d`` of the coarse
    grid exactly (area x4, distance x2); it is the Galerkin operator of the
    piecewise-constant interpolation divided by the coarsening ratio along the axis,
    which keeps the coarse correction of smooth errors at the right size.
    """
    ratios = (r0, r1, r2)
    ra = ratios[axis]
    n_fine_faces = g.shape[axis]  # n + 1
    m0, m1, m2 = out.shape
    scale = 1.0 / ra
    for c0 in prange(m0):
        for c1 in range(m1):
            for c2 in range(m2):
                s = 0.0
                cc = (c0, c1, c2)
                for d0 in range(1 if axis == 0 else r0):
                    f0 = cc[0] * r0 + d0
                    if axis == 0:
                        f0 = min(cc[0] * ra, n_fine_faces - 1)
                    elif f0 >= g.shape[0]:
                        continue
                    for d1 in range(1 if axis == 1 else r1):
                        f1 = cc[1] * r1 + d1
                        if axis == 1:
                            f1 = min(cc[1] * ra, n_fine_faces - 1)
                        elif f1 >= g.shape[1]:
                            continue
                        for d2 in range(1 if axis == 2 else r2):
                            f2 = cc[2] * r2 + d2
                            if axis == 2:
                                f2 = min(cc[2] * ra, n_fine_faces - 1)
                            elif f2 >= g.shape[2]:
                                continue
                            s += g[f0, f1, f2]
                out[c0, c1, c2] = s * scale

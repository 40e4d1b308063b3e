"""Media of one conductivity: the face conductances implied by a mask, computed on the fly.

When every cell in the solve has the same conductivity ``c`` (a tortuosity solve: the
phase at ``D = 1``; a boolean input), the face rule of
:mod:`~uqtwin.solvers.conductances` leaves three values per axis: ``G_a`` (the harmonic
mean of ``c`` and ``c`` times ``A_a / h_a``) on a face between two cells in the solve,
``2 G_a`` on a driven outer face (half a cell) and 0 elsewhere. So a *padded mask* ``m``
(uint8, the layout of :mod:`~uqtwin.solvers.layout`) holds all of them: 1 on the cells
in the solve, and in the ghost frame 2 along the driven axis, a copy of the opposite side
along a periodic axis and 0 along an insulated one (:func:`mask_ghosts`). Every face is
then ``G = u_a · m_c · m_n`` with ``u = (G_z, G_y, G_x)`` in float32, the very bits of
the stored conductances (the products are 0, 1 or 2: exact), and the kernels here repeat
the arithmetic of :mod:`~uqtwin.solvers.operators`, :mod:`~uqtwin.solvers.smoothers` and
:mod:`~uqtwin.solvers.transfer` in the same order: the same numbers to the bit, from one
byte per voxel instead of the twelve of ``gz, gy, gx``.

The right-hand side of a unit drop is implied too: ``b = G`` of the inlet face on the
first layer of cells along the driven axis (:func:`mask_residual`). The smoother and the
restriction can also read their right-hand side as the residual of an iterate, formed
on the fly (their ``axis`` argument), and :func:`mask_residual_dot` gives ``r · z`` the
same way: CG then stores no residual (:func:`~uqtwin.solvers.cg.pcg_residual_free`).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from uqtwin.solvers.layout import fill_ghosts
from uqtwin.solvers.vectors import serial_sum

__all__ = [
    "mask_apply",
    "mask_face",
    "mask_faces",
    "mask_ghosts",
    "mask_rbgs_pair",
    "mask_rbgs_sweep",
    "mask_residual",
    "mask_residual_dot",
    "mask_residual_restrict",
    "coarsen_mask_faces",
]


def mask_ghosts(m: np.ndarray, axis: int, periodic) -> None:
    """Set the ghost frame of the padded mask ``m`` for a solve driven along ``axis``.

    2 on both sides of ``axis`` (a fixed-value face: twice the interior conductance),
    the opposite side along ``periodic`` axes, 0 along the others (insulated).

    Examples
    --------
    >>> m = np.ones((4, 3, 3), np.uint8)
    >>> mask_ghosts(m, 0, (False, False, False))
    >>> m[:, 1, 1].tolist(), m[1, :, 1].tolist()
    ([2, 1, 1, 2], [0, 1, 0])
    """
    m[0] = m[-1] = 0
    m[:, 0] = m[:, -1] = 0
    m[:, :, 0] = m[:, :, -1] = 0
    fill_ghosts(m, tuple(bool(p) and a != axis for a, p in enumerate(periodic)))
    first = [slice(1, -1)] * 3
    last = [slice(1, -1)] * 3
    first[axis], last[axis] = 0, m.shape[axis] - 1
    m[tuple(first)] = 2
    m[tuple(last)] = 2


@njit(inline="always")
def _g6(m, unit, k, j, i):  # pragma: no cover - compiled
    """The six face conductances of padded cell (k, j, i), float32, in the order
    (z below, z above, y below, y above, x below, x above)."""
    mc = np.float32(m[k, j, i])
    a0 = unit[0] * (mc * np.float32(m[k - 1, j, i]))
    a1 = unit[0] * (mc * np.float32(m[k + 1, j, i]))
    b0 = unit[1] * (mc * np.float32(m[k, j - 1, i]))
    b1 = unit[1] * (mc * np.float32(m[k, j + 1, i]))
    c0 = unit[2] * (mc * np.float32(m[k, j, i - 1]))
    c1 = unit[2] * (mc * np.float32(m[k, j, i + 1]))
    return a0, a1, b0, b1, c0, c1


@njit(inline="always")
def _flux(m, unit, x, k, j, i):  # pragma: no cover - compiled
    """``(A x)_c`` as face fluxes and whether the cell is in the solve (see
    :func:`~uqtwin.solvers.operators.apply_operator`)."""
    a0, a1, b0, b1, c0, c1 = _g6(m, unit, k, j, i)
    xc = x[k, j, i]
    flux = (a0 * (xc - x[k - 1, j, i]) + a1 * (xc - x[k + 1, j, i])
            + b0 * (xc - x[k, j - 1, i]) + b1 * (xc - x[k, j + 1, i])
            + c0 * (xc - x[k, j, i - 1]) + c1 * (xc - x[k, j, i + 1]))
    return flux, (a0 + a1 + b0 + b1 + c0 + c1) > 0


@njit(parallel=True, cache=True, nogil=True)
def mask_apply(m, unit, x, y):  # pragma: no cover - compiled
    """``y = A x`` (identity on cells outside the solve):
    :func:`~uqtwin.solvers.operators.apply_operator` with the conductances of ``m``."""
    nz = x.shape[0] - 2
    ny = x.shape[1] - 2
    nx = x.shape[2] - 2
    for k in prange(1, nz + 1):
        for j in range(1, ny + 1):
            for i in range(1, nx + 1):
                flux, inside = _flux(m, unit, x, k, j, i)
                y[k, j, i] = flux if inside else x[k, j, i]


@njit(parallel=True, cache=True, nogil=True)
def mask_residual(m, unit, x, axis, r):  # pragma: no cover - compiled
    """``r = b - A x`` in float64 (0 outside the solve), ``b`` the unit drop along
    ``axis``: :func:`~uqtwin.solvers.operators.residual` with the right-hand side of
    :func:`~uqtwin.solvers.operators.dirichlet_rhs`, both implied by ``m``."""
    nz = x.shape[0] - 2
    ny = x.shape[1] - 2
    nx = x.shape[2] - 2
    for k in prange(1, nz + 1):
        for j in range(1, ny + 1):
            for i in range(1, nx + 1):
                g = _g6(m, unit, k, j, i)
                a0 = np.float64(g[0])
                a1 = np.float64(g[1])
                b0 = np.float64(g[2])
                b1 = np.float64(g[3])
                c0 = np.float64(g[4])
                c1 = np.float64(g[5])
                if axis == 0:
                    bc = a0 if k == 1 else 0.0
                elif axis == 1:
                    bc = b0 if j == 1 else 0.0
                else:
                    bc = c0 if i == 1 else 0.0
                d = a0 + a1 + b0 + b1 + c0 + c1
                off = (a0 * x[k - 1, j, i] + a1 * x[k + 1, j, i] + b0 * x[k, j - 1, i]
                       + b1 * x[k, j + 1, i] + c0 * x[k, j, i - 1] + c1 * x[k, j, i + 1])
                r[k, j, i] = bc - (d * x[k, j, i] - off) if d > 0 else 0.0


@njit(inline="always")
def _rhs(m, b, axis, k, j, i, a0, a1, b0, b1, c0, c1):  # pragma: no cover - compiled
    """The right-hand side at padded cell (k, j, i) of conductances ``a0 .. c1``: ``b``
    itself for ``axis < 0``; else ``b`` is an iterate and the right-hand side is its
    residual of the unit drop along ``axis`` (:func:`mask_residual`), rounded to
    float32 as the CG's residual array would hold it."""
    if axis < 0:
        return b[k, j, i]
    g0 = np.float64(a0)
    g1 = np.float64(a1)
    h0 = np.float64(b0)
    h1 = np.float64(b1)
    e0 = np.float64(c0)
    e1 = np.float64(c1)
    if axis == 0:
        bc = g0 if k == 1 else 0.0
    elif axis == 1:
        bc = h0 if j == 1 else 0.0
    else:
        bc = e0 if i == 1 else 0.0
    d = g0 + g1 + h0 + h1 + e0 + e1
    off = (g0 * b[k - 1, j, i] + g1 * b[k + 1, j, i] + h0 * b[k, j - 1, i]
           + h1 * b[k, j + 1, i] + e0 * b[k, j, i - 1] + e1 * b[k, j, i + 1])
    r = bc - (d * b[k, j, i] - off) if d > 0 else 0.0
    return np.float32(r)


@njit(cache=True, nogil=True)
def _rb_plane(m, unit, x, b, k, color, row, axis):  # pragma: no cover - compiled
    """Gauss-Seidel update of the cells of ``color`` in plane ``k`` (as
    :func:`~uqtwin.solvers.smoothers.rbgs_sweep`; ``b, axis`` as in :func:`_rhs`)."""
    ny = x.shape[1] - 2
    nx = x.shape[2] - 2
    for j in range(1, ny + 1):
        for i in range(1, nx + 1):
            a0, a1, b0, b1, c0, c1 = _g6(m, unit, k, j, i)
            off = (a0 * x[k - 1, j, i] + a1 * x[k + 1, j, i] + b0 * x[k, j - 1, i]
                   + b1 * x[k, j + 1, i] + c0 * x[k, j, i - 1] + c1 * x[k, j, i + 1])
            d = a0 + a1 + b0 + b1 + c0 + c1
            bv = _rhs(m, b, axis, k, j, i, a0, a1, b0, b1, c0, c1)
            row[i] = (bv + off) / d if d > 0 else bv
        i0 = 1 + (color + k + j + 1) % 2
        for i in range(i0, nx + 1, 2):
            x[k, j, i] = row[i]


@njit(parallel=True, cache=True, nogil=True)
def mask_rbgs_sweep(m, unit, x, b, color, axis):  # pragma: no cover - compiled
    """:func:`~uqtwin.solvers.smoothers.rbgs_sweep` with the conductances of ``m``.

    ``axis``: -1 (``b`` is the right-hand side), or the driven axis when ``b`` is an
    iterate whose residual is the right-hand side (:func:`_rhs`)."""
    nz = x.shape[0] - 2
    nx = x.shape[2] - 2
    for k in prange(1, nz + 1):
        row = np.empty(nx + 2, dtype=x.dtype)
        _rb_plane(m, unit, x, b, k, color, row, axis)


@njit(parallel=True, cache=True, nogil=True)
def mask_rbgs_pair(m, unit, x, b, first, nblocks, axis):  # pragma: no cover - compiled
    """:func:`~uqtwin.solvers.smoothers.rbgs_pair` with the conductances of ``m``
    (``axis`` as in :func:`mask_rbgs_sweep`)."""
    nz = x.shape[0] - 2
    nx = x.shape[2] - 2
    nb = max(1, min(nblocks, nz // 3))
    second = 1 - first
    for blk in prange(nb):
        k0 = 1 + (blk * nz) // nb
        k1 = 1 + ((blk + 1) * nz) // nb
        row = np.empty(nx + 2, dtype=x.dtype)
        for k in range(k0, k1):
            _rb_plane(m, unit, x, b, k, first, row, axis)
            if k - 1 > k0:
                _rb_plane(m, unit, x, b, k - 1, second, row, axis)
    for blk in prange(nb):
        k0 = 1 + (blk * nz) // nb
        k1 = 1 + ((blk + 1) * nz) // nb
        row = np.empty(nx + 2, dtype=x.dtype)
        _rb_plane(m, unit, x, b, k0, second, row, axis)
        if k1 - 1 > k0:
            _rb_plane(m, unit, x, b, k1 - 1, second, row, axis)


@njit(cache=True, nogil=True)
def _residual_row(m, unit, x, b, k, j, row, axis):  # pragma: no cover - compiled
    """Row ``(k, j)`` of :func:`~uqtwin.solvers.operators.coarse_residual` into ``row``
    (``b, axis`` as in :func:`_rhs`)."""
    nx = x.shape[2] - 2
    for i in range(1, nx + 1):
        a0, a1, b0, b1, c0, c1 = _g6(m, unit, k, j, i)
        xc = x[k, j, i]
        flux = (a0 * (xc - x[k - 1, j, i]) + a1 * (xc - x[k + 1, j, i])
                + b0 * (xc - x[k, j - 1, i]) + b1 * (xc - x[k, j + 1, i])
                + c0 * (xc - x[k, j, i - 1]) + c1 * (xc - x[k, j, i + 1]))
        inside = (a0 + a1 + b0 + b1 + c0 + c1) > 0
        bv = _rhs(m, b, axis, k, j, i, a0, a1, b0, b1, c0, c1)
        row[i] = bv - flux if inside else 0.0


@njit(parallel=True, cache=True, nogil=True)
def mask_residual_restrict(m, unit, x, b, rc, rz, ry, rx, axis):  # pragma: no cover - compiled
    """``rc = R (b - A x)`` in one pass, without a fine scratch array:
    :func:`~uqtwin.solvers.transfer.residual_restrict` with the conductances of ``m``
    (``axis`` as in :func:`mask_rbgs_sweep`)."""
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
                    _residual_row(m, unit, x, b, k, j, row, axis)
                    if rx == 2:
                        for ic in range(1, nx // 2 + 1):
                            rc[kc, jc, ic] += row[2 * ic - 1] + row[2 * ic]
                        if nx % 2 == 1:
                            rc[kc, jc, nxc] += row[nx]
                    else:
                        for ic in range(1, nxc + 1):
                            rc[kc, jc, ic] += row[ic]


@njit(parallel=True, cache=True, nogil=True)
def mask_residual_dot(m, unit, x, axis, z):  # pragma: no cover - compiled
    """``r · z`` with ``r`` the residual of the iterate ``x`` (unit drop along
    ``axis``), rounded as :func:`_rhs` rounds it, without a residual array; summed
    as :func:`~uqtwin.solvers.vectors.dot` (float64, per column, then in order)."""
    nz = x.shape[0] - 2
    ny = x.shape[1] - 2
    nx = x.shape[2] - 2
    planes = np.zeros(nz)
    for k in prange(1, nz + 1):
        acc = np.zeros(nx + 2)
        for j in range(1, ny + 1):
            for i in range(1, nx + 1):
                a0, a1, b0, b1, c0, c1 = _g6(m, unit, k, j, i)
                rv = _rhs(m, x, axis, k, j, i, a0, a1, b0, b1, c0, c1)
                acc[i] += np.float64(rv) * np.float64(z[k, j, i])
        planes[k - 1] = serial_sum(acc)
    return serial_sum(planes)


@njit(inline="always")
def mask_face(m, unit, axis, f0, f1, f2):  # pragma: no cover - compiled
    """Conductance of face (f0, f1, f2) of the array of faces normal to ``axis``
    (``gz[f0, f1, f2]`` for ``axis = 0``, and so on), float32."""
    if axis == 0:
        return unit[0] * (np.float32(m[f0, f1 + 1, f2 + 1]) * np.float32(m[f0 + 1, f1 + 1, f2 + 1]))
    if axis == 1:
        return unit[1] * (np.float32(m[f0 + 1, f1, f2 + 1]) * np.float32(m[f0 + 1, f1 + 1, f2 + 1]))
    return unit[2] * (np.float32(m[f0 + 1, f1 + 1, f2]) * np.float32(m[f0 + 1, f1 + 1, f2 + 1]))


@njit(parallel=True, cache=True, nogil=True)
def mask_faces(m, unit, axis, out, first):  # pragma: no cover - compiled
    """The face conductances normal to ``axis`` written out from ``m`` into ``out``:
    the layers of faces ``first, first + 1, ...`` along ``axis`` of ``gz``, ``gy`` or
    ``gx`` (:mod:`~uqtwin.solvers.layout`; ``first = 0`` and ``out`` of their shape: the
    whole array)."""
    n0, n1, n2 = out.shape
    for f0 in prange(n0):
        for f1 in range(n1):
            for f2 in range(n2):
                if axis == 0:
                    out[f0, f1, f2] = mask_face(m, unit, 0, f0 + first, f1, f2)
                elif axis == 1:
                    out[f0, f1, f2] = mask_face(m, unit, 1, f0, f1 + first, f2)
                else:
                    out[f0, f1, f2] = mask_face(m, unit, 2, f0, f1, f2 + first)


@njit(parallel=True, cache=True, nogil=True)
def coarsen_mask_faces(m, unit, axis, r0, r1, r2, out):  # pragma: no cover - compiled
    """:func:`~uqtwin.solvers.transfer.coarsen_faces` of the faces of ``m`` normal to
    ``axis``, without writing them out (same sums, same order)."""
    ratios = (r0, r1, r2)
    ra = ratios[axis]
    shape = (m.shape[0] - 2, m.shape[1] - 2, m.shape[2] - 2)
    n_fine_faces = shape[axis] + 1
    g0 = shape[0] + (1 if axis == 0 else 0)
    g1 = shape[1] + (1 if axis == 1 else 0)
    g2 = shape[2] + (1 if axis == 2 else 0)
    m0, m1, m2 = out.shape
    scale = 1.0 / ra
    for c0 in prange(m0):
        for c1 in range(m1):
            for c2 in range(m2):
                s = 0.0
                for d0 in range(1 if axis == 0 else r0):
                    f0 = c0 * r0 + d0
                    if axis == 0:
                        f0 = min(c0 * ra, n_fine_faces - 1)
                    elif f0 >= g0:
                        continue
                    for d1 in range(1 if axis == 1 else r1):
                        f1 = c1 * r1 + d1
                        if axis == 1:
                            f1 = min(c1 * ra, n_fine_faces - 1)
                        elif f1 >= g1:
                            continue
                        for d2 in range(1 if axis == 2 else r2):
                            f2 = c2 * r2 + d2
                            if axis == 2:
                                f2 = min(c2 * ra, n_fine_faces - 1)
                            elif f2 >= g2:
                                continue
                            s += mask_face(m, unit, axis, f0, f1, f2)
                out[c0, c1, c2] = s * scale

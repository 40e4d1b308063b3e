"""Face conductances and the matrix-free 7-point finite-volume operator on a voxel grid.

Layout
------
Cell values live in *padded* arrays of shape ``(nz + 2, ny + 2, nx + 2)``: the real cells
are ``[1:-1, 1:-1, 1:-1]`` and the one-cell frame of ghosts is zero, except along periodic
axes where it holds a copy of the opposite side (:func:`fill_ghosts`). With the ghosts the
kernels need no boundary branches, so the inner loops vectorise.

Face conductances (``G = k A / d`` in units of conductivity x length) live in three arrays

* ``gz`` of shape ``(nz + 1, ny, nx)``: face ``f`` lies between cells ``f - 1`` and ``f``,
* ``gy`` of shape ``(nz, ny + 1, nx)``, ``gx`` of shape ``(nz, ny, nx + 1)`` likewise.

Faces ``0`` and ``n`` are the outer faces. Along the driven axis they hold the conductance
of the half cell between the first cell centre and the face (fixed value on the face,
TauFactor's convention); along an insulated axis they are zero; along a periodic axis both
hold the conductance of the wrap-around face.

A cell whose six face conductances are all zero is outside the solve (solid, or removed
because it does not connect the driven faces); the operator acts as the identity on it, so
the system stays symmetric positive definite and those cells stay exactly zero.

Reproducibility
---------------
No kernel uses ``fastmath``. With its value-changing flags (``reassoc``, ``contract``)
a parallel kernel's result depended on how LLVM happened to optimise the parfor body,
and the code compiled in the process and the code loaded from numba's cache were not
optimised alike: ``apply_operator`` and ``_coarse_residual`` gave different bits either
way, and transport results differed by ~1e-5 relative (in float64 a 64³ high-contrast
solve took 374 iterations compiled, 115 cached). Without those flags every optimisation
must keep the IEEE result. The stencil loops vectorise without them (no reduction; the
same speed, measured); the reductions (:func:`dot`, :func:`cg_update`) keep one
accumulator per column of a plane, whose lanes are independent and vectorise without
reassociation, and sum the columns and the planes in order.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = [
    "apply_operator",
    "dirichlet_rhs",
    "face_conductances",
    "face_energy",
    "fill_ghosts",
    "padded_zeros",
    "relax_cells",
]


def padded_zeros(shape, dtype=np.float32) -> np.ndarray:
    """Zero array with a one-cell ghost frame around ``shape``."""
    nz, ny, nx = shape
    return np.zeros((nz + 2, ny + 2, nx + 2), dtype=dtype)


def outer_face_layers(g: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Views of the first and last layers of faces normal to ``axis`` (kept 3-D)."""
    n = g.shape[axis]
    first = [slice(None)] * 3
    last = [slice(None)] * 3
    first[axis], last[axis] = slice(0, 1), slice(n - 1, n)
    return g[tuple(first)], g[tuple(last)]


def fill_ghosts(x: np.ndarray, periodic) -> None:
    """Copy the opposite side into the ghost frame along the periodic axes (in place)."""
    if periodic[0]:
        x[0] = x[-2]
        x[-1] = x[1]
    if periodic[1]:
        x[:, 0] = x[:, -2]
        x[:, -1] = x[:, 1]
    if periodic[2]:
        x[:, :, 0] = x[:, :, -2]
        x[:, :, -1] = x[:, :, 1]


def _harmonic_faces(k_lo: np.ndarray, k_hi: np.ndarray, geom: float) -> np.ndarray:
    """``geom * 2 k1 k2 / (k1 + k2)``: two half cells in series; zero if either side is."""
    num = 2.0 * k_lo * k_hi
    den = k_lo + k_hi
    out = np.zeros(np.broadcast_shapes(k_lo.shape, k_hi.shape), dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    out *= geom
    return out


def face_conductances(
    k: np.ndarray,
    spacing,
    axis: int | None,
    *,
    periodic=(False, False, False),
    particles: np.ndarray | None = None,
    contact_resistance: float = 0.0,
    dtype=np.float32,
):
    """Face conductances of a voxel conductivity field, driven along ``axis``.

    Parameters
    ----------
    k : ndarray of float, shape (nz, ny, nx)
        Conductivity (or diffusivity) of every voxel; 0 for voxels outside the solve.
    spacing : tuple of 3 floats
        Voxel size along (z, y, x), in any length unit ``ℓ``.
    axis : int or None
        Driven axis (0, 1 or 2): its two outer faces get fixed values, half a voxel
        outside the first and last cell centres. None: no driven axis (the solver then
        sets the driven faces per axis, sharing the rest).
    periodic : tuple of 3 bools
        Periodic wrap along each axis; ignored for the driven axis. Non-periodic,
        non-driven sides are insulated (no flux).
    particles : ndarray of int, optional
        Particle label of every voxel (0 = not a particle). A face between two different
        positive labels gets an extra series resistance ``contact_resistance / A_face``.
    contact_resistance : float
        Area-specific contact resistance, in units of ``ℓ / [k]`` (for ``k`` in S/m and
        ``ℓ`` in m: Ω·m²).
    dtype : numpy dtype
        Storage type of the result (float32 halves memory and bandwidth).

    Returns
    -------
    tuple of 3 ndarrays
        ``(gz, gy, gx)``: conductances ``k A / d`` (units ``[k]·ℓ``) of the z-, y- and
        x-faces, shapes ``(nz+1, ny, nx)``, ``(nz, ny+1, nx)``, ``(nz, ny, nx+1)``.
    """
    h = [float(s) for s in spacing]
    areas = (h[1] * h[2], h[0] * h[2], h[0] * h[1])
    if particles is None or contact_resistance <= 0:
        # one fused pass (numba) instead of float64 temporaries per axis: ~20x faster
        k = np.ascontiguousarray(k)
        if k.dtype not in (np.float32, np.float64):
            k = k.astype(np.float64)
        nz, ny, nx = k.shape
        gz = np.empty((nz + 1, ny, nx), dtype=dtype)
        gy = np.empty((nz, ny + 1, nx), dtype=dtype)
        gx = np.empty((nz, ny, nx + 1), dtype=dtype)
        geom = np.array([areas[a] / h[a] for a in range(3)])
        modes = np.array([1 if a == axis else (2 if periodic[a] else 0) for a in range(3)],
                         dtype=np.int64)
        _faces_kernel(k, geom, modes, gz, gy, gx)
        return gz, gy, gx
    k = np.asarray(k, dtype=np.float64)
    out = []
    for a in range(3):
        n = k.shape[a]
        shape = list(k.shape)
        shape[a] = n + 1
        g = np.zeros(shape, dtype=np.float64)
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        inner = [slice(None)] * 3
        lo[a], hi[a], inner[a] = slice(0, n - 1), slice(1, n), slice(1, n)
        g[tuple(inner)] = _harmonic_faces(k[tuple(lo)], k[tuple(hi)], areas[a] / h[a])
        first = [slice(None)] * 3
        last = [slice(None)] * 3
        first[a], last[a] = 0, n
        cell0 = [slice(None)] * 3
        celln = [slice(None)] * 3
        cell0[a], celln[a] = 0, n - 1
        if a == axis:
            # the fixed value sits on the outer face: half a voxel of the cell in series
            g[tuple(first)] = k[tuple(cell0)] * (areas[a] / (0.5 * h[a]))
            g[tuple(last)] = k[tuple(celln)] * (areas[a] / (0.5 * h[a]))
        elif periodic[a]:
            wrap = _harmonic_faces(k[tuple(celln)], k[tuple(cell0)], areas[a] / h[a])
            g[tuple(first)] = wrap
            g[tuple(last)] = wrap
        if particles is not None and contact_resistance > 0:
            p = np.asarray(particles)
            pl, ph = p[tuple(lo)], p[tuple(hi)]
            contact = (pl != ph) & (pl > 0) & (ph > 0)
            gi = g[tuple(inner)]
            sel = contact & (gi > 0)
            gi[sel] = 1.0 / (1.0 / gi[sel] + contact_resistance / areas[a])
            g[tuple(inner)] = gi
            if a != axis and periodic[a]:
                pw0, pwn = p[tuple(cell0)], p[tuple(celln)]
                cw = (pw0 != pwn) & (pw0 > 0) & (pwn > 0)
                gw = g[tuple(first)]
                sel = cw & (gw > 0)
                gw[sel] = 1.0 / (1.0 / gw[sel] + contact_resistance / areas[a])
                g[tuple(first)] = gw
                g[tuple(last)] = gw
        out.append(np.ascontiguousarray(g, dtype=dtype))
    return tuple(out)


@njit(inline="always")
def _harm(a, b, geom):  # pragma: no cover - compiled
    den = a + b
    return (2.0 * a * b) / den * geom if den > 0 else 0.0


@njit(inline="always")
def _outer(mode, k_here, k_other, geom):  # pragma: no cover - compiled
    if mode == 1:  # driven: half a cell in series with the fixed value on the face
        return k_here * (2.0 * geom)
    if mode == 2:  # periodic: the wrap-around face
        return _harm(k_other, k_here, geom)
    return 0.0


@njit(parallel=True, cache=True, nogil=True)
def _faces_kernel(k, geom, modes, gz, gy, gx):  # pragma: no cover - compiled
    """Fused :func:`face_conductances` without contact resistance (float64 arithmetic)."""
    nz, ny, nx = k.shape
    g0, g1, g2 = geom[0], geom[1], geom[2]
    m0, m1, m2 = modes[0], modes[1], modes[2]
    for z in prange(nz + 1):
        for y in range(ny):
            for x in range(nx):
                if z == 0:
                    gz[z, y, x] = _outer(m0, np.float64(k[0, y, x]),
                                         np.float64(k[nz - 1, y, x]), g0)
                elif z == nz:
                    gz[z, y, x] = _outer(m0, np.float64(k[nz - 1, y, x]),
                                         np.float64(k[0, y, x]), g0)
                else:
                    gz[z, y, x] = _harm(np.float64(k[z - 1, y, x]), np.float64(k[z, y, x]), g0)
        if z == nz:
            continue
        for y in range(ny + 1):
            for x in range(nx):
                if y == 0:
                    gy[z, y, x] = _outer(m1, np.float64(k[z, 0, x]),
                                         np.float64(k[z, ny - 1, x]), g1)
                elif y == ny:
                    gy[z, y, x] = _outer(m1, np.float64(k[z, ny - 1, x]),
                                         np.float64(k[z, 0, x]), g1)
                else:
                    gy[z, y, x] = _harm(np.float64(k[z, y - 1, x]), np.float64(k[z, y, x]), g1)
        for y in range(ny):
            gx[z, y, 0] = _outer(m2, np.float64(k[z, y, 0]), np.float64(k[z, y, nx - 1]), g2)
            gx[z, y, nx] = _outer(m2, np.float64(k[z, y, nx - 1]), np.float64(k[z, y, 0]), g2)
            for x in range(1, nx):
                gx[z, y, x] = _harm(np.float64(k[z, y, x - 1]), np.float64(k[z, y, x]), g2)


def dirichlet_rhs(g_axis: np.ndarray, axis: int, shape, value_in: float = 1.0, dtype=np.float32):
    """Right-hand side of the fixed value ``value_in`` on face 0 (and 0 on face n) of ``axis``.

    Returns a padded array: ``b = G_face0 * value_in`` on the first layer of cells.
    """
    b = padded_zeros(shape, dtype)
    sl = [slice(1, -1)] * 3
    sl[axis] = 1
    idx = [slice(None)] * 3
    idx[axis] = 0
    b[tuple(sl)] = g_axis[tuple(idx)] * value_in
    return b


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


@njit(inline="always")
def _net_flux(gz, gy, gx, x, k, j, i):  # pragma: no cover - compiled
    """``Σ G (x_c − x_n)`` over the six faces of padded cell (k, j, i): ``(A x)_c``."""
    xc = x[k, j, i]
    return (gz[k - 1, j - 1, i - 1] * (xc - x[k - 1, j, i])
            + gz[k, j - 1, i - 1] * (xc - x[k + 1, j, i])
            + gy[k - 1, j - 1, i - 1] * (xc - x[k, j - 1, i])
            + gy[k - 1, j, i - 1] * (xc - x[k, j + 1, i])
            + gx[k - 1, j - 1, i - 1] * (xc - x[k, j, i - 1])
            + gx[k - 1, j - 1, i] * (xc - x[k, j, i + 1]))


@njit(parallel=True, cache=True, nogil=True)
def apply_operator(gz, gy, gx, x, y):  # pragma: no cover - compiled
    """``y = A x`` on the real cells (identity on cells outside the solve).

    Summed as face fluxes ``Σ G (x_c − x_n)``, not as ``d x_c − Σ G x_n``: in the
    arrays' precision (float32 in CG) the latter cancels two terms of size ``k_max x``
    and leaves rounding noise of ``ε k_max x`` on every high-conductivity cell, which at
    10⁴ contrast outgrows the true fluxes through the low-conductivity faces around a
    binder island, and CG's recurrence residual stops tracking the true one (measured:
    the flux mismatch stalled at 2e-4 for ten iterations, until a restart). The flux
    form is exactly 0 on a constant and its rounding scales with the fluxes.
    """
    nz = x.shape[0] - 2
    ny = x.shape[1] - 2
    nx = x.shape[2] - 2
    for k in prange(1, nz + 1):
        for j in range(1, ny + 1):
            for i in range(1, nx + 1):
                flux = _net_flux(gz, gy, gx, x, k, j, i)
                inside = (gz[k - 1, j - 1, i - 1] + gz[k, j - 1, i - 1] + gy[k - 1, j - 1, i - 1]
                          + gy[k - 1, j, i - 1] + gx[k - 1, j - 1, i - 1]
                          + gx[k - 1, j - 1, i]) > 0
                y[k, j, i] = flux if inside else x[k, j, i]


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


@njit(parallel=True, cache=True, nogil=True)
def residual(gz, gy, gx, x, b, r):  # pragma: no cover - compiled
    """``r = b - A x`` on the real cells (0 on cells outside the solve), in float64.

    The diagonal is summed in float64: summed in float32 it differs from the sum of the
    off-diagonals by rounding, and the operator then leaks flux (inflow ≠ outflow at the
    1e-5 level on high-contrast media) however well the system is solved.
    """
    nz = x.shape[0] - 2
    ny = x.shape[1] - 2
    nx = x.shape[2] - 2
    for k in prange(1, nz + 1):
        for j in range(1, ny + 1):
            for i in range(1, nx + 1):
                a0 = np.float64(gz[k - 1, j - 1, i - 1])
                a1 = np.float64(gz[k, j - 1, i - 1])
                b0 = np.float64(gy[k - 1, j - 1, i - 1])
                b1 = np.float64(gy[k - 1, j, i - 1])
                c0 = np.float64(gx[k - 1, j - 1, i - 1])
                c1 = np.float64(gx[k - 1, j - 1, i])
                d = a0 + a1 + b0 + b1 + c0 + c1
                off = (a0 * x[k - 1, j, i] + a1 * x[k + 1, j, i] + b0 * x[k, j - 1, i]
                       + b1 * x[k, j + 1, i] + c0 * x[k, j, i - 1] + c1 * x[k, j, i + 1])
                r[k, j, i] = b[k, j, i] - (d * x[k, j, i] - off) if d > 0 else 0.0


@njit(parallel=True, cache=True, nogil=True)
def restrict(r, rc, rz, ry, rx):  # pragma: no cover - compiled
    """``rc = R r``: fine values summed over the children of each coarse cell."""
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


@njit(parallel=True, cache=True, nogil=True)
def _coarse_residual(gz, gy, gx, x, b, r):  # pragma: no cover - compiled
    """``r = b - A x`` in the arrays' own precision, vectorised, ``A x`` as face fluxes.

    For the multigrid cycle only: the correction it feeds is an approximation anyway,
    so the float64 diagonal of :func:`residual` (about 3x slower, it does not vectorise)
    buys nothing there; the flux form (see :func:`apply_operator`) keeps the rounding
    of high-conductivity cells out of the restricted residual.
    """
    nz = x.shape[0] - 2
    ny = x.shape[1] - 2
    nx = x.shape[2] - 2
    for k in prange(1, nz + 1):
        for j in range(1, ny + 1):
            for i in range(1, nx + 1):
                flux = _net_flux(gz, gy, gx, x, k, j, i)
                inside = (gz[k - 1, j - 1, i - 1] + gz[k, j - 1, i - 1] + gy[k - 1, j - 1, i - 1]
                          + gy[k - 1, j, i - 1] + gx[k - 1, j - 1, i - 1]
                          + gx[k - 1, j - 1, i]) > 0
                r[k, j, i] = b[k, j, i] - flux if inside else 0.0


def residual_restrict(gz, gy, gx, x, b, rc, rz, ry, rx, work):
    """``rc = R (b - A x)`` (``work`` is a padded scratch array of the fine shape)."""
    _coarse_residual(gz, gy, gx, x, b, work)
    restrict(work, rc, rz, ry, rx)


@njit(parallel=True, cache=True, nogil=True)
def prolong_add(x, xc, rz, ry, rx):  # pragma: no cover - compiled
    """``x += P xc``: piecewise-constant interpolation of the coarse correction."""
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


@njit(cache=True, nogil=True)
def _serial_sum(v):  # pragma: no cover - compiled
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
        planes[k - 1] = _serial_sum(acc)
    return _serial_sum(planes)


@njit(parallel=True, cache=True, nogil=True)
def cg_update(x, r, p, q, alpha):  # pragma: no cover - compiled
    """``x += alpha p``, ``r -= alpha q``; returns ``r·r`` (float64, summed as :func:`dot`)."""
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
        planes[k - 1] = _serial_sum(acc)
    return _serial_sum(planes)


@njit(parallel=True, cache=True, nogil=True)
def cg_direction(p, z, beta):  # pragma: no cover - compiled
    """``p = z + beta p``."""
    nz = p.shape[0] - 2
    ny = p.shape[1] - 2
    nx = p.shape[2] - 2
    be = np.float32(beta)
    for k in prange(1, nz + 1):
        for j in range(1, ny + 1):
            for i in range(1, nx + 1):
                p[k, j, i] = z[k, j, i] + be * p[k, j, i]


@njit(parallel=True, cache=True, nogil=True)
def face_fluxes(gz, gy, gx, x, wz, wy, wx):  # pragma: no cover - compiled
    """Weighted sums of the face fluxes ``G (u_lo - u_hi)`` per axis, in float64.

    ``w*`` are per-face-layer weights (length ``n + 1``): 1 inside, 1/2 on a fixed-value
    face (it closes half a control volume), 1 on one copy of a periodic face and 0 on the
    other. Ghost values supply the outer neighbours (0 beyond a fixed-value or insulated
    face, the wrapped value along a periodic axis).
    """
    nz = x.shape[0] - 2
    ny = x.shape[1] - 2
    nx = x.shape[2] - 2
    sz = np.zeros(nz + 1)
    sy = np.zeros(nz + 1)
    sx = np.zeros(nz + 1)
    for f in prange(nz + 1):
        acc_z = 0.0
        for j in range(ny):
            for i in range(nx):
                acc_z += np.float64(gz[f, j, i]) * (np.float64(x[f, j + 1, i + 1])
                                                    - np.float64(x[f + 1, j + 1, i + 1]))
        sz[f] = acc_z * wz[f]
        if f < nz:
            acc_y = 0.0
            acc_x = 0.0
            for j in range(ny + 1):
                for i in range(nx):
                    acc_y += wy[j] * np.float64(gy[f, j, i]) * (
                        np.float64(x[f + 1, j, i + 1]) - np.float64(x[f + 1, j + 1, i + 1]))
            for j in range(ny):
                for i in range(nx + 1):
                    acc_x += wx[i] * np.float64(gx[f, j, i]) * (
                        np.float64(x[f + 1, j + 1, i]) - np.float64(x[f + 1, j + 1, i + 1]))
            sy[f] = acc_y
            sx[f] = acc_x
    return _serial_sum(sz), _serial_sum(sy), _serial_sum(sx)


@njit(parallel=True, cache=True, nogil=True)
def face_energy(gz, gy, gx, x, wz, wy, wx):  # pragma: no cover - compiled
    """Weighted dissipation ``sum w G (u_lo - u_hi)^2`` over all faces, in float64.

    Weights as in :func:`face_fluxes` (per face layer); ghost values supply the outer
    neighbours. With the driven inlet face weighted 0 (its term needs the fixed value,
    not the ghost) the caller adds ``sum G (1 - u_first)^2``. Each cell adds its three
    lower faces (unit-stride loops, like :func:`apply_operator`); the last layer of faces
    along each axis is added separately.
    """
    nz = x.shape[0] - 2
    ny = x.shape[1] - 2
    nx = x.shape[2] - 2
    acc = np.zeros(nz + 1)
    for k in prange(1, nz + 2):
        s = 0.0
        if k <= nz:
            for j in range(1, ny + 1):
                wyj = wy[j - 1]
                for i in range(1, nx + 1):
                    xc = x[k, j, i]
                    dz = x[k - 1, j, i] - xc
                    dy = x[k, j - 1, i] - xc
                    dx = x[k, j, i - 1] - xc
                    s += (wz[k - 1] * gz[k - 1, j - 1, i - 1] * dz * dz
                          + wyj * gy[k - 1, j - 1, i - 1] * dy * dy
                          + wx[i - 1] * gx[k - 1, j - 1, i - 1] * dx * dx)
                dx = x[k, j, nx + 1] - x[k, j, nx]
                s += wx[nx] * gx[k - 1, j - 1, nx] * dx * dx
            for i in range(1, nx + 1):
                dy = x[k, ny + 1, i] - x[k, ny, i]
                s += wy[ny] * gy[k - 1, ny, i - 1] * dy * dy
        else:
            for j in range(1, ny + 1):
                for i in range(1, nx + 1):
                    dz = x[nz + 1, j, i] - x[nz, j, i]
                    s += wz[nz] * gz[nz, j - 1, i - 1] * dz * dz
        acc[k - 1] = s
    return _serial_sum(acc)


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

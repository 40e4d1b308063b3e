"""The matrix-free 7-point finite-volume operator ``A`` and its right-hand side.

``(A x)_c = Σ_faces G (x_c − x_n)`` over the six faces of cell ``c``, with the face
conductances ``G`` of :mod:`uqtwin.solvers.conductances` stored in the layout of
:mod:`uqtwin.solvers.layout`. Ghost values supply the outer neighbours: 0 beyond a
fixed-value face (the right-hand side :func:`dirichlet_rhs` carries its value) or an
insulated one (whose conductance is 0), the wrapped value along a periodic axis. A cell
whose six face conductances are all zero is outside the solve; ``A`` acts as the
identity on it, so the system stays symmetric positive definite and those cells stay
exactly zero.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from uqtwin.solvers.layout import padded_zeros

__all__ = [
    "apply_operator",
    "coarse_residual",
    "dirichlet_rhs",
    "net_flux",
    "residual",
]


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
def net_flux(gz, gy, gx, x, k, j, i):  # pragma: no cover - compiled
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
                flux = net_flux(gz, gy, gx, x, k, j, i)
                inside = (gz[k - 1, j - 1, i - 1] + gz[k, j - 1, i - 1] + gy[k - 1, j - 1, i - 1]
                          + gy[k - 1, j, i - 1] + gx[k - 1, j - 1, i - 1]
                          + gx[k - 1, j - 1, i]) > 0
                y[k, j, i] = flux if inside else x[k, j, i]


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
def coarse_residual(gz, gy, gx, x, b, r):  # pragma: no cover - compiled
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
                flux = net_flux(gz, gy, gx, x, k, j, i)
                inside = (gz[k - 1, j - 1, i - 1] + gz[k, j - 1, i - 1] + gy[k - 1, j - 1, i - 1]
                          + gy[k - 1, j, i - 1] + gx[k - 1, j - 1, i - 1]
                          + gx[k - 1, j - 1, i]) > 0
                r[k, j, i] = b[k, j, i] - flux if inside else 0.0

"""Geometric multigrid cycles (W by default, or V) on the voxel grid: CG's preconditioner.

Coarsening merges 2 x 2 x 2 cells (an axis of one cell is not coarsened). A coarse face
conductance is the sum of the fine face conductances that make up the coarse face divided
by the coarsening ratio along its normal (:func:`~uqtwin.solvers.transfer.coarsen_faces`):
exact for a homogeneous medium, zero where every fine face is blocked (so solid regions
stay decoupled on the coarse grids), and positive definite always. The transfer operators
are piecewise constant (restriction = sum over children, prolongation = injection), the
smoother is red-black Gauss-Seidel, run red-black before and black-red after the coarse
correction, and the coarsest grid is solved exactly: the cycle is then a symmetric
positive definite operator, as preconditioned CG requires. In a W-cycle each coarse
problem gets two cycles per visit, the second starting from the first's result; two
steps of a symmetric convergent iteration are again symmetric, so the W-cycle is as
valid a preconditioner as the V-cycle. It costs ~25 % more per application and removes
the smoothest error, which piecewise-constant transfers handle worst, far better (4-5
CG iterations instead of 6-13 on 128³-256³ electrodes). Method: Trottenberg, Oosterlee &
Schüller, *Multigrid* (Academic Press, 2001); multigrid as a preconditioner of CG:
Tatebe, *Copper Mountain Conference on Multigrid Methods* (1993).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numba
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from uqtwin.solvers.binary import (
    coarsen_mask_faces,
    mask_rbgs_pair,
    mask_rbgs_sweep,
    mask_residual_restrict,
)
from uqtwin.solvers.layout import fill_ghosts, outer_face_layers, padded_zeros
from uqtwin.solvers.smoothers import rbgs_pair, rbgs_sweep
from uqtwin.solvers.transfer import coarsen_faces, prolong_add, residual_restrict

__all__ = [
    "Level",
    "MultigridPreconditioner",
    "build_hierarchy",
    "coarsen_levels",
    "drive_levels",
    "mask_levels",
    "sparse_operator",
]

# z-blocks of the fused smoother: a few per thread (2 boundary planes each are redone)
_NBLOCKS = 2 * numba.get_num_threads()


@dataclass(frozen=True, eq=False)
class Level:
    """One grid of the hierarchy: face conductances and work arrays (padded).

    A finest grid of one conductivity may hold a padded ``mask`` and the per-axis
    conductances ``unit`` instead of ``gz, gy, gx`` (then empty):
    :mod:`~uqtwin.solvers.binary`.
    """

    gz: np.ndarray
    gy: np.ndarray
    gx: np.ndarray
    shape: tuple[int, int, int]
    ratios: tuple[int, int, int]  # coarsening ratio to the next level
    x: np.ndarray
    b: np.ndarray
    r: np.ndarray  # unused (the residual is restricted row by row): empty
    mask: np.ndarray | None = None
    unit: np.ndarray | None = None


def _coarse_shape(shape):
    ratios = tuple(2 if n > 1 else 1 for n in shape)
    return tuple((n + r - 1) // r for n, r in zip(shape, ratios, strict=True)), ratios


def sparse_operator(gz, gy, gx, periodic) -> sp.csc_matrix:
    """Assemble the 7-point operator of face conductances ``gz, gy, gx`` as a sparse
    matrix in float64 (for the small coarsest grid); cells outside the solve get
    identity rows, as in :func:`~uqtwin.solvers.operators.apply_operator`.

    Examples
    --------
    >>> from uqtwin.solvers.conductances import face_conductances
    >>> g = face_conductances(np.ones((2, 1, 1)), (1, 1, 1), 0)
    >>> sparse_operator(*g, (False, False, False)).toarray().tolist()
    [[3.0, -1.0], [-1.0, 3.0]]
    """
    nz, ny, nx = gz.shape[0] - 1, gy.shape[1] - 1, gx.shape[2] - 1
    n = nz * ny * nx
    idx = np.arange(n).reshape(nz, ny, nx)
    gz = gz.astype(np.float64)
    gy = gy.astype(np.float64)
    gx = gx.astype(np.float64)
    diag = gz[:-1] + gz[1:] + gy[:, :-1] + gy[:, 1:] + gx[:, :, :-1] + gx[:, :, 1:]
    rows, cols, vals = [], [], []

    def couple(a, b, g):
        rows.extend([a.ravel(), b.ravel()])
        cols.extend([b.ravel(), a.ravel()])
        vals.extend([-g.ravel(), -g.ravel()])

    couple(idx[:-1], idx[1:], gz[1:-1])
    couple(idx[:, :-1], idx[:, 1:], gy[:, 1:-1])
    couple(idx[:, :, :-1], idx[:, :, 1:], gx[:, :, 1:-1])
    if periodic[0] and nz > 1:
        couple(idx[-1], idx[0], gz[0])
    if periodic[1] and ny > 1:
        couple(idx[:, -1], idx[:, 0], gy[:, 0])
    if periodic[2] and nx > 1:
        couple(idx[:, :, -1], idx[:, :, 0], gx[:, :, 0])
    d = diag.ravel().copy()
    d[d == 0] = 1.0  # cells outside the solve: identity rows
    rows.append(np.arange(n))
    cols.append(np.arange(n))
    vals.append(d)
    return sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    )


def coarsen_levels(gz, gy, gx, *, coarsest_size: int = 512,
                   finest: bool = True) -> tuple[Level, ...]:
    """The grids from the fine face conductances down to ``coarsest_size`` cells.

    The finest level holds the caller's arrays (not copied); each coarser one its own
    conductances (:func:`~uqtwin.solvers.transfer.coarsen_faces`) and work arrays.
    ``finest=False``: ``gz, gy, gx`` are already a coarse grid, whose level gets work
    arrays too.
    """
    shape = (gz.shape[0] - 1, gy.shape[1] - 1, gx.shape[2] - 1)
    levels = []
    while True:
        cshape, ratios = _coarse_shape(shape)
        last = int(np.prod(shape)) <= coarsest_size or cshape == shape
        # the finest level smooths the caller's arrays: no x, b of its own
        empty = np.zeros((0, 0, 0), gz.dtype)
        xb = (empty,) * 2 if finest and not levels else (
            padded_zeros(shape, gz.dtype), padded_zeros(shape, gz.dtype))
        levels.append(Level(gz, gy, gx, shape, ratios, *xb, empty))
        if last:
            break
        coarse = []
        for a, g in enumerate((gz, gy, gx)):
            s = list(cshape)
            s[a] += 1
            out = np.empty(s, dtype=g.dtype)
            coarsen_faces(g, a, *ratios, out)
            coarse.append(out)
        gz, gy, gx = coarse
        shape = cshape
    return tuple(levels)


def mask_levels(mask: np.ndarray, unit: np.ndarray, *,
                coarsest_size: int = 512) -> tuple[Level, ...]:
    """The grids of a medium of one conductivity (:mod:`~uqtwin.solvers.binary`).

    The finest level holds the padded ``mask`` (its ghosts set for the solve) and the
    per-axis conductances ``unit``; the next one is coarsened from the faces the mask
    implies (:func:`~uqtwin.solvers.binary.coarsen_mask_faces`, the sums of
    :func:`~uqtwin.solvers.transfer.coarsen_faces`), the rest as :func:`coarsen_levels`:
    the grids of the written-out conductances, to the bit. The grid must have more than
    ``coarsest_size`` cells (the finest grid is never the coarsest).
    """
    shape = tuple(n - 2 for n in mask.shape)
    cshape, ratios = _coarse_shape(shape)
    if int(np.prod(shape)) <= coarsest_size or cshape == shape:
        raise ValueError(f"a grid of shape {shape} is its own coarsest grid")
    empty = np.zeros((0, 0, 0), np.float32)
    top = Level(empty, empty, empty, shape, ratios, empty, empty, empty, mask, unit)
    coarse = []
    for a in range(3):
        s = list(cshape)
        s[a] += 1
        out = np.empty(s, dtype=np.float32)
        coarsen_mask_faces(mask, unit, a, *ratios, out)
        coarse.append(out)
    return (top, *coarsen_levels(*coarse, coarsest_size=coarsest_size, finest=False))


def drive_levels(levels: Sequence[Level], g_axis: np.ndarray, axis: int) -> tuple[Level, ...]:
    """The grids of ``levels`` with the finest faces normal to ``axis`` replaced by ``g_axis``.

    ``g_axis`` differs from the finest level's conductances along ``axis`` only in its
    two outer face layers (a driven axis gets fixed-value faces,
    :func:`~uqtwin.solvers.conductances.drive_faces`). Each coarse level gets a new array
    along ``axis`` whose outer layers are coarsened again from the finer one, exactly as
    :func:`coarsen_levels` would (same kernel, same sums), so one hierarchy serves the
    solves along all three axes. ``levels`` is not modified: the new levels share its
    other conductances and its work arrays.

    Parameters
    ----------
    levels : sequence of Level
        Grids from :func:`coarsen_levels`, finest first.
    g_axis : ndarray
        New finest face conductances normal to ``axis``.
    axis : int
        The axis whose outer faces changed.

    Returns
    -------
    tuple of Level
    """
    name = ("gz", "gy", "gx")[axis]
    out = [replace(levels[0], **{name: g_axis})]
    for fine, coarse in zip(levels[:-1], levels[1:], strict=True):
        g_f = getattr(out[-1], name)
        g_c = getattr(coarse, name).copy()
        for f, c in zip(outer_face_layers(g_f, axis), outer_face_layers(g_c, axis),
                        strict=True):
            coarsen_faces(f, axis, *fine.ratios, c)
        out.append(replace(coarse, **{name: g_c}))
    return tuple(out)


def build_hierarchy(gz, gy, gx, *, periodic=(False, False, False), coarsest_size: int = 512,
                    sweeps: int = 2, coarse_sweeps: int = 2, cycle_index: int = 2,
                    coarse_lu=None, levels: Sequence[Level] | None = None):
    """Build the grids from the fine face conductances down to ``coarsest_size`` cells.

    Parameters
    ----------
    gz, gy, gx : ndarray of float32
        Fine face conductances (see :mod:`uqtwin.solvers.conductances`).
    periodic : tuple of 3 bools
        Periodic axes (their ghosts are refreshed during smoothing).
    coarsest_size : int
        Coarsen until the grid has at most this many cells; that grid is solved by a
        sparse LU factorisation.
    sweeps : int
        Smoothing sweeps before and after the coarse correction on the finest grid.
    coarse_sweeps : int
        The same on the coarser grids (cheap: 1/8 of the cells per level).
    cycle_index : int
        1 for V-cycles, 2 for W-cycles (each coarse problem is cycled twice per visit).
    coarse_lu : scipy SuperLU, optional
        Factorisation of the coarsest operator of another, similar medium (the
        ``coarse_lu`` of a hierarchy built on the same grid) used instead of factorising
        this one's: any SPD coarse solver keeps the cycle SPD, so CG stays valid and
        converges to the same answer (at most a few more iterations); it saves the
        factorisation.
    levels : sequence of Level, optional
        The grids, already coarsened from ``gz, gy, gx`` (:func:`coarsen_levels`, and
        :func:`drive_levels` after a change of the outer faces).

    Returns
    -------
    MultigridPreconditioner
    """
    if levels is None:
        levels = coarsen_levels(gz, gy, gx, coarsest_size=coarsest_size)
    top = levels[-1]
    if coarse_lu is not None and tuple(coarse_lu.shape) == (int(np.prod(top.shape)),) * 2:
        lu, mat = coarse_lu, None
    else:
        mat = sparse_operator(top.gz, top.gy, top.gx, periodic)
        lu = spla.splu(mat)
    return MultigridPreconditioner(tuple(levels), lu, tuple(bool(p) for p in periodic), sweeps,
                                   mat, coarse_sweeps, cycle_index)


@dataclass(frozen=True, eq=False)
class MultigridPreconditioner:
    """Symmetric multigrid cycle ``z ≈ A⁻¹ r`` (see the module docstring).

    Parameters
    ----------
    levels : tuple of Level
        Finest first.
    coarse_lu : scipy SuperLU
        Factorisation of the coarsest operator.
    periodic : tuple of 3 bools
        Periodic axes.
    sweeps : int
        Red-black Gauss-Seidel sweeps before and after the coarse correction, finest grid.
    coarse_matrix : scipy.sparse matrix or None
        The coarsest operator that ``coarse_lu`` factorises (None when the
        factorisation was lent by another hierarchy).
    coarse_sweeps : int
        Sweeps on the coarser grids.
    cycle_index : int
        Cycles on each coarse problem per visit: 1 = V-cycle, 2 = W-cycle.
    """

    levels: tuple[Level, ...]
    coarse_lu: object
    periodic: tuple[bool, bool, bool]
    sweeps: int = 2
    coarse_matrix: object = None
    coarse_sweeps: int = 2
    cycle_index: int = 2

    def _smooth(self, lev: Level, x, b, order, axis=-1):
        sweeps = self.sweeps if lev is self.levels[0] else self.coarse_sweeps
        if lev.mask is not None:
            for _ in range(sweeps):
                if not any(self.periodic):
                    mask_rbgs_pair(lev.mask, lev.unit, x, b, order[0], _NBLOCKS, axis)
                    continue
                for color in order:
                    mask_rbgs_sweep(lev.mask, lev.unit, x, b, color, axis)
                    fill_ghosts(x, self.periodic)
            return
        if not any(self.periodic):
            for _ in range(sweeps):
                rbgs_pair(lev.gz, lev.gy, lev.gx, x, b, order[0], _NBLOCKS)
            return
        for _ in range(sweeps):
            for color in order:
                rbgs_sweep(lev.gz, lev.gy, lev.gx, x, b, color)
                if any(self.periodic):
                    fill_ghosts(x, self.periodic)

    def _cycle(self, depth: int, x, b, axis=-1):
        # axis >= 0 (finest mask level only): b is an iterate, the right-hand side its
        # residual (uqtwin.solvers.binary)
        lev = self.levels[depth]
        if depth == len(self.levels) - 1:
            sol = self.coarse_lu.solve(b[1:-1, 1:-1, 1:-1].astype(np.float64).ravel())
            x[1:-1, 1:-1, 1:-1] = sol.reshape(lev.shape)
            fill_ghosts(x, self.periodic)
            return
        self._smooth(lev, x, b, (0, 1), axis)
        nxt = self.levels[depth + 1]
        if lev.mask is not None:
            mask_residual_restrict(lev.mask, lev.unit, x, b, nxt.b, *lev.ratios, axis)
        else:
            residual_restrict(lev.gz, lev.gy, lev.gx, x, b, nxt.b, *lev.ratios)
        nxt.x[...] = 0.0
        # W-cycle: the coarse problem gets two cycles (the second from the first's
        # result), except the directly solved coarsest one
        for _ in range(self.cycle_index if depth + 2 < len(self.levels) else 1):
            self._cycle(depth + 1, nxt.x, nxt.b)
        prolong_add(x, nxt.x, *lev.ratios)
        if any(self.periodic):
            fill_ghosts(x, self.periodic)
        self._smooth(lev, x, b, (1, 0), axis)

    def apply(self, r: np.ndarray, z: np.ndarray) -> None:
        """Write ``M⁻¹ r`` into ``z`` (padded arrays of the finest shape)."""
        z[...] = 0.0
        self._cycle(0, z, r)

    def apply_to_residual(self, x: np.ndarray, axis: int, z: np.ndarray) -> None:
        """Write ``M⁻¹ r`` into ``z`` for ``r`` the residual of the iterate ``x`` of a
        unit drop along ``axis``, formed on the fly (finest grid held as a mask only:
        :mod:`~uqtwin.solvers.binary`)."""
        if self.levels[0].mask is None:
            raise ValueError("the residual is formed on the fly from a mask level only")
        z[...] = 0.0
        self._cycle(0, z, x, axis)

"""One solve of a prepared medium driven along one axis: multigrid-preconditioned CG.

The system of :mod:`uqtwin.solvers.operators` is solved by conjugate gradients (Hestenes
& Stiefel 1952; :func:`~uqtwin.solvers.cg.pcg`) preconditioned with a geometric multigrid
cycle (:mod:`uqtwin.solvers.multigrid`), to which media of high contrast with isolated
high-conductivity clusters get a coarse space of those clusters
(:mod:`uqtwin.solvers.deflation`). It stops on the physical test of
:mod:`uqtwin.solvers.stopping` and reports the effective column of
:mod:`uqtwin.solvers.fluxes`.

A warm start (:class:`~uqtwin.solvers.solutions.WarmStart`, or a plain potential) is the
initial guess, and its coarsest-grid factorisation replaces the medium's own unless the
contrast is high. Cells the reference did not solve (voxels a sample adds, clusters it
joins to the network) first get values from their neighbours
(:func:`~uqtwin.solvers.smoothers.relax_cells`): left at 0 their local error alone would
carry far more dissipation than the whole answer. The stopping test is unchanged, so the
answer is that of a cold solve within the tolerances.
"""

from __future__ import annotations

import time

import numpy as np

from uqtwin.solvers.binary import (
    mask_apply,
    mask_ghosts,
    mask_residual,
    mask_residual_dot,
)
from uqtwin.solvers.cg import pcg, pcg_residual_free
from uqtwin.solvers.clusters import isolated_clusters
from uqtwin.solvers.deflation import DeflatedPreconditioner, cluster_space
from uqtwin.solvers.fluxes import DrivenFaces
from uqtwin.solvers.layout import fill_ghosts, padded_index, padded_zeros, zero_frame
from uqtwin.solvers.medium import BinaryMedium, Medium
from uqtwin.solvers.multigrid import build_hierarchy, mask_levels
from uqtwin.solvers.operators import apply_operator, dirichlet_rhs, residual
from uqtwin.solvers.options import CYCLE_INDEX, SolverOptions
from uqtwin.solvers.smoothers import relax_cells
from uqtwin.solvers.solutions import AxisSolution, WarmStart
from uqtwin.solvers.stopping import change_ahead, flux_mismatch

__all__ = ["solve_binary", "solve_driven", "workspace"]

# the compact path keeps its iterate in float32, and no residual array (CG reads the
# true residual of the iterate, pcg_residual_free), when both tolerances are at least
# this: the iterate's rounding (~3e-8 of the potential) moves τ by 1e-10..3e-8 (128³ to
# 500³) and floors the flux mismatch near 1e-7..1e-6 (128³ random media: at 1e-6 a
# float32 iterate took 40 % more iterations, at 1e-9 it stopped at the precision
# floor), so tighter solves keep the float64 iterate and the residual recurrence of
# pcg: the general path's iterates, to the bit
FLOAT32_ITERATE_TOL = 1e-5

# relaxation of the cells a warm start has no value for: until no value moves by more
# than FILL_TOL (of the unit drop); joined clusters of a few hundred cells take ~100 sweeps
FILL_MAX_SWEEPS = 1000
FILL_TOL = 1e-4


def workspace(shape, dtype, work: dict | None) -> dict:
    """Padded arrays for one solve, reused across the axes of one medium.

    Parameters
    ----------
    shape : tuple of 3 ints
        The unpadded grid shape.
    dtype : numpy.dtype
        Precision of the conjugate-gradient vectors.
    work : dict or None
        A previous workspace; returned as is when its shape and dtype fit (its contents are
        not cleared), so that the axes of one medium share the memory.

    Returns
    -------
    dict
        ``"x"``: a padded float64 solution array; ``"cg"``: 3 padded arrays of ``dtype``
        for the solver's vectors (:func:`~uqtwin.solvers.cg.pcg`). New arrays are zero.
    """
    if work is not None and work["x"].shape == tuple(n + 2 for n in shape) \
            and work["cg"][0].dtype == dtype:
        return work
    return {"x": padded_zeros(shape, np.float64),
            "cg": tuple(padded_zeros(shape, dtype) for _ in range(3))}


def _start(x: np.ndarray, x0, medium: Medium, b: np.ndarray, periodic) -> None:
    """Write the initial potential ``x0`` (unpadded) into the padded iterate ``x``."""
    keep, shape = medium.keep, medium.keep.shape
    gz, gy, gx = medium.g
    if np.shape(x0) != shape:
        raise ValueError(f"x0 has shape {np.shape(x0)}, expected {shape}")
    x0 = np.asarray(x0)
    np.copyto(x[1:-1, 1:-1, 1:-1], x0, where=keep)
    fill_ghosts(x, periodic)
    # cells the reference did not solve would start at 0 among neighbours at ~0.5: a
    # local error with ~200x the dissipation of the whole answer, which costs an
    # iteration. Relaxed alone to their neighbours' level they leave the smooth error,
    # which the multigrid cycles remove
    new = padded_index(np.flatnonzero(keep & (x0 == 0)), shape)
    if new.size:
        relax_cells(gz, gy, gx, x, b, new, FILL_MAX_SWEEPS, FILL_TOL)
        fill_ghosts(x, periodic)


def solve_driven(medium: Medium, spacing, axis: int, periodic, options: SolverOptions, x0,
                 keep_potential: bool, keep_warm_start: bool, t0: float,
                 work: dict | None = None) -> AxisSolution:
    """The solve of :func:`~uqtwin.solvers.diffusion.solve_axis` of ``medium``, already
    driven along ``axis`` (:func:`~uqtwin.solvers.medium.drive_medium`).

    ``periodic`` are the solve's periodic sides (never ``axis``), ``x0`` an initial
    potential or :class:`~uqtwin.solvers.solutions.WarmStart` (or None), ``t0`` the
    start time reported, ``work`` arrays from :func:`workspace` to reuse.
    """
    dtype = np.dtype(options.dtype)
    g, keep = medium.g, medium.keep
    gz, gy, gx = g
    shape = keep.shape
    b = dirichlet_rhs(g[axis], axis, shape, 1.0, dtype)
    coarse_lu = None
    if isinstance(x0, WarmStart):
        if not medium.high_contrast:
            coarse_lu = x0.coarse_lu
        x0 = x0.potential
    mg = build_hierarchy(gz, gy, gx, periodic=periodic, coarsest_size=options.coarsest_size,
                         sweeps=options.sweeps, coarse_sweeps=options.coarse_sweeps,
                         cycle_index=CYCLE_INDEX[options.cycle], coarse_lu=coarse_lu,
                         levels=medium.levels)

    # float64 iterate: the fluxes are differences of nearly equal potentials
    work = workspace(shape, dtype, work)
    precondition, n_clusters = mg.apply, 0
    if medium.clusters is not None:
        # joined across this solve's periodic sides (not the driven axis), without the
        # clusters the driven faces pin
        labels, m = isolated_clusters(*medium.clusters, g, periodic)
        if m >= options.deflation_min_clusters:
            precondition = DeflatedPreconditioner(mg.apply,
                                                  cluster_space(labels, m, g, periodic)).apply
            n_clusters = m
        del labels
    if any(options.periodic):
        # periodic ghost values of an earlier solve would sit on this one's fixed faces
        for v in work["cg"]:
            zero_frame(v)
    x = work["x"]
    x[...] = 0.0
    if x0 is not None:
        _start(x, x0, medium, b, periodic)

    faces = DrivenFaces.of(g, axis, periodic, spacing)
    # from zero only the inlet faces dissipate: no pass over the volume needed
    g_start = faces.dissipation(x) if x0 is not None else float(np.sum(faces.inlet))
    monitor, state = _monitor(faces.boundary_fluxes, g_start, options)

    def apply_a(v, out):
        if any(periodic):
            fill_ghosts(v, periodic)
        apply_operator(gz, gy, gx, v, out)

    def true_residual(v, out):
        if any(periodic):
            fill_ghosts(v, periodic)
        residual(gz, gy, gx, v, b, out)

    res = pcg(apply_a, precondition, b, x, residual=true_residual, monitor=monitor,
              max_iter=options.max_iter, work=work["cg"])

    fill_ghosts(x, periodic)
    return _solution(faces, x, res, state, medium.active_fraction, n_clusters,
                     (mg.coarse_lu, mg.coarse_matrix), keep_potential, keep_warm_start, t0)


def _monitor(boundary_fluxes, g_start: float, options: SolverOptions):
    """CG's stopping test (:mod:`~uqtwin.solvers.stopping`) and the state it updates."""
    state = {"energy": g_start, "change": np.inf, "drop": 0.0}

    def monitor(it, v, drop):
        mismatch = flux_mismatch(*boundary_fluxes(v))
        # the dissipation is xᵀAx − 2bᵀx + Σ G_inlet, and CG lowers xᵀAx − 2bᵀx by
        # `drop` per step: its change is known without a pass over the volume (the
        # value reported is evaluated from the final potential)
        g_e = state["energy"] - drop
        change = drop / g_e if g_e > 0 else np.inf
        # the change still to come if the drops keep shrinking by their last ratio q
        ahead = change_ahead(change, drop, state["drop"])
        state.update(energy=g_e, change=change, drop=drop)
        return mismatch <= options.flux_tol and ahead <= options.change_tol

    return monitor, state


def _solution(faces: DrivenFaces, x, res, state, active_fraction, n_clusters, coarse,
              keep_potential, keep_warm_start, t0) -> AxisSolution:
    """The :class:`AxisSolution` of the solved potential ``x`` (ghosts filled)."""
    f_in, f_out = faces.boundary_fluxes(x)
    effective = faces.effective(x, f_in, f_out)
    pot = (np.ascontiguousarray(x[1:-1, 1:-1, 1:-1], dtype=np.float32)
           if keep_potential or keep_warm_start else None)
    return AxisSolution(
        axis=faces.axis,
        percolates=True,
        reason="",
        effective=effective,
        flux_in=f_in,
        flux_out=f_out,
        flux_mismatch=flux_mismatch(f_in, f_out),
        change=float(state["change"]),
        iterations=res.iterations,
        converged=bool(res.converged),
        active_fraction=active_fraction,
        seconds=time.perf_counter() - t0,
        deflated_clusters=n_clusters,
        stop_reason=res.stop_reason,
        potential=pot if keep_potential else None,
        warm_start=WarmStart(pot, *coarse) if keep_warm_start else None,
    )


def solve_binary(medium: BinaryMedium, spacing, axis: int, periodic, options: SolverOptions,
                 keep_potential: bool, keep_warm_start: bool, t0: float) -> AxisSolution:
    """The solve of :func:`solve_driven` for a medium of one conductivity, from its mask.

    The conductances and the right-hand side are implied by the mask
    (:mod:`~uqtwin.solvers.binary`). When both tolerances are at least
    ``FLOAT32_ITERATE_TOL`` the iterate is float32 and CG stores no residual
    (:func:`~uqtwin.solvers.cg.pcg_residual_free`: the multigrid cycle and ``r·z``
    form it from the iterate): with two float32 CG vectors, the coarse grids and the
    one-byte mask ~16 bytes a voxel. Tighter solves run :func:`~uqtwin.solvers.cg.pcg`
    on a float64 iterate and three CG vectors (~24 bytes a voxel): the very iterates of
    :func:`solve_driven`, to the bit. The fluxes and the dissipation of the solved
    potential are summed over the mask too (:meth:`DrivenFaces.of_mask`). No warm start
    (:func:`solve_driven` takes those); ``periodic`` as there.
    """
    mask, unit, shape = medium.mask, medium.unit, medium.shape
    mask_ghosts(mask, axis, periodic)
    mg = build_hierarchy(None, None, None, periodic=periodic,
                         coarsest_size=options.coarsest_size, sweeps=options.sweeps,
                         coarse_sweeps=options.coarse_sweeps,
                         cycle_index=CYCLE_INDEX[options.cycle],
                         levels=mask_levels(mask, unit, coarsest_size=options.coarsest_size))
    faces = DrivenFaces.of_mask(mask, unit, axis, periodic, spacing)
    monitor, state = _monitor(faces.boundary_fluxes, float(np.sum(faces.inlet)), options)

    def apply_a(v, out):
        if any(periodic):
            fill_ghosts(v, periodic)
        mask_apply(mask, unit, v, out)

    def true_residual(v, out):
        if any(periodic):
            fill_ghosts(v, periodic)
        mask_residual(mask, unit, v, axis, out)

    if min(options.flux_tol, options.change_tol) >= FLOAT32_ITERATE_TOL:
        # float32 iterate, its residual formed where it is read: two CG vectors
        x = padded_zeros(shape, np.float32)
        res = pcg_residual_free(apply_a, _residual_preconditioner(mg, axis, periodic),
                                lambda v, z: mask_residual_dot(mask, unit, v, axis, z), x,
                                monitor=monitor, max_iter=options.max_iter,
                                work=tuple(padded_zeros(shape, np.float32) for _ in range(2)))
    else:
        x = padded_zeros(shape, np.float64)
        res = pcg(apply_a, mg.apply, None, x, residual=true_residual, monitor=monitor,
                  max_iter=options.max_iter, b_norm=float(np.sqrt(np.sum(faces.inlet ** 2))),
                  work=tuple(padded_zeros(shape, np.float32) for _ in range(3)))
    coarse = (mg.coarse_lu, mg.coarse_matrix)
    del mg  # the grids go before the fluxes are summed
    fill_ghosts(x, periodic)
    return _solution(faces, x, res, state, medium.active_fraction, 0, coarse,
                     keep_potential, keep_warm_start, t0)


def _residual_preconditioner(mg, axis: int, periodic):
    """``precondition(x, out)``: the multigrid cycle on the residual of the iterate ``x``
    (:meth:`~uqtwin.solvers.multigrid.MultigridPreconditioner.apply_to_residual`)."""

    def precondition(v, out):
        if any(periodic):
            fill_ghosts(v, periodic)
        mg.apply_to_residual(v, axis, out)

    return precondition

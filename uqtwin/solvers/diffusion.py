"""Steady diffusion / conduction on a voxel conductivity field: one axis, and the tensor.

Problem
-------
``∇·(k ∇u) = 0`` on the voxels with ``k > 0``, discretised by 7-point finite volumes
(:mod:`~uqtwin.solvers.conductances`: face conductance ``k A / d`` with the harmonic mean
of the two cells, so anisotropic voxel spacing is honoured exactly). Along the driven
axis the value is fixed to 1 on the outer face before the first cell and 0 on the outer
face after the last one; the faces lie half a voxel outside the first and last cell
centres, so the transport length is ``L = n h`` (TauFactor's convention: Cooper et al.,
*SoftwareX* 5, 2016). PoreSpy and PuMA instead fix the values at the centres of the first
and last slabs (length ``(n − 1) h``), which makes their τ differ by about ``1/n``
relative on thin samples. The other four sides are insulated (no flux), or periodic on
request.

Voxels not connected to *both* driven faces carry no flux and are taken out of the solve
(:mod:`~uqtwin.solvers.percolation`). If no voxel connects the two faces the direction
does not percolate; the result then says so (``percolates=False`` and a reason) and the
effective value is 0 (τ = ∞).

Method
------
Matrix-free operator (:mod:`~uqtwin.solvers.operators`), conjugate gradients
(:mod:`~uqtwin.solvers.cg`) preconditioned with geometric multigrid
(:mod:`~uqtwin.solvers.multigrid`), deflated over isolated high-conductivity clusters at
high contrast (:mod:`~uqtwin.solvers.deflation`); one driven solve in
:mod:`~uqtwin.solvers.axis_solve`. Convergence is judged on physical quantities, the
inflow/outflow mismatch and the change of the dissipation still to come
(:mod:`~uqtwin.solvers.stopping`); the defaults (1e-4 both) give τ to 1e-4 relative. The
effective tensor (column ``a`` from the solve driven along ``a``) comes from the
volume-averaged fluxes, its diagonal from the dissipation, whose error is one-sided and
quadratic in the potential's (Dirichlet's principle; :mod:`~uqtwin.solvers.fluxes`).

Ensembles of similar media (samples of one segmentation's posterior) reuse a reference
solve through :class:`~uqtwin.solvers.solutions.WarmStart` (``keep_warm_start=True``,
then ``x0=``): its potential is the initial guess and its coarsest-grid factorisation
replaces the sample's own. The stopping test is unchanged, so the answer is that of a
cold solve within the tolerances; what is saved is the factorisation and iterations.

:func:`effective_tensor` computes the kept voxels' face conductances and the coarse grids
once for the three axes when the same voxels percolate along all of them (the usual
case, :mod:`~uqtwin.solvers.medium`): per axis only the two outer face layers along the
driven axis differ, on every grid, computed with the same kernels, so each column is bit
for bit the single-axis solve. All sums are taken per plane and then in order, so the
numbers do not depend on the number of threads.
"""

from __future__ import annotations

import time

import numpy as np

from uqtwin.solvers.axis_solve import solve_driven, workspace
from uqtwin.solvers.medium import Medium, drive_medium, prepare_medium
from uqtwin.solvers.options import SolverOptions
from uqtwin.solvers.percolation import kept_voxels
from uqtwin.solvers.solutions import AxisSolution, TensorSolution, WarmStart

__all__ = ["effective_tensor", "solve_axis"]

# the default options (frozen: one shared instance is safe)
DEFAULT_OPTIONS = SolverOptions()


def _no_path(axis, reason, t0) -> AxisSolution:
    return AxisSolution(
        axis=axis, percolates=False, reason=reason, effective=np.zeros(3), flux_in=0.0,
        flux_out=0.0, flux_mismatch=0.0, change=0.0, iterations=0, converged=True,
        active_fraction=0.0, seconds=time.perf_counter() - t0,
    )


def solve_axis(
    k: np.ndarray,
    spacing=(1.0, 1.0, 1.0),
    axis: int = 0,
    *,
    options: SolverOptions = DEFAULT_OPTIONS,
    particles: np.ndarray | None = None,
    contact_resistance: float = 0.0,
    x0: np.ndarray | WarmStart | None = None,
    keep_potential: bool = False,
    labels: tuple[np.ndarray, int] | None = None,
    keep_warm_start: bool = False,
) -> AxisSolution:
    """Solve steady conduction driven along ``axis`` (unit potential drop).

    Parameters
    ----------
    k : ndarray of float, shape (nz, ny, nx)
        Conductivity or diffusivity of every voxel (units ``[k]``); 0 = does not conduct.
    spacing : tuple of 3 floats
        Voxel size along (z, y, x), length unit ``ℓ``.
    axis : int
        Driven axis.
    options : SolverOptions
        Tolerances, periodic sides, multigrid settings.
    particles : ndarray of int, optional
        Particle labels for contact resistance (see
        :func:`~uqtwin.solvers.conductances.face_conductances`).
    contact_resistance : float
        Area-specific contact resistance between particles, units ``ℓ / [k]``.
    x0 : ndarray or WarmStart, optional
        Initial potential (e.g. the solution of the most probable segmentation); values
        outside the solve are ignored, and cells of the solve where it is 0 (not solved
        by the reference) start from their neighbours' values. A :class:`WarmStart` also
        lends its coarse-grid factorisation (same grid shape only); the answer is that
        of the cold solve within the tolerances.
    keep_potential : bool
        Return the potential.
    labels : (ndarray, int), optional
        Precomputed :func:`~uqtwin.solvers.percolation.label_clusters` of ``k > 0``.
    keep_warm_start : bool
        Return :attr:`AxisSolution.warm_start` (potential and coarse factorisation).

    Returns
    -------
    AxisSolution
    """
    return _solve_axes(k, spacing, (axis,), {axis: x0}, options, particles,
                       contact_resistance, keep_potential, keep_warm_start, labels)[0]


def _solve_axes(k, spacing, axes, x0, options, particles, contact_resistance,
                keep_potential, keep_warm_start, labels=None) -> list[AxisSolution]:
    """The solves of :func:`solve_axis` along each of ``axes`` (``x0``: axis -> start).

    The axes usually keep the same voxels (one network joins all six faces): then the
    conductances and coarse grids are prepared once and each axis solves a driven copy
    (:func:`~uqtwin.solvers.medium.drive_medium`; nothing prepared is modified).
    """
    t0 = time.perf_counter()
    k = np.asarray(k)
    if k.ndim != 3:
        raise ValueError(f"k must be 3-D, got shape {k.shape}")
    # which voxels each axis keeps; the labels (4 bytes a voxel) are dropped before solving
    keeps = kept_voxels(k > 0, axes, options.periodic, labels)
    del labels
    work = workspace(k.shape, np.dtype(options.dtype), None)
    shared: dict[int, Medium] = {}
    sols = []
    for a in axes:
        keep = keeps[a]
        if isinstance(keep, str):
            sols.append(_no_path(a, keep, t0))
        else:
            if id(keep) not in shared:
                shared[id(keep)] = prepare_medium(k, keep, spacing, options, particles,
                                                  contact_resistance)
            periodic = tuple(bool(p) and b != a for b, p in enumerate(options.periodic))
            driven = drive_medium(shared[id(keep)], spacing, a)
            sols.append(solve_driven(driven, spacing, a, periodic, options,
                                     None if x0 is None else x0[a], keep_potential,
                                     keep_warm_start, t0, work))
            del driven
        t0 = time.perf_counter()
    return sols


def effective_tensor(
    k: np.ndarray,
    spacing=(1.0, 1.0, 1.0),
    *,
    options: SolverOptions = DEFAULT_OPTIONS,
    particles: np.ndarray | None = None,
    contact_resistance: float = 0.0,
    x0: tuple[np.ndarray | WarmStart | None, ...] | None = None,
    keep_potential: bool = False,
    axes: tuple[int, ...] = (0, 1, 2),
    keep_warm_start: bool = False,
) -> TensorSolution:
    """Effective conductivity tensor from solves driven along each of ``axes``.

    Parameters
    ----------
    k, spacing, options, particles, contact_resistance, keep_potential, keep_warm_start
        As in :func:`solve_axis`.
    x0 : tuple of 3 (ndarray or WarmStart or None), optional
        Initial potentials (or :class:`WarmStart`) per driven axis (warm start).
    axes : tuple of int
        Driven axes to solve (the columns of the others stay zero).

    Returns
    -------
    TensorSolution
        Units of ``k``.
    """
    sols = _solve_axes(k, spacing, axes, None if x0 is None else {a: x0[a] for a in axes},
                       options, particles, contact_resistance, keep_potential,
                       keep_warm_start)
    tensor = np.zeros((3, 3))
    for a, sol in zip(axes, sols, strict=True):
        tensor[:, a] = sol.effective
    sym = 0.5 * (tensor + tensor.T)
    w, v = np.linalg.eigh(sym)
    return TensorSolution(tensor, sym, w, v, tuple(sols))

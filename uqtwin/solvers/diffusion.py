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

Memory
------
A medium of one conductivity (all conducting voxels alike, or a boolean ``k``: a
tortuosity solve) takes a compact path, chosen automatically
(:func:`~uqtwin.solvers.axis_solve.solve_binary`): its face conductances are implied by
a one-byte mask and computed inside the kernels (:mod:`~uqtwin.solvers.binary`), and at
the default tolerances its iterate is float32 and CG stores no residual: about 16
bytes a voxel by the array sizes (mask 1, iterate 4, two CG vectors 8, coarse grids 3)
instead of the general path's ~45 (kept voxels 1, conductivities 4, face conductances
12 and one driven copy 4, float64 iterate 8, three CG vectors 12, coarse grids 3,
right-hand side), plus the caller's input (1 byte a voxel as bool, 4 as float32);
measured in ``benchmarks/README.md``. With tolerances below 1e-5 the iterate is
float64 with CG's residual recurrence (~24 bytes a voxel) and every number is the
general path's, to the bit; at the defaults τ moves by float32 rounding (measured:
4e-11 to 5e-11 relative at 128³ and 256³, 2.7e-8 at 500³). Contact
resistance, warm starts, ``dtype="float64"`` and grids of at most ``coarsest_size``
cells take the general path.
"""

from __future__ import annotations

import time

import numpy as np

from uqtwin.solvers.axis_solve import solve_binary, solve_driven, workspace
from uqtwin.solvers.medium import (
    BinaryMedium,
    binary_unit,
    drive_medium,
    prepare_binary,
    prepare_medium,
    uniform_conductivity,
)
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
    k : ndarray of float or bool, shape (nz, ny, nx)
        Conductivity or diffusivity of every voxel (units ``[k]``); 0 = does not conduct.
        A boolean array conducts with ``k = 1`` where True (the same numbers as
        ``k.astype(np.float32)``, from a quarter of the memory).
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
    unit = _binary(k, spacing, options, particles, contact_resistance, x0)
    if unit is None and k.dtype == bool:
        k = k.astype(np.float32)  # the general path's conductivity 1
    # per axis: why it does not percolate, or its medium (axes that keep the same voxels
    # share one); the keep masks are dropped once a binary medium holds them
    plan: dict[int, object] = {}
    shared: dict[int, object] = {}
    for a in axes:
        keep = keeps[a]
        if isinstance(keep, str):
            plan[a] = keep
            continue
        if id(keep) not in shared:
            shared[id(keep)] = (prepare_binary(keep, unit) if unit is not None else
                                prepare_medium(k, keep, spacing, options, particles,
                                               contact_resistance))
        plan[a] = shared[id(keep)]
    keep = None  # a binary medium holds its voxels as a padded mask: the bools can go
    del keeps, shared, keep
    work = None
    sols = []
    for a in axes:
        medium = plan.pop(a)
        periodic = tuple(bool(p) and b != a for b, p in enumerate(options.periodic))
        if isinstance(medium, str):
            sols.append(_no_path(a, medium, t0))
        elif isinstance(medium, BinaryMedium):
            sols.append(solve_binary(medium, spacing, a, periodic, options, keep_potential,
                                     keep_warm_start, t0))
        else:
            work = workspace(k.shape, np.dtype(options.dtype), work)
            driven = drive_medium(medium, spacing, a)
            sols.append(solve_driven(driven, spacing, a, periodic, options,
                                     None if x0 is None else x0[a], keep_potential,
                                     keep_warm_start, t0, work))
            del driven
        del medium
        t0 = time.perf_counter()
    return sols


def _binary(k, spacing, options, particles, contact_resistance, x0) -> np.ndarray | None:
    """The per-axis face conductance of the compact path for media of one conductivity
    (:mod:`~uqtwin.solvers.binary`), or None where the general path solves: conductances
    that differ, contact resistance, a warm start, float64 storage, a grid no larger
    than the coarsest multigrid grid, or an array the compiled scan cannot read."""
    if (options.dtype != "float32" or (particles is not None and contact_resistance > 0)
            or (x0 is not None and any(v is not None for v in x0.values()))
            or k.size <= options.coarsest_size
            or not (k.dtype.isnative and k.dtype.kind in "biuf" and k.dtype != np.float16)):
        return None
    value = uniform_conductivity(k)
    return None if value is None else binary_unit(value, spacing)


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

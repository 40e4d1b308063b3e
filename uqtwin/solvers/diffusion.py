"""Steady diffusion / conduction on a voxel conductivity field: one axis, and the tensor.

Problem
-------
``∇·(k ∇u) = 0`` on the voxels with ``k > 0``, discretised by 7-point finite volumes
(face conductance ``k A / d`` with the harmonic mean of the two cells, so anisotropic
voxel spacing is honoured exactly). Along the driven axis the value is fixed to 1 on
the outer face before the first cell and 0 on the outer face after the last one; the
faces lie half a voxel outside the first and last cell centres, so the transport length
is ``L = n h`` (TauFactor's convention). PoreSpy and PuMA instead fix the values at the
centres of the first and last slabs (length ``(n − 1) h``), which makes their τ differ by
about ``1/n`` relative on thin samples. The other four sides are insulated (no flux), or
periodic on request.

Voxels that are not connected (6-connectivity, the stencil's) to *both* driven faces carry
no flux in the steady state: isolated clusters and dead-end clusters touching one face only
are taken out of the solve, which changes nothing in the answer and saves iterations.
If no voxel connects the two faces the direction does not percolate; the result then
says so (``percolates=False`` and a reason) and the effective value is 0 (τ = ∞).

The effective tensor (column ``a`` from the solve driven along ``a``) is
``K_ba = ⟨j_b⟩ L_a / ΔU``: the volume average of the flux density along ``b`` (all faces
normal to ``b``, weighted by their control volumes) times the length over the potential
drop. The diagonal ``K_aa`` is taken from the dissipation instead,
``K_aa = Σ_faces G (Δu)² L_a / (A_a ΔU²)``, which for the exact solution equals the
flux through either face times ``L_a / (A_a ΔU)``. For any other potential with the
same face values it is larger by exactly ``‖u − u*‖²_A L_a / (A_a ΔU²)`` (Dirichlet
principle): the error is one-sided (``K_aa`` high, τ low) and *quadratic* in the error
of the potential, where the boundary fluxes' is linear. CG minimises that very norm,
so the dissipation converges about twice as fast as the fluxes (measured on 128³ blobs:
relative error 5e-5 after 5 iterations from zero, where the fluxes are at 1e-4).

Convergence is judged on physical quantities: the relative mismatch of inflow and outflow
(which equals the sum of the algebraic residuals) and the relative change of ``K_aa``
(the dissipation) between iterations must both fall below their tolerances; the achieved
values are returned. The change needs no pass over the volume: the dissipation is
``xᵀAx − 2bᵀx`` plus a constant, which each CG step lowers by ``α (r·z)``; the value
reported is evaluated from the final potential. The defaults (1e-4 both) give τ to 1e-4
relative, by every estimate:
the mismatch bounds how far the inflow and the outflow disagree, and the dissipation's
error after the last change ``δ`` is the sum of the drops still to come, about
``δ q / (1 − q)`` with ``q`` the ratio of the last two drops (≈ 0.1 with multigrid on
ordinary media, measured: τ within 2e-5 of the solve converged to 1e-9 on the 128³
blobs and their samples, typically 1e-6 to 1e-5). The change test asks for the larger
of ``δ`` and that tail, so it is the plain change test while ``q ≤ 1/2`` and only asks
for more on slowly converging media (high contrast: ``q`` ≈ 0.5-0.9). Measured on the
conductivity of 22 electrode samples at 10⁴ contrast (66 deflated solves, 64³): ``δ``
alone left 6 solves more than 1e-4 off the converged answer (worst 3.2e-4), the tail
test 3 (worst 1.7e-4; typically 1e-8 to 5e-5), for 3 % more iterations. CG's drops are
not geometric, so no estimate from them is a bound: a plateau CG has not reached yet
stays invisible.

Ensembles of similar media (samples of one segmentation's posterior) reuse a reference
solve through :class:`WarmStart` (``keep_warm_start=True``, then ``x0=``): its potential
is the initial guess and its coarsest-grid factorisation replaces the sample's own. Cells
the reference did not solve (voxels the sample adds, clusters it joins to the network)
first get values from their neighbours (:func:`~uqtwin.solvers.operators.relax_cells`):
left at 0 their local error alone would carry ~100x the dissipation of the whole answer.
The stopping test is unchanged, so the answer is that of a cold solve within the
tolerances. What is saved is the factorisation and iterations: with the quadratic
estimate a sample whose τ differs by ~2 % from the reference's starts with a dissipation
~1e-2 off and one iteration takes it below 1e-4, so most samples stop after the second,
the first iteration at which a change can be measured (cold: 5).

:func:`effective_tensor` computes the kept voxels' face conductances and the coarse
grids once for the three axes when the same voxels percolate along all of them (the
usual case): per axis only the two outer face layers along the driven axis change, on
every grid (:func:`~uqtwin.solvers.multigrid.redrive_levels`), with the same kernels, so
each column is bit for bit the single-axis solve. All sums are taken per plane and then
in order, so the numbers do not depend on the number of threads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from uqtwin.solvers.cg import pcg
from uqtwin.solvers.clusters import (
    conductivity_contrast,
    high_conductivity_clusters,
    isolated_clusters,
)
from uqtwin.solvers.deflation import DeflatedPreconditioner, cluster_space
from uqtwin.solvers.multigrid import (
    build_hierarchy,
    coarsen_levels,
    redrive_levels,
    restore_levels,
)
from uqtwin.solvers.operators import (
    apply_operator,
    dirichlet_rhs,
    face_conductances,
    face_energy,
    face_fluxes,
    fill_ghosts,
    outer_face_layers,
    padded_zeros,
    relax_cells,
    residual,
)

__all__ = [
    "AxisSolution",
    "SolverOptions",
    "TensorSolution",
    "WarmStart",
    "connected_to_faces",
    "effective_tensor",
    "label_clusters",
    "solve_axis",
]

_SIX = ndimage.generate_binary_structure(3, 1)
# relaxation of the cells a warm start has no value for: until no value moves by more
# than _FILL_TOL (of the unit drop); joined clusters of a few hundred cells take ~100 sweeps
_FILL_MAX_SWEEPS = 1000
_CYCLE_INDEX = {"V": 1, "W": 2}
_FILL_TOL = 1e-4


def _padded_index(flat: np.ndarray, shape) -> np.ndarray:
    """Flat indices of cells of ``shape`` turned into flat indices of the padded array."""
    ny, nx = shape[1], shape[2]
    k, rest = np.divmod(flat, ny * nx)
    j, i = np.divmod(rest, nx)
    return ((k + 1) * (ny + 2) + j + 1) * (nx + 2) + i + 1


@dataclass(frozen=True)
class SolverOptions:
    """Options of the diffusion solver.

    Parameters
    ----------
    flux_tol : float
        Stop when ``|F_in − F_out| / F̄`` is below this (and ``change_tol`` holds).
    change_tol : float
        Stop when the relative change of the effective property (from the dissipation,
        see the module docstring) between two iterations is below this, and so is the
        change still to come estimated from the ratio of the last two changes. The
        defaults give τ to 1e-4 relative (measured: 1e-6 to 2e-5).
    max_iter : int
        CG iteration limit (a result that hits it has ``converged=False``).
    periodic : tuple of 3 bools
        Periodic sides (the driven axis is never periodic).
    sweeps : int
        Red-black Gauss-Seidel sweeps before and after the coarse-grid correction on the
        finest grid.
    coarse_sweeps : int
        The same on the coarser grids.
    cycle : {"W", "V"}
        Multigrid cycle. Measured (cold solves, default tolerances, 2 threads), the
        W-cycle with 2/2 sweeps is fastest: 200³ blobs along x 0.56 s in 4 CG iterations
        against 1.19 s in 13 for the best V-cycle (2/4 sweeps); tf_electrode 256³ along
        axis 0 1.32 s (5) against 1.54 s (7); 128³ blobs, three axes, 0.72 s against
        0.81 s. Piecewise-constant transfers handle the smoothest error worst, and that
        is what limits CG (and the inflow/outflow balance); the second visit of each
        coarse grid removes it for ~25 % more work per cycle.
    coarsest_size : int
        Coarsen until a grid has at most this many cells; that one is solved directly
        (sparse LU). 512 measured fastest (cold, three axes of the 128³ blobs: 0.47 s
        against 0.68 s with 4096, whose factorisation costs more than the W-cycles
        on it save, and 0.60 s with 64).
    dtype : str
        Storage type of the potential and the conductances ("float32" or "float64").
    deflation : {"auto", "off"}
        "auto": add a coarse space of the high-conductivity clusters to the multigrid
        preconditioner when the medium has a high contrast and disconnected
        high-conductivity clusters (:mod:`uqtwin.solvers.deflation`, which states the
        rule); "off": never. Either way CG converges to the same answer under the same
        stopping test; media the rule leaves out (any single-phase field) are solved
        exactly as with "off". Measured on 64³ electrode samples at 10⁴ contrast
        (``benchmarks/deflation.py``): 16-75 CG iterations per axis instead of 50-477
        where the binder breaks into islands (1.5-8.6x faster), 8-21 instead of 8-27
        where it percolates (the same time); the conductivity within 1.7e-4 of the
        converged answer instead of 1.6e-3 (without the coarse space CG meets its
        stopping test while island modes it has not yet found still carry the error).
    deflation_contrast : float
        Smallest ``k_max / k_min`` of the cells in the solve that "auto" deflates.
    deflation_min_clusters : int
        Fewest clusters of high cells (``k ≥ √(k_min k_max)``) not pinned by a driven
        face that "auto" deflates (per driven axis).
    """

    flux_tol: float = 1e-4
    change_tol: float = 1e-4
    max_iter: int = 500
    periodic: tuple[bool, bool, bool] = (False, False, False)
    sweeps: int = 2
    coarse_sweeps: int = 2
    cycle: str = "W"
    coarsest_size: int = 512
    dtype: str = "float32"
    deflation: str = "auto"
    deflation_contrast: float = 100.0
    deflation_min_clusters: int = 2

    def __post_init__(self) -> None:
        if self.cycle not in _CYCLE_INDEX:
            raise ValueError(f"cycle must be 'W' or 'V', got {self.cycle!r}")
        if self.deflation not in ("auto", "off"):
            raise ValueError(f"deflation must be 'auto' or 'off', got {self.deflation!r}")
        if self.sweeps < 1 or self.coarse_sweeps < 1:
            raise ValueError(f"sweeps and coarse_sweeps must be >= 1, got {self.sweeps}, "
                             f"{self.coarse_sweeps}")


@dataclass(frozen=True, eq=False)
class WarmStart:
    """What a solve of a similar medium can reuse from a reference solve along one axis.

    Returned as :attr:`AxisSolution.warm_start` by ``solve_axis(..., keep_warm_start=True)``
    and accepted wherever ``x0`` is (:func:`solve_axis`, :func:`effective_tensor`).

    Attributes
    ----------
    potential : ndarray, float32
        Converged potential of the reference (unpadded; 0 outside its solve): the
        initial guess (cells of a sample's solve where it is 0 are filled from their
        neighbours first).
    coarse_lu : scipy SuperLU or None
        Factorisation of the reference's coarsest multigrid operator. A sample of the same
        shape uses it as its coarsest-grid solver instead of factorising its own: the
        cycle stays SPD (it is then a slightly different, still valid, preconditioner),
        so CG converges to the same answer under the same stopping test. Not lent to
        media of high contrast (``k_max / k_min ≥ SolverOptions.deflation_contrast``):
        there an island more or less changes coarse conductances by orders of
        magnitude, and the lent coarse solver hid error from the stopping test (met
        4e-3 off the answer in a test); they factorise their own (a few ms).
    coarse_matrix : scipy.sparse matrix or None
        The operator ``coarse_lu`` factorises; pickling keeps it and refactorises on
        unpickling (SuperLU objects do not pickle).
    """

    potential: np.ndarray
    coarse_lu: object | None = None
    coarse_matrix: object | None = None

    def __reduce__(self):
        # SuperLU does not pickle (dask workers): ship the small coarse matrix instead and
        # factorise it once on arrival
        return _rebuild_warm_start, (self.potential, self.coarse_matrix)


def _rebuild_warm_start(potential, coarse_matrix) -> WarmStart:
    from scipy.sparse.linalg import splu

    lu = None if coarse_matrix is None else splu(coarse_matrix)
    return WarmStart(potential, lu, coarse_matrix)


@dataclass(frozen=True, eq=False)
class AxisSolution:
    """Result of one solve driven along ``axis``.

    Attributes
    ----------
    axis : int
        Driven axis.
    percolates : bool
        Whether some voxel path (6-connected) joins the two driven faces.
    reason : str
        Why the direction does not percolate (empty if it does).
    effective : ndarray, shape (3,)
        Column ``K[:, axis]`` of the effective tensor, in units of ``k``; ``K[axis,
        axis]`` from the dissipation (an upper bound of the exact value, see the module
        docstring), the others from the volume-averaged fluxes.
    flux_in, flux_out : float
        Total flux through the inlet and outlet faces, units ``[k]·ℓ`` per unit
        potential drop.
    flux_mismatch : float
        ``|F_in − F_out| / F̄`` achieved.
    change : float
        Relative change of ``K[axis, axis]`` (the dissipation) in the last iteration.
    iterations : int
        CG iterations.
    converged : bool
        Whether both tolerances were met within ``max_iter``.
    stop_reason : str
        Why a solve that did not converge stopped: "iteration limit" (``max_iter``) or
        "precision floor" (the true residual no longer decreased; the tolerances are
        below what float64 potentials resolve). Empty when converged.
    active_fraction : float
        Fraction of the voxels kept in the solve (connected to both faces).
    seconds : float
        Wall time of the solve.
    deflated_clusters : int
        Number of high-conductivity clusters deflated (0: plain multigrid; see
        :attr:`SolverOptions.deflation`).
    potential : ndarray or None
        Potential (float32, unpadded; 0 outside the solve) if requested.
    warm_start : WarmStart or None
        Reusable parts of this solve for samples of a similar medium, if requested.
    """

    axis: int
    percolates: bool
    reason: str
    effective: np.ndarray
    flux_in: float
    flux_out: float
    flux_mismatch: float
    change: float
    iterations: int
    converged: bool
    active_fraction: float
    seconds: float
    deflated_clusters: int = 0
    stop_reason: str = ""
    potential: np.ndarray | None = field(default=None, repr=False)
    warm_start: WarmStart | None = field(default=None, repr=False)


@dataclass(frozen=True, eq=False)
class TensorSolution:
    """Effective tensor from three solves.

    Attributes
    ----------
    tensor : ndarray, shape (3, 3)
        ``K[b, a]``: flux along ``b`` for a unit gradient along ``a`` (units of ``k``);
        zero columns for non-percolating directions.
    symmetric : ndarray, shape (3, 3)
        ``(K + Kᵀ) / 2``.
    eigenvalues : ndarray, shape (3,)
        Eigenvalues of ``symmetric``, ascending.
    principal_axes : ndarray, shape (3, 3)
        Unit eigenvectors as columns, components along (z, y, x).
    axes : tuple of AxisSolution
        The three solves.
    """

    tensor: np.ndarray
    symmetric: np.ndarray
    eigenvalues: np.ndarray
    principal_axes: np.ndarray
    axes: tuple[AxisSolution, ...]


def label_clusters(active: np.ndarray) -> tuple[np.ndarray, int]:
    """6-connected clusters of ``active`` (``scipy.ndimage.label``)."""
    return ndimage.label(active, structure=_SIX)


def connected_to_faces(
    active: np.ndarray,
    axis: int,
    *,
    periodic=(False, False, False),
    labels: tuple[np.ndarray, int] | None = None,
) -> np.ndarray:
    """Voxels of ``active`` 6-connected to both faces normal to ``axis``.

    Parameters
    ----------
    active : ndarray of bool
        Voxels that conduct.
    axis : int
        Driven axis.
    periodic : tuple of 3 bools
        Clusters touching across a periodic side (other than ``axis``) are joined.
    labels : (ndarray, int), optional
        Precomputed :func:`label_clusters` of ``active`` (reused across axes).

    Returns
    -------
    ndarray of bool
    """
    labels = labels if labels is not None else label_clusters(active)
    return _through_labels(active, axis, periodic, labels)[labels[0]]


def _through_labels(active, axis, periodic, labels) -> np.ndarray:
    """Per cluster label (0 = background): whether it joins the two faces normal to ``axis``."""
    lab, n = labels
    keep_label = np.zeros(n + 1, dtype=bool)
    if n == 0:
        return keep_label
    root = np.arange(n + 1)
    pairs = []
    for a in range(3):
        if a == axis or not periodic[a] or active.shape[a] < 2:
            continue
        lo = np.take(lab, 0, axis=a).ravel()
        hi = np.take(lab, active.shape[a] - 1, axis=a).ravel()
        both = (lo > 0) & (hi > 0)
        pairs.append((lo[both], hi[both]))
    if pairs:
        i = np.concatenate([p[0] for p in pairs])
        j = np.concatenate([p[1] for p in pairs])
        graph = coo_matrix((np.ones(i.size), (i, j)), shape=(n + 1, n + 1))
        _, root = connected_components(graph, directed=False)
    inlet = np.unique(root[np.take(lab, 0, axis=axis)])
    outlet = np.unique(root[np.take(lab, active.shape[axis] - 1, axis=axis)])
    through = np.intersect1d(inlet, outlet)
    through = through[through != root[0]]
    if through.size:
        keep_label[np.isin(root, through)] = True
        keep_label[0] = False
    return keep_label


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
    options: SolverOptions = SolverOptions(),
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
        Particle labels for contact resistance (see :func:`face_conductances`).
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
        Precomputed :func:`label_clusters` of ``k > 0``.
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
    conductances and coarse grids are computed once and only the driven face layers
    change per axis.
    """
    t0 = time.perf_counter()
    k = np.asarray(k)
    if k.ndim != 3:
        raise ValueError(f"k must be 3-D, got shape {k.shape}")
    active = k > 0
    # which voxels each axis keeps; the labels (4 bytes a voxel) are dropped before solving
    keeps: dict[int, np.ndarray | str] = {}
    by_key: dict[bytes, np.ndarray] = {}
    if not active.any():
        keeps = dict.fromkeys(axes, "the phase is empty")
    else:
        labels = labels if labels is not None else label_clusters(active)
        for a in axes:
            periodic = tuple(bool(p) and b != a for b, p in enumerate(options.periodic))
            through = _through_labels(active, a, periodic, labels)
            if not through.any():
                keeps[a] = ("no 6-connected path of conducting voxels joins the two faces "
                            f"normal to axis {a}")
                continue
            key = through.tobytes()
            if key not in by_key:
                by_key[key] = through[labels[0]]
            keeps[a] = by_key[key]
        del labels
    del active
    work = _workspace(k.shape, np.dtype(options.dtype), None)
    shared: dict[int, _Medium] = {}
    sols = []
    for a in axes:
        keep = keeps[a]
        if isinstance(keep, str):
            sols.append(_no_path(a, keep, t0))
        else:
            if id(keep) not in shared:
                shared[id(keep)] = _medium(k, keep, spacing, options, particles,
                                           contact_resistance)
            periodic = tuple(bool(p) and b != a for b, p in enumerate(options.periodic))
            sols.append(_solve_medium(shared[id(keep)], spacing, a, periodic, options,
                                      None if x0 is None else x0[a], keep_potential,
                                      keep_warm_start, t0, work))
        t0 = time.perf_counter()
    return sols


@dataclass(frozen=True, eq=False)
class _Medium:
    """What the solves along the three axes of one medium share: the kept voxels, their
    conductivities, the face conductances (no driven axis), the multigrid grids, the
    high-conductivity clusters to deflate (None: none) and whether the contrast is high
    (then a warm start's coarse solver is not borrowed)."""

    keep: np.ndarray
    kk: np.ndarray
    g: tuple[np.ndarray, np.ndarray, np.ndarray]
    levels: tuple
    active_fraction: float
    clusters: tuple[np.ndarray, int] | None = None
    high_contrast: bool = False


def _medium(k, keep, spacing, options, particles, contact_resistance) -> _Medium:
    kk = np.where(keep, k, 0.0)
    g = face_conductances(kk, spacing, None, periodic=options.periodic, particles=particles,
                          contact_resistance=contact_resistance,
                          dtype=np.dtype(options.dtype))
    clusters = None
    if options.deflation == "auto":
        clusters = high_conductivity_clusters(kk, contrast=options.deflation_contrast,
                                              min_clusters=options.deflation_min_clusters)
    return _Medium(keep, kk, g, coarsen_levels(*g, coarsest_size=options.coarsest_size),
                   float(keep.mean()), clusters,
                   conductivity_contrast(kk) >= options.deflation_contrast)


def _solve_medium(medium: _Medium, spacing, axis, periodic, options, x0, keep_potential,
                  keep_warm_start, t0, work: dict | None = None) -> AxisSolution:
    """Drive ``medium`` along ``axis`` (its outer faces on every grid), solve, undo."""
    saved = _drive(medium.g, medium.kk, spacing, axis)
    saved_levels = redrive_levels(medium.levels, axis)
    try:
        return _solve_faces(medium, spacing, axis, periodic, options, x0, keep_potential,
                            keep_warm_start, t0, work)
    finally:
        restore_levels(medium.levels, axis, saved_levels)
        _undrive(medium.g, axis, saved)


def _drive(g, kk: np.ndarray, spacing, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Turn the two outer face layers normal to ``axis`` into fixed-value faces, in place.

    ``g`` are face conductances computed with no driven axis (:func:`face_conductances`
    with ``axis=None``); the driven faces get what ``face_conductances(.., axis)`` gives
    them (half a cell in series with the face value). Returns the layers it replaced,
    for :func:`_undrive`.
    """
    h = [float(v) for v in spacing]
    area = float(np.prod([h[a] for a in range(3) if a != axis]))
    geom = 2.0 * (area / h[axis])
    layers = outer_face_layers(g[axis], axis)
    saved = tuple(v.copy() for v in layers)
    for view, cell in zip(layers, outer_face_layers(kk, axis), strict=True):
        view[...] = cell.astype(np.float64) * geom
    return saved


def _undrive(g, axis: int, saved) -> None:
    """Put back the face layers :func:`_drive` replaced."""
    for view, layer in zip(outer_face_layers(g[axis], axis), saved, strict=True):
        view[...] = layer


def _workspace(shape, dtype, work: dict | None) -> dict:
    """Padded arrays for one solve, reused across the axes of one medium."""
    if work is not None and work["x"].shape == tuple(n + 2 for n in shape) \
            and work["cg"][0].dtype == dtype:
        return work
    return {"x": padded_zeros(shape, np.float64),
            "cg": tuple(padded_zeros(shape, dtype) for _ in range(4))}


def _mismatch(f_in: float, f_out: float) -> float:
    """``|F_in − F_out| / F̄``."""
    mean = 0.5 * (f_in + f_out)
    return abs(f_in - f_out) / mean if mean > 0 else np.inf


def _change_ahead(change: float, drop: float, previous: float) -> float:
    """The relative change of the dissipation still to come, estimated.

    Its error after an iteration is the sum of all later drops. If they shrink
    geometrically by ``q = drop / previous`` that is ``change · q / (1 − q)``; the
    larger of that and ``change`` itself is returned (infinite for ``q ≥ 1``), so
    when ``q ≤ 1/2`` (the usual multigrid contraction, ~0.1) the test is the plain
    change, and on slowly converging media it asks for the tail. Without a previous drop
    (first iteration) it is ``change``.
    """
    if previous <= 0.0:
        return change
    q = drop / previous
    if q >= 1.0:
        return np.inf
    return max(change, change * q / (1.0 - q))


def _zero_frame(v: np.ndarray) -> None:
    v[0] = v[-1] = 0.0
    v[:, 0] = v[:, -1] = 0.0
    v[:, :, 0] = v[:, :, -1] = 0.0


def _solve_faces(medium: _Medium, spacing, axis, periodic, options, x0, keep_potential,
                 keep_warm_start, t0, work: dict | None = None) -> AxisSolution:
    """The solve of :func:`solve_axis` once ``medium`` is driven along ``axis``."""
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
                         cycle_index=_CYCLE_INDEX[options.cycle], coarse_lu=coarse_lu,
                         levels=medium.levels)

    # float64 iterate: the fluxes are differences of nearly equal potentials
    work = _workspace(shape, dtype, work)
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
            _zero_frame(v)
    x = work["x"]
    x[...] = 0.0
    if x0 is not None:
        if np.shape(x0) != shape:
            raise ValueError(f"x0 has shape {np.shape(x0)}, expected {shape}")
        x0 = np.asarray(x0)
        np.copyto(x[1:-1, 1:-1, 1:-1], x0, where=keep)
        fill_ghosts(x, periodic)
        # cells the reference did not solve (voxels a sample adds, clusters it joins to
        # the network) would start at 0 among neighbours at ~0.5: a local error with
        # ~200x the dissipation of the whole answer, which costs an iteration. Relaxed
        # alone to their neighbours' level (~7000 cells, ~8 ms at 128³), they leave the
        # smooth error, which the multigrid cycles remove
        new = _padded_index(np.flatnonzero(keep & (x0 == 0)), shape)
        if new.size:
            relax_cells(gz, gy, gx, x, b, new, _FILL_MAX_SWEEPS, _FILL_TOL)
            fill_ghosts(x, periodic)

    h = [float(s) for s in spacing]
    length = shape[axis] * h[axis]
    area = float(np.prod([shape[a] * h[a] for a in range(3) if a != axis]))
    first = [slice(1, -1)] * 3
    last = [slice(1, -1)] * 3
    first[axis], last[axis] = 1, shape[axis]
    gi = np.take(g[axis], 0, axis=axis).astype(np.float64)
    go = np.take(g[axis], shape[axis], axis=axis).astype(np.float64)

    def fluxes(v):
        f_in = float(np.sum(gi * (1.0 - v[tuple(first)])))
        f_out = float(np.sum(go * v[tuple(last)]))
        return f_in, f_out

    weights = []
    for a in range(3):
        w = np.ones(shape[a] + 1)
        if a == axis:
            w[0] = w[-1] = 0.0
        elif periodic[a]:
            w[-1] = 0.0
        weights.append(w)
    # the energy counts the outlet face through its zero ghost; the inlet is added
    e_weights = [w.copy() for w in weights]
    e_weights[axis][-1] = 1.0

    def conductance(v):
        # dissipation at unit drop: >= the exact conductance by ||error||_A^2 (Dirichlet
        # principle), so it converges twice as fast as the fluxes and from above
        if any(periodic):
            fill_ghosts(v, periodic)
        inlet = float(np.sum(gi * (1.0 - v[tuple(first)]) ** 2))
        return face_energy(gz, gy, gx, v, *e_weights) + inlet

    # from zero only the inlet faces dissipate: no pass over the volume needed
    g_start = conductance(x) if x0 is not None else float(np.sum(gi))
    state = {"energy": g_start, "change": np.inf, "drop": 0.0}

    def monitor(it, v, drop):
        mismatch = _mismatch(*fluxes(v))
        # the dissipation is xᵀAx − 2bᵀx + Σ G_inlet, and CG lowers xᵀAx − 2bᵀx by
        # `drop` per step: its change is known without a pass over the volume (the
        # value reported is evaluated from the final potential)
        g_e = state["energy"] - drop
        change = drop / g_e if g_e > 0 else np.inf
        # the change still to come if the drops keep shrinking by their last ratio q
        ahead = _change_ahead(change, drop, state["drop"])
        state.update(energy=g_e, change=change, drop=drop)
        return mismatch <= options.flux_tol and ahead <= options.change_tol

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
    f_in, f_out = fluxes(x)
    sums = np.array(face_fluxes(gz, gy, gx, x, *weights))
    sums[axis] += 0.5 * (f_in + f_out)
    volume = float(np.prod([shape[a] * h[a] for a in range(3)]))
    effective = sums * np.array(h) / volume * length
    # K_aa from the energy: its error is quadratic in the potential's (the boundary
    # fluxes' is linear), and one-sided (K_aa too high by ||error||_A^2 L / A)
    effective[axis] = conductance(x) * length / area
    pot = (np.ascontiguousarray(x[1:-1, 1:-1, 1:-1], dtype=np.float32)
           if keep_potential or keep_warm_start else None)
    return AxisSolution(
        axis=axis,
        percolates=True,
        reason="",
        effective=effective,
        flux_in=f_in,
        flux_out=f_out,
        flux_mismatch=_mismatch(f_in, f_out),
        change=float(state["change"]),
        iterations=res.iterations,
        converged=bool(res.converged),
        active_fraction=medium.active_fraction,
        seconds=time.perf_counter() - t0,
        deflated_clusters=n_clusters,
        stop_reason=res.stop_reason,
        potential=pot if keep_potential else None,
        warm_start=(WarmStart(pot, mg.coarse_lu, mg.coarse_matrix) if keep_warm_start
                    else None),
    )


def effective_tensor(
    k: np.ndarray,
    spacing=(1.0, 1.0, 1.0),
    *,
    options: SolverOptions = SolverOptions(),
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

"""What the diffusion solver returns: one axis's solution, the tensor, a warm start."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["AxisSolution", "TensorSolution", "WarmStart"]


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

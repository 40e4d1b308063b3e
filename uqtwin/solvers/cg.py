"""Preconditioned conjugate gradients on padded voxel arrays.

Vectors are float32 (half the memory traffic of float64, and the operator is
bandwidth bound); every inner product is accumulated in float64, which keeps the
recurrences stable to the accuracy the physical stopping test asks for (about 1e-6
relative in the fluxes). The stopping test is supplied by the caller as ``monitor``:
the diffusion solver stops on the mismatch of inflow and outflow and on the change of
the effective property, not on an algebraic residual.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from uqtwin.solvers.operators import cg_direction, cg_update, dot

__all__ = ["CGResult", "pcg"]


@dataclass(frozen=True)
class CGResult:
    """Outcome of :func:`pcg`.

    Attributes
    ----------
    iterations : int
        CG iterations done.
    converged : bool
        Whether ``monitor`` accepted the iterate before ``max_iter``.
    residual_norm : float
        ``‖b − A x‖₂ / ‖b‖₂`` of the last iterate (recurrence value).
    """

    iterations: int
    converged: bool
    residual_norm: float


def pcg(
    apply_a: Callable[[np.ndarray, np.ndarray], None],
    precondition: Callable[[np.ndarray, np.ndarray], None],
    b: np.ndarray,
    x: np.ndarray,
    *,
    residual: Callable[[np.ndarray, np.ndarray], None],
    monitor: Callable[[int, np.ndarray, float], bool],
    max_iter: int = 500,
    restart_tol: float = 1e-7,
    max_restarts: int = 6,
    work: tuple[np.ndarray, ...] | None = None,
) -> CGResult:
    """Solve ``A x = b`` in place by preconditioned CG with residual replacement.

    The search vectors and the residual are float32, the iterate ``x`` may be float64.
    Once the float32 recurrence residual falls below ``restart_tol`` it no longer tracks
    the true residual; CG is then restarted from the true residual ``b − A x``
    (computed from ``x``), which is mixed-precision iterative refinement and lets the
    physical stopping test reach tolerances below float32 rounding.

    Parameters
    ----------
    apply_a : callable
        ``apply_a(v, out)`` writes ``A v`` into ``out`` (padded arrays).
    precondition : callable
        ``precondition(r, out)`` writes ``M⁻¹ r`` into ``out``; ``M`` must be SPD.
    b : ndarray
        Right-hand side (padded).
    x : ndarray
        Initial guess, overwritten by the solution (padded).
    residual : callable
        ``residual(x, out)`` writes ``b − A x`` into ``out``.
    monitor : callable
        ``monitor(iteration, x, drop) -> bool``: True stops (converged). Called after
        every iteration; ``drop = α (r·z) = (r·z)² / (p·Ap)`` is how much the step
        lowered ``xᵀAx − 2bᵀx`` (the energy CG minimises), known without a pass over
        the volume.
    max_iter : int
        Iteration limit.
    restart_tol : float
        Relative recurrence residual that triggers a restart from the true residual.
    max_restarts : int
        After this many restarts a tiny true residual is accepted as converged (the
        precision floor is reached).
    work : tuple of 4 ndarrays, optional
        Scratch arrays shaped and typed like ``b`` (reused across solves of one size).
        Their interiors are overwritten; their ghost frames must be zero (the kernels
        only write ghosts along periodic axes, through the caller's callbacks).

    Returns
    -------
    CGResult
    """
    if work is None:
        work = tuple(np.zeros(x.shape, dtype=b.dtype) for _ in range(4))
    r, q, z, p = work
    residual(x, r)
    bnorm = np.sqrt(dot(b, b)) or 1.0
    precondition(r, z)
    p[...] = z
    rz = dot(r, z)
    rnorm = np.sqrt(dot(r, r)) / bnorm
    if rnorm == 0.0:
        return CGResult(0, True, 0.0)
    restarts = 0
    for it in range(1, max_iter + 1):
        apply_a(p, q)
        pq = dot(p, q)
        if pq <= 0.0:  # only when r is already zero to rounding
            return CGResult(it - 1, True, rnorm)
        rr = cg_update(x, r, p, q, rz / pq)
        rnorm = np.sqrt(rr) / bnorm
        if monitor(it, x, rz * rz / pq):
            return CGResult(it, True, rnorm)
        if rnorm < restart_tol:
            residual(x, r)
            rnorm = np.sqrt(dot(r, r)) / bnorm
            restarts += 1
            if rnorm < restart_tol and restarts > max_restarts:
                return CGResult(it, True, rnorm)
            precondition(r, z)
            p[...] = z
            rz = dot(r, z)
            continue
        precondition(r, z)
        rz_new = dot(r, z)
        cg_direction(p, z, rz_new / rz)
        rz = rz_new
    return CGResult(max_iter, False, rnorm)

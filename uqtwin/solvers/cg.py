"""Preconditioned conjugate gradients on padded voxel arrays.

Conjugate gradients (Hestenes & Stiefel, *J. Res. NBS* 49, 1952) with a symmetric
positive definite preconditioner, restarted from the true residual when the float32
recurrence stops tracking it (residual replacement, i.e. mixed-precision iterative
refinement: van der Vorst & Ye, *SIAM J. Sci. Comput.* 22, 2000).

Vectors are float32 (half the memory traffic of float64, and the operator is
bandwidth bound); every inner product is accumulated in float64, which keeps the
recurrences stable to the accuracy the physical stopping test asks for (about 1e-6
relative in the fluxes). The stopping test is supplied by the caller as ``monitor``:
the diffusion solver stops on the mismatch of inflow and outflow and on the change of
the effective property, not on an algebraic residual.

:func:`pcg_residual_free` is the same method with two vectors besides the iterate: the
residual is the true one, formed from the iterate wherever it is read (for media whose
operator is cheap to apply on the fly, :mod:`~uqtwin.solvers.binary`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from uqtwin.solvers.vectors import axpy, cg_direction, cg_update, dot

__all__ = ["CGResult", "pcg", "pcg_residual_free"]


@dataclass(frozen=True)
class CGResult:
    """Outcome of :func:`pcg`.

    Attributes
    ----------
    iterations : int
        CG iterations done.
    converged : bool
        Whether ``monitor`` accepted an iterate (or the residual became exactly zero).
    residual_norm : float
        ``‖b − A x‖₂ / ‖b‖₂`` of the last iterate (recurrence value, or the true one
        after a restart).
    stop_reason : str
        Why it stopped without converging: "iteration limit", or "precision floor" (the
        true residual stopped decreasing across restarts); empty when converged.
    """

    iterations: int
    converged: bool
    residual_norm: float
    stop_reason: str = ""


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
    max_stalls: int = 2,
    work: tuple[np.ndarray, ...] | None = None,
    b_norm: float | None = None,
) -> CGResult:
    """Solve ``A x = b`` in place by preconditioned CG with residual replacement.

    The search vectors and the residual are float32, the iterate ``x`` may be float64.
    Once the float32 recurrence residual has fallen by ``restart_tol`` below the true
    residual it started from, it no longer tracks the true residual (its rounding
    errors are of the size of the starting one); CG is then restarted from the true
    residual ``b − A x`` (computed from ``x``), which is mixed-precision iterative
    refinement and lets the physical stopping test reach tolerances below float32
    rounding. The threshold is relative to the start of each refinement cycle, not to
    ``‖b‖``: at high contrast ``‖b‖`` (the conductance of the inlet faces) can exceed the
    flux that the stopping test measures by 10⁴, and a threshold on ``‖b‖`` would
    restart every iteration once below it (steepest descent).

    Parameters
    ----------
    apply_a : callable
        ``apply_a(v, out)`` writes ``A v`` into ``out`` (padded arrays).
    precondition : callable
        ``precondition(r, out)`` writes ``M⁻¹ r`` into ``out``; ``M`` must be SPD.
    b : ndarray or None
        Right-hand side (padded); only its norm is used (for ``residual_norm``), and it
        may be None when ``b_norm`` is given.
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
        Drop of the recurrence residual, relative to the true residual at the last
        (re)start, that triggers a restart from the true residual.
    max_stalls : int
        Consecutive restarts whose true residual is not below half the previous one
        after which the precision floor is declared: CG stops, not converged.
    work : tuple of 3 ndarrays, optional
        Scratch arrays ``(r, q, p)`` shaped like ``x``, in the vectors' precision
        (reused across solves of one size). ``A p`` and the preconditioned residual
        share ``q``: ``A p`` is dead once the residual is updated, before the
        preconditioner writes. Their interiors are overwritten; their ghost frames must
        be zero (the kernels only write ghosts along periodic axes, through the
        caller's callbacks).
    b_norm : float, optional
        ``‖b‖₂`` (default: computed from ``b``).

    Returns
    -------
    CGResult

    Examples
    --------
    >>> from uqtwin.solvers.conductances import face_conductances
    >>> from uqtwin.solvers.layout import padded_zeros
    >>> from uqtwin.solvers.operators import apply_operator, dirichlet_rhs, residual
    >>> g = face_conductances(np.ones((4, 1, 1), np.float32), (1, 1, 1), 0)
    >>> b = dirichlet_rhs(g[0], 0, (4, 1, 1))
    >>> x = padded_zeros((4, 1, 1), np.float64)
    >>> res = pcg(lambda v, out: apply_operator(*g, v, out),
    ...           lambda r, z: np.copyto(z, r / 6.0), b, x,
    ...           residual=lambda v, out: residual(*g, v, b, out),
    ...           monitor=lambda it, v, drop: drop < 1e-12)
    >>> res.converged, np.round(x[1:-1, 1, 1], 4).tolist()
    (True, [0.875, 0.625, 0.375, 0.125])
    """
    if work is None:
        work = tuple(np.zeros(x.shape, dtype=b.dtype) for _ in range(3))
    r, q, p = work
    z = q  # A p is dead (r updated) before M⁻¹ r is written
    residual(x, r)
    bnorm = (np.sqrt(dot(b, b)) if b_norm is None else b_norm) or 1.0
    start = np.sqrt(dot(r, r))  # true residual at the start of this refinement cycle
    rnorm = start / bnorm
    if start == 0.0:
        return CGResult(0, True, 0.0)
    precondition(r, z)
    p[...] = z
    rz = dot(r, z)
    stalls = 0
    for it in range(1, max_iter + 1):
        apply_a(p, q)
        pq = dot(p, q)
        if pq > 0.0:
            rr = cg_update(x, r, p, q, rz / pq)
            rnorm = np.sqrt(rr) / bnorm
            if monitor(it, x, rz * rz / pq):
                return CGResult(it, True, rnorm)
            if np.sqrt(rr) >= restart_tol * start:
                precondition(r, z)
                rz_new = dot(r, z)
                cg_direction(p, z, rz_new / rz)
                rz = rz_new
                continue
        # restart from the true residual: the recurrence is spent, or p·Ap <= 0 (the
        # float32 direction vanished to rounding)
        residual(x, r)
        true = np.sqrt(dot(r, r))
        rnorm = true / bnorm
        if true == 0.0:
            return CGResult(it, True, 0.0)
        stalls = stalls + 1 if true > 0.5 * start else 0
        if stalls >= max_stalls:
            return CGResult(it, False, rnorm, "precision floor")
        start = true
        precondition(r, z)
        p[...] = z
        rz = dot(r, z)
    return CGResult(max_iter, False, rnorm, "iteration limit")


def pcg_residual_free(
    apply_a: Callable[[np.ndarray, np.ndarray], None],
    precondition_residual: Callable[[np.ndarray, np.ndarray], None],
    residual_dot: Callable[[np.ndarray, np.ndarray], float],
    x: np.ndarray,
    *,
    monitor: Callable[[int, np.ndarray, float], bool],
    max_iter: int = 500,
    work: tuple[np.ndarray, np.ndarray],
) -> CGResult:
    """Preconditioned CG that never stores the residual (two vectors besides ``x``).

    The residual ``r = b − A x`` is the true one, formed wherever it is read from the
    iterate itself: by the preconditioner (its finest grid) and in ``r·z``. In exact
    arithmetic these are the iterates of :func:`pcg` (its recurrence residual equals
    the true one); in floating point each step starts from the true residual, so there
    is nothing to restart, and the attainable accuracy is that of the residual of the
    stored iterate (float32: for tolerances of 1e-5 and above, see
    :func:`~uqtwin.solvers.axis_solve.solve_binary`).

    Parameters
    ----------
    apply_a : callable
        ``apply_a(v, out)`` writes ``A v`` into ``out``.
    precondition_residual : callable
        ``precondition_residual(x, out)`` writes ``M⁻¹ (b − A x)`` into ``out``.
    residual_dot : callable
        ``residual_dot(x, z)``: ``(b − A x) · z`` in float64.
    x : ndarray
        Initial guess, overwritten by the solution (padded).
    monitor : callable
        As in :func:`pcg`.
    max_iter : int
        Iteration limit.
    work : tuple of 2 ndarrays
        ``(q, p)`` shaped like ``x``, ghost frames zero; ``A p`` and ``M⁻¹ r`` share
        ``q``.

    Returns
    -------
    CGResult
        ``residual_norm`` is NaN (no pass computes it).

    Examples
    --------
    >>> from uqtwin.solvers.conductances import face_conductances
    >>> from uqtwin.solvers.layout import padded_zeros
    >>> from uqtwin.solvers.operators import apply_operator, dirichlet_rhs, residual
    >>> g = face_conductances(np.ones((4, 1, 1), np.float32), (1, 1, 1), 0)
    >>> b = dirichlet_rhs(g[0], 0, (4, 1, 1))
    >>> x = padded_zeros((4, 1, 1), np.float64)
    >>> def r_of(v):
    ...     r = np.zeros_like(v)
    ...     residual(*g, v, b, r)
    ...     return r
    >>> res = pcg_residual_free(lambda v, out: apply_operator(*g, v, out),
    ...                         lambda v, z: np.copyto(z, r_of(v) / 6.0),
    ...                         lambda v, z: float(np.sum(r_of(v) * z)), x,
    ...                         monitor=lambda it, v, drop: drop < 1e-12,
    ...                         work=(padded_zeros((4, 1, 1)), padded_zeros((4, 1, 1))))
    >>> res.converged, np.round(x[1:-1, 1, 1], 4).tolist()
    (True, [0.875, 0.625, 0.375, 0.125])
    """
    q, p = work
    z = q  # A p is dead (x updated) before M⁻¹ r is written
    precondition_residual(x, z)
    rz = residual_dot(x, z)
    if rz == 0.0:
        return CGResult(0, True, float("nan"))
    p[...] = z
    for it in range(1, max_iter + 1):
        apply_a(p, q)
        pq = dot(p, q)
        if not (pq > 0.0 and rz > 0.0):  # the direction vanished to rounding
            return CGResult(it, False, float("nan"), "precision floor")
        axpy(x, p, rz / pq)
        if monitor(it, x, rz * rz / pq):
            return CGResult(it, True, float("nan"))
        precondition_residual(x, z)
        rz_new = residual_dot(x, z)
        cg_direction(p, z, rz_new / rz)
        rz = rz_new
    return CGResult(max_iter, False, float("nan"), "iteration limit")

"""The physical stopping test of the diffusion solve: flux balance and the change ahead.

Convergence is judged on physical quantities, not on an algebraic residual: the relative
mismatch of inflow and outflow (:func:`flux_mismatch`, which equals the sum of the
algebraic residuals) and the relative change of the effective property from the
dissipation between iterations must both fall below their tolerances. The change needs
no pass over the volume: the dissipation is ``xᵀAx − 2bᵀx`` plus a constant, which each
CG step lowers by ``α (r·z)``. Its error after the last change ``δ`` is the sum of the
drops still to come, about ``δ q / (1 − q)`` with ``q`` the ratio of the last two drops;
the test asks for the larger of ``δ`` and that tail (:func:`change_ahead`), so it is the
plain change test while ``q ≤ 1/2`` and only asks for more on slowly converging media.
CG's drops are not geometric, so no estimate from them is a bound: a plateau CG has not
reached yet stays invisible.
"""

from __future__ import annotations

import numpy as np

__all__ = ["change_ahead", "flux_mismatch"]


def flux_mismatch(f_in: float, f_out: float) -> float:
    """``|F_in − F_out| / F̄`` (``inf`` when no flux flows).

    Examples
    --------
    >>> flux_mismatch(1.01, 0.99)
    0.020000000000000018
    """
    mean = 0.5 * (f_in + f_out)
    return abs(f_in - f_out) / mean if mean > 0 else np.inf


def change_ahead(change: float, drop: float, previous: float) -> float:
    """The relative change of the dissipation still to come, estimated.

    Its error after an iteration is the sum of all later drops. If they shrink
    geometrically by ``q = drop / previous`` that is ``change · q / (1 − q)``; the
    larger of that and ``change`` itself is returned (infinite for ``q ≥ 1``), so
    when ``q ≤ 1/2`` (the usual multigrid contraction, ~0.1) the test is the plain
    change, and on slowly converging media it asks for the tail. Without a previous drop
    (first iteration) it is ``change``.

    Parameters
    ----------
    change : float
        Relative change of the dissipation in the last iteration.
    drop : float
        The last iteration's drop of the dissipation.
    previous : float
        The drop before it (0 if none).

    Returns
    -------
    float

    Examples
    --------
    >>> change_ahead(1e-5, 1.0, 10.0)  # q = 0.1: the change itself
    1e-05
    >>> round(change_ahead(1e-5, 0.8, 1.0), 12)  # q = 0.8: four times the change
    4e-05
    """
    if previous <= 0.0:
        return change
    q = drop / previous
    if q >= 1.0:
        return np.inf
    return max(change, change * q / (1.0 - q))

"""Effective-medium relations between transport results: the Bruggeman relation.

The Bruggeman relation τ = ε^(1 − b) between porosity ε, tortuosity factor τ and the
Bruggeman exponent b (the convention D_eff = D ε / τ = D ε^b of porous-electrode models,
Doyle, Fuller & Newman 1993), used by the derived ``bruggeman_exponent`` quantity, the
cell parameters' documentation and the export to cell models.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bruggeman_exponent"]


def bruggeman_exponent(porosity, tortuosity, *, pooled: bool = False):
    """Bruggeman exponent from porosity and tortuosity factor, τ = ε^(1 − b).

    Parameters
    ----------
    porosity : array_like
        ε, in (0, 1).
    tortuosity : array_like
        τ ≥ 1 (same shape as ``porosity``; ``inf`` for a non-percolating sample).
    pooled : bool
        Return one exponent fitted to all samples (least squares of ln τ on ln ε
        through the origin) instead of one per sample.

    Returns
    -------
    ndarray or float
        b = 1 − ln τ / ln ε per sample (NaN where ε ∉ (0, 1) or τ is not finite), or
        the pooled b = 1 − Σ ln ε ln τ / Σ (ln ε)².

    Examples
    --------
    >>> from uqtwin.solvers import bruggeman_exponent
    >>> float(bruggeman_exponent(0.25, 0.25 ** -0.5))
    1.5
    """
    eps = np.asarray(porosity, dtype=float)
    tau = np.asarray(tortuosity, dtype=float)
    eps, tau = np.broadcast_arrays(eps, tau)
    ok = (eps > 0) & (eps < 1) & np.isfinite(tau) & (tau > 0)
    le = np.log(np.where(ok, eps, 0.5))
    lt = np.log(np.where(ok, tau, 1.0))
    if pooled:
        if not ok.any():
            return float("nan")
        return float(1.0 - np.sum(le[ok] * lt[ok]) / np.sum(le[ok] ** 2))
    return np.where(ok, 1.0 - lt / le, np.nan)

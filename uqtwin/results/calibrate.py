"""Fitting a discrepancy term to calibration cases: a trend and a cross-conformal spread.

The calibration study (``benchmarks/calibration.py``) runs the sampler on phantoms of
known truth, as the engine runs it on a scan, and records per case what the members
missed: ``d = log(truth / median)`` and the members' own log spread. :func:`fit_term`
turns those into a :class:`~uqtwin.results.discrepancy.DiscrepancyTerm`:

* the mean of ``d`` is a linear trend in the run's covariates (ordinary least squares);
* the residual sd is the smallest with which the members times ``exp(δ)`` would hold the
  truth of the required share of the cases (:func:`conformal_sd`), each case's residual
  taken from the trend fitted **without its own group** (family of microstructures)
  when groups are given: what the trend misses on a kind of microstructure it never saw.

Matching the mean squared error instead would let families whose members spread widely
hide a family whose members spread little and miss far; a per-case coverage criterion
does not. This module is here, not in the benchmark, so that a user with phantoms of
their own material can fit terms for them the same way and so that the method is tested.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy.stats import norm

from uqtwin.errors import VolumeError
from uqtwin.results.discrepancy import COVARIATES, DiscrepancyTerm

__all__ = ["conformal_sd", "effective_cases", "fit_term"]


def conformal_sd(resid: np.ndarray, spread: np.ndarray, cover: float = 0.9,
                 n_eff: float | None = None) -> float:
    """The smallest residual sd with which ``cover`` of the cases are covered.

    Case ``i`` counts as covered when ``|resid_i| <= z sqrt(spread_i² + sd²)``, ``z``
    the normal quantile of ``cover``: its members (log spread ``spread_i``) times
    ``exp(δ)``, ``δ ~ N(0, sd²)``, would hold its truth in their central ``cover``
    interval. The share required is the split-conformal one,
    ``ceil((n + 1) cover) / n`` (capped at all cases), so that a new exchangeable case
    is covered at least ``cover`` of the time (Vovk, Gammerman and Shafer 2005; Lei et
    al., JASA 2018). Cases that come in correlated groups (families of microstructures)
    carry less information than their number: with ``n_eff`` the share is
    ``ceil((n_eff + 1) cover) / n_eff`` instead (six families give "cover them all").

    Parameters
    ----------
    resid : ndarray, shape (n,)
        Log errors of the cases after the trend.
    spread : ndarray, shape (n,)
        The members' own log standard deviation per case.
    cover : float
        Coverage in (0, 1).
    n_eff : float, optional
        Effective number of independent cases (default ``n``).

    Returns
    -------
    float
        The residual sd (0 when the members' own spread already covers enough cases).

    Examples
    --------
    >>> r = np.array([0.1, -0.2, 0.3, -0.4, 0.5, 0.6, -0.7, 0.8, 0.9, -1.0])
    >>> round(conformal_sd(r, np.zeros(10), 0.8), 4)   # 9 of 10 must be covered: 0.9 / z
    0.7023
    >>> conformal_sd(r, np.full(10, 1.0), 0.8)        # the members already spread enough
    0.0
    """
    resid = np.asarray(resid, dtype=float).reshape(-1)
    spread = np.asarray(spread, dtype=float).reshape(-1)
    if resid.shape != spread.shape:
        raise VolumeError(f"{resid.size} residuals for {spread.size} spreads")
    if not 0.0 < cover < 1.0:
        raise VolumeError(f"cover must lie in (0, 1), got {cover}")
    n = resid.size
    if n == 0:
        return 0.0
    z = float(norm.ppf(0.5 + cover / 2.0))
    m = float(n if n_eff is None else min(max(n_eff, 1.0), n))
    need = min(int(np.ceil(np.ceil((m + 1) * cover) / m * n - 1e-9)), n)
    # Per case, the sd that just covers it; the need-th smallest covers need cases.
    each = np.sqrt(np.maximum((resid / z) ** 2 - spread ** 2, 0.0))
    return float(np.sort(each)[need - 1])


def effective_cases(resid: np.ndarray, groups: np.ndarray) -> float:
    """Kish's effective number of cases of grouped residuals, ``n / (1 + (m - 1) ρ)``.

    ``ρ`` is the intraclass correlation (one-way ANOVA estimate, clipped to [0, 1]) and
    ``m`` the mean group size: cases of one family that miss together count as fewer.

    Examples
    --------
    >>> g = np.repeat(np.arange(4), 5)
    >>> effective_cases(np.repeat([1.0, -1.0, 2.0, -2.0], 5), g)   # all family effect
    4.0
    """
    labels = np.unique(groups)
    n = resid.size
    m = n / labels.size
    means = np.array([resid[groups == k].mean() for k in labels])
    within = float(np.mean([resid[groups == k].var(ddof=1) if (groups == k).sum() > 1
                            else 0.0 for k in labels]))
    between = max(float(means.var(ddof=1)) - within / m, 0.0) if labels.size > 1 else 0.0
    rho = between / (between + within) if between + within > 0 else 0.0
    return float(n / (1.0 + (m - 1.0) * rho))


def fit_term(
    variable: str,
    index: Mapping[str, str],
    d: np.ndarray,
    spread: np.ndarray,
    covariates: np.ndarray,
    *,
    used: Sequence[str] = COVARIATES,
    groups: Sequence[str] | None = None,
    cover: float = 0.9,
    reference: Mapping[str, str] | None = None,
) -> DiscrepancyTerm:
    """Fit one discrepancy term to calibration cases.

    Parameters
    ----------
    variable : str
        Results variable, e.g. ``"specific_surface_area"``.
    index : mapping
        The element, e.g. ``{"phase": "binder"}``.
    d : ndarray, shape (n,) or (n, m)
        ``log(truth / median of the members)`` per case (``m`` columns sharing one term,
        e.g. τ along three axes, enter as repeated cases); NaN or inf are left out.
    spread : ndarray, same shape as ``d``
        The members' own log standard deviation.
    covariates : ndarray, shape (n, len(COVARIATES))
        Each case's covariates in the order of :data:`~uqtwin.results.discrepancy.COVARIATES`.
    used : sequence of str
        Covariates the trend may use (the others get a zero slope); empty: a mean only.
    groups : sequence of str, optional
        The family of each case. With three or more, each family's residuals come from
        the trend fitted without it (cross-conformal by group, Barber et al., Ann. Stat.
        2021), and the residual sd is chosen for their effective number
        (:func:`effective_cases`); the trend returned is fitted on all cases.
    cover : float
        Coverage the residual sd is chosen for (:func:`conformal_sd`).
    reference : mapping, optional
        For a composition (volume fractions): the element ``d`` is a log ratio to.

    Returns
    -------
    DiscrepancyTerm
        Trend centred on the covariates' mean, its coefficients' covariance (repeated
        columns count each case once) and the residual sd.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(0.5, 2.0, (60, 1)) * [1.0, 0.0, 0.0]   # only the blur varies
    >>> d = 0.2 + 0.3 * (x[:, 0] - 1.0) + 0.1 * rng.standard_normal(60)
    >>> t = fit_term("a", {}, d, np.zeros(60), x, used=["psf_sigma"])
    >>> round(t.coef[0], 1), round(t.sd, 1)     # the slope and the noise sd come back
    (0.3, 0.1)
    """
    d = np.asarray(d, dtype=float)
    spread = np.asarray(spread, dtype=float)
    cov = np.asarray(covariates, dtype=float)
    if d.ndim == 1:
        d, spread = d[:, None], spread[:, None]
    n, m = d.shape
    if spread.shape != d.shape or cov.shape != (n, len(COVARIATES)):
        raise VolumeError(f"d {d.shape}, spread {spread.shape} and covariates {cov.shape} "
                          f"do not describe the same {n} cases")
    unknown = set(used) - set(COVARIATES)
    if unknown:
        raise VolumeError(f"unknown covariates {sorted(unknown)}; known: {COVARIATES}")
    centre = cov.mean(axis=0)
    x = np.column_stack([np.ones(n), cov - centre])
    for j, name in enumerate(COVARIATES):
        if name not in used:
            x[:, 1 + j] = 0.0
    # Columns sharing a term enter as repeated cases (column-major: case order kept).
    xx = np.vstack([x] * m)
    dd, sp = d.T.reshape(-1), spread.T.reshape(-1)
    g = np.tile(np.asarray(groups), m) if groups is not None else None
    ok = np.isfinite(dd) & np.isfinite(sp)
    xx, dd, sp = xx[ok], dd[ok], sp[ok]
    if dd.size < 2:
        raise VolumeError(f"{variable}: fewer than 2 finite cases to fit a term on")
    coef, *_ = np.linalg.lstsq(xx, dd, rcond=None)
    resid = dd - xx @ coef
    unseen, n_eff = resid, None
    if g is not None and len(set(g[ok])) >= 3:
        g = g[ok]
        unseen = np.empty_like(resid)
        for name in set(g):
            out = g == name
            b, *_ = np.linalg.lstsq(xx[~out], dd[~out], rcond=None)
            unseen[out] = dd[out] - xx[out] @ b
        n_eff = effective_cases(unseen, g)
    dof = max(dd.size - int(np.linalg.matrix_rank(xx)), 1)
    s2 = float(resid @ resid / dof)
    # Repeated columns are not independent cases: the covariance counts each case once.
    c = s2 * np.linalg.pinv(xx.T @ xx) * m
    return DiscrepancyTerm(
        variable, tuple((str(k), str(v)) for k, v in index.items()), float(coef[0]),
        tuple(float(v) for v in coef[1:]), tuple(float(v) for v in centre),
        conformal_sd(unseen, sp, cover, n_eff), tuple(tuple(float(v) for v in row) for row in c),
        tuple((str(k), str(v)) for k, v in (reference or {}).items()),
    )

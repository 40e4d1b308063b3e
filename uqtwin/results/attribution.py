"""Where an interval comes from: the share of each quantity's spread due to each nuisance.

Every member of the ``ambiguity`` ensemble draws a few values the grey values cannot
identify (the active boundary's share, the binder's solid share and texture length) and,
per quantity, the estimator's discrepancy; the engine stores them as variables with the
role ``nuisance``. For a quantity ``Y`` and a nuisance ``X`` the first-order (main
effect) Sobol index ``S = Var(E[Y | X]) / Var(Y)`` says how much of ``Y``'s variance would
go if ``X`` were known (Saltelli et al., *Global Sensitivity Analysis*, 2008, ch. 1). It
is estimated from the members themselves (no extra runs) by regressing ``Y`` on a cubic
polynomial of ``X`` and taking the adjusted R² (clipped to [0, 1]; with 32 members an
index is uncertain by ~0.1). What no single nuisance explains (the random fields that
place each boundary, the mixture-parameter draw, interactions) is reported as ``other``.
When the indices add up to more than 1 (estimation noise or correlated inputs) they are
scaled down to sum to 1.

This tells a user what would buy a narrower interval: "pore surface area: 70 % of the
spread is the binder's unknown solid share" means a porosimetry or BET measurement of the
binder, or a finer scan, narrows it; "other" means more voxels (a larger scan) do.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from uqtwin.results.conventions import NUISANCE, SAMPLE_DIM
from uqtwin.results.discrepancy import CLOSES, RESTATED, TERM_DIM

#: Role attribute of the per-member nuisance variables.
NUISANCE_ROLE = NUISANCE
#: Column of the variance not explained by any single nuisance.
OTHER = "other"
#: Column of the estimator discrepancy (matched to each quantity element).
DISCREPANCY = "estimator discrepancy"


def main_effect(y: np.ndarray, x: np.ndarray, degree: int = 3) -> float:
    """First-order Sobol index of ``x`` for ``y`` (adjusted R² of a polynomial fit).

    Parameters
    ----------
    y, x : ndarray, shape (n,)
        Paired member values (non-finite pairs are dropped).
    degree : int
        Polynomial degree of ``E[y | x]``.

    Returns
    -------
    float
        In [0, 1]; 0 when ``y`` or ``x`` is constant or fewer than ``degree + 3`` pairs.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x, e = rng.random(200), rng.standard_normal(200)
    >>> round(main_effect(3 * x + 0.1 * e, x), 2)
    0.99
    >>> main_effect(e, x) < 0.05
    True
    """
    ok = np.isfinite(y) & np.isfinite(x)
    y, x = np.asarray(y, float)[ok], np.asarray(x, float)[ok]
    n = y.size
    if n < degree + 3 or np.ptp(y) == 0 or np.ptp(x) == 0:
        return 0.0
    z = (x - x.mean()) / x.std()
    design = np.vander(z, degree + 1)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coef
    r2 = 1.0 - resid.var() / y.var()
    adj = 1.0 - (1.0 - r2) * (n - 1) / (n - degree - 1)
    return float(np.clip(adj, 0.0, 1.0))


def nuisance_variables(ds: xr.Dataset) -> list[str]:
    """Per-member nuisance variables of a results Dataset (role ``nuisance``).

    Parameters
    ----------
    ds : xarray.Dataset
        A results Dataset.

    Returns
    -------
    list of str
        Names of the data variables whose ``role`` attribute is ``nuisance`` and that have a
        ``sample`` dim but no term dim (those are per-term breakdowns, not draws), in the
        Dataset's order.
    """
    return [str(n) for n, da in ds.data_vars.items()
            if da.attrs.get("role") == NUISANCE_ROLE and SAMPLE_DIM in da.dims
            and TERM_DIM not in da.dims]


def variance_decomposition(
    ds: xr.Dataset, variables: Sequence[str] | None = None
) -> pd.DataFrame:
    """Share of each quantity element's ensemble variance due to each nuisance.

    Parameters
    ----------
    ds : xarray.Dataset
        Results with a ``sample`` dim and the nuisance variables the engine stores.
    variables : sequence of str, optional
        Variables whose elements to decompose (default: those of the summary table,
        :func:`uqtwin.results.summary.ensemble_variables`).

    Returns
    -------
    pandas.DataFrame
        Index: element names as :func:`uqtwin.results.summary.summarize` gives them; one
        column per nuisance (its ``long_name``), the ``estimator discrepancy`` column where
        a term applies, and ``other``; each row sums to 1. Elements that do not vary
        get no row; the frame is empty when the run stored no nuisance.
    """
    from uqtwin.results.summary import element_series, ensemble_variables

    nuisances = nuisance_variables(ds)
    deltas = ds.get("estimator_discrepancy")
    if not nuisances and deltas is None:
        return pd.DataFrame()
    variables = ensemble_variables(ds) if variables is None else list(variables)
    names = {n: str(ds[n].attrs.get("long_name", n)) for n in nuisances}
    terms = [str(t) for t in deltas[TERM_DIM].values] if deltas is not None else []
    closes = ([str(c) for c in deltas[CLOSES].values]
              if deltas is not None and CLOSES in deltas.coords else [""] * len(terms))
    out = {}
    for row, variable, y in element_series(ds, variables):
        if not np.isfinite(y).any() or np.nanstd(np.where(np.isfinite(y), y, np.nan)) == 0:
            continue
        shares = {names[n]: main_effect(y, ds[n].values) for n in nuisances}
        # A term moves its own element; a term on a composition moves every element of
        # its variable (independent draws: their first-order shares add).
        whole = RESTATED.get(variable, (variable,))[0]  # porosity: the volume fractions
        mine = [t for t, c in zip(terms, closes, strict=True) if t == row or c == whole]
        if mine:
            shares[DISCREPANCY] = sum(main_effect(y, deltas.sel({TERM_DIM: t}).values)
                                      for t in mine)
        total = sum(shares.values())
        if total > 1.0:
            shares = {k: v / total for k, v in shares.items()}
            total = 1.0
        shares[OTHER] = 1.0 - total
        out[row] = shares
    return pd.DataFrame.from_dict(out, orient="index").fillna(0.0)


def main_source(decomposition: pd.DataFrame) -> pd.Series:
    """For each row the largest named source and its share, e.g. ``binder solid share 70%``.

    ``other`` is named only when it is the largest part.
    """
    out = {}
    for name, row in decomposition.iterrows():
        top = row.idxmax()
        out[name] = f"{top} {row[top]:.0%}"
    return pd.Series(out, dtype=object)

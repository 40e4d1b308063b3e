"""Posterior-predictive summaries of an ensemble results Dataset, through arviz.

The samples of every quantity are treated as one chain of posterior-predictive draws;
arviz gives the mean, sd and highest-density interval (HDI) of each scalar element.
Samples that are not finite (a tortuosity of ∞ where a sample does not percolate) are
left out of mean, sd and interval and counted in the ``p_inf`` column, so a reader sees
how often it happened instead of an interval that silently ignores it. Elements that are
NaN in every sample (not computed, e.g. a phase left out by a quantity's ``phases``
option) get no row.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from uqtwin.results.conventions import (
    DIAGNOSTIC,
    NUISANCE,
    SAMPLE_DIM,
    bin_dim,
    variable_role,
)
from uqtwin.results.conventions import arviz as _arviz


def ensemble_variables(ds: xr.Dataset, max_elements: int = 64) -> list[str]:
    """Data variables with a ``sample`` dim and at most ``max_elements`` values per sample.

    The variables the summary table reports. Left out: variables without a ``sample`` dim,
    non-numeric ones, ``sample_seed``, solver diagnostics and nuisance draws (by role; the
    nuisances feed the variance decomposition instead) and distributions (variables with a
    bin dim, shown as bands in plots and the report rather than as table rows).

    Parameters
    ----------
    ds : xarray.Dataset
        A results Dataset.
    max_elements : int, optional
        The most values per sample a variable may have (e.g. phases × axes); default 64,
        which keeps voxel maps out.

    Returns
    -------
    list of str
        The names, in the Dataset's order.
    """
    names = []
    for name, da in ds.data_vars.items():
        if SAMPLE_DIM not in da.dims or da.dtype.kind not in "biuf" or name == "sample_seed":
            continue
        if variable_role(da) in (DIAGNOSTIC, NUISANCE):
            continue  # solver diagnostics; nuisance draws feed the variance decomposition
        if bin_dim(da):
            continue  # distributions are shown as bands (plots, report), not table rows
        if da.size // max(da.sizes[SAMPLE_DIM], 1) <= max_elements:
            names.append(str(name))
    return names


def to_inference_data(ds: xr.Dataset, variables: Sequence[str] | None = None):
    """The ensemble as an ``arviz.InferenceData`` with a posterior-predictive group.

    ``sample`` becomes arviz's ``draw`` dim, with one chain.
    """
    az = _arviz()
    variables = ensemble_variables(ds) if variables is None else list(variables)
    pp = ds[variables].astype(float).expand_dims(chain=[0]).rename({SAMPLE_DIM: "draw"})
    pp = pp.assign_coords(draw=np.arange(pp.sizes["draw"]))
    return az.InferenceData(posterior_predictive=pp)


def _label(name: str, index: dict) -> str:
    if not index:
        return name
    return f"{name}[{', '.join(str(v) for v in index.values())}]"


def element_series(ds: xr.Dataset, variables: Sequence[str]):
    """``(row name, variable, per-sample values)`` of every scalar element, in table order.

    The row names are those of :func:`summarize` (``name[coord, ...]``).
    """
    for name in variables:
        da = ds[name]
        other = [d for d in da.dims if d != SAMPLE_DIM]
        for idx in np.ndindex(*[da.sizes[d] for d in other]):
            index = {
                d: da[d].values[i] if d in da.coords else i
                for d, i in zip(other, idx, strict=True)
            }
            values = np.asarray(da.isel(dict(zip(other, idx, strict=True))).values, dtype=float)
            yield _label(name, index), name, values


def summarize(
    ds: xr.Dataset, hdi_prob: float = 0.9, variables: Sequence[str] | None = None
) -> pd.DataFrame:
    """Mean, sd and HDI of every scalar element of the ensemble variables.

    Parameters
    ----------
    ds : xarray.Dataset
        Results with a ``sample`` dim.
    hdi_prob : float
        Probability mass of the highest-density interval (default 0.9).
    variables : sequence of str, optional
        Variables to summarise (default: every numeric ensemble variable with at most 64
        values per sample that is not a diagnostic; size distributions over many bins are
        left to the plots).

    Returns
    -------
    pandas.DataFrame
        Index: ``name[coord, ...]``; columns ``variable, units, mean, sd, hdi_low,
        hdi_high, p_inf, n_samples, spread_from`` (the largest source of the spread and
        its share, from :func:`uqtwin.results.attribution.variance_decomposition`; empty
        when the sampler draws no nuisance).
    """
    az = _arviz()
    variables = ensemble_variables(ds) if variables is None else list(variables)
    if not variables:
        return pd.DataFrame(
            columns=["variable", "units", "mean", "sd", "hdi_low", "hdi_high", "p_inf",
                     "n_samples", "spread_from"]
        )
    finite = ds[variables].astype(float)
    finite = finite.where(np.isfinite(finite))
    idata = to_inference_data(finite, variables)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN elements give NaN rows
        table = az.summary(
            idata,
            group="posterior_predictive",
            kind="stats",
            hdi_prob=hdi_prob,
            skipna=True,
            round_to="none",
        )
    lo_col, hi_col = [c for c in table.columns if c.startswith("hdi_")]
    rows = []
    n = ds.sizes[SAMPLE_DIM]
    for key, name, values in element_series(ds, variables):
        if np.isnan(values).all():
            continue  # not computed for this element (e.g. a phase left out by option)
        stats = table.loc[key]
        rows.append(
            {
                "name": key,
                "variable": name,
                "units": ds[name].attrs.get("units", ""),
                "mean": float(stats["mean"]),
                "sd": float(stats["sd"]),
                "hdi_low": float(stats[lo_col]),
                "hdi_high": float(stats[hi_col]),
                "p_inf": float(np.mean(np.isinf(values))),
                "n_samples": int(n),
            }
        )
    out = pd.DataFrame(rows).set_index("name")
    from uqtwin.results.attribution import main_source, variance_decomposition

    decomposition = variance_decomposition(ds, variables)
    # The largest source of each row's spread ("" where the run drew no nuisance).
    out["spread_from"] = main_source(decomposition).reindex(out.index).fillna("")
    return out


def format_value(value: float, digits: int = 4) -> str:
    """A number for a table: ``digits`` significant digits, ∞ and — for non-finite.

    Parameters
    ----------
    value : float
        The value. Anything that is not a Python ``float`` is returned as ``str(value)``.
    digits : int, optional
        Significant digits (``g`` format); default 4.

    Returns
    -------
    str
        The formatted value; ``"∞"``, ``"−∞"`` (with a minus sign) or ``"—"`` (NaN) for
        non-finite values.

    Examples
    --------
    >>> from uqtwin.results.summary import format_value
    >>> format_value(3.14159265), format_value(float("inf")), format_value(float("nan"))
    ('3.142', '∞', '—')
    >>> format_value(12345.678, digits=2), format_value(7)
    ('1.2e+04', '7')
    """
    if isinstance(value, float):
        if not np.isfinite(value):
            return "∞" if value == np.inf else ("−∞" if value == -np.inf else "—")
        return f"{value:.{digits}g}"
    return str(value)


def summary_markdown(table: pd.DataFrame, hdi_prob: float = 0.9) -> str:
    """The summary as a Markdown table (no extra dependency).

    Parameters
    ----------
    table : pandas.DataFrame
        The summary table, indexed by quantity, with columns ``units``, ``mean``, ``sd``,
        ``hdi_low``, ``hdi_high``, ``p_inf`` and optionally ``spread_from``.
    hdi_prob : float, optional
        The HDI probability the table was computed with, used only in the column headings;
        default 0.9.

    Returns
    -------
    str
        A pipe table with a header row, one row per quantity and a final newline; numbers
        are formatted by :func:`format_value`.
    """
    pct = f"{100 * hdi_prob:g}%"
    head = ["quantity", "units", "mean", "sd", f"{pct} HDI low", f"{pct} HDI high", "P(∞)",
            "spread from"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, row in table.iterrows():
        cells = [
            name,
            row["units"],
            format_value(row["mean"]),
            format_value(row["sd"]),
            format_value(row["hdi_low"]),
            format_value(row["hdi_high"]),
            format_value(row["p_inf"]),
            row.get("spread_from", ""),
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def write_summary(table: pd.DataFrame, stem: str | Path, hdi_prob: float = 0.9) -> list[Path]:
    """Write ``<stem>.summary.csv`` and ``<stem>.summary.md``; return their paths.

    Parameters
    ----------
    table : pandas.DataFrame
        The summary table (see :func:`summary_markdown`).
    stem : str or Path
        The path without the suffixes, e.g. ``out/run`` for ``out/run.summary.csv``; the
        folder must exist.
    hdi_prob : float, optional
        The HDI probability, for the Markdown headings; default 0.9.

    Returns
    -------
    list of Path
        ``[csv_path, markdown_path]``.
    """
    stem = Path(stem)
    csv = stem.with_name(stem.name + ".summary.csv")
    md = stem.with_name(stem.name + ".summary.md")
    table.to_csv(csv)
    md.write_text(summary_markdown(table, hdi_prob))
    return [csv, md]

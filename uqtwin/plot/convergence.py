"""Convergence with the number of samples: running mean and HDI, and their drift."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from uqtwin.plot.layout import element_colour, figure_grid, message_figure, phase_panels
from uqtwin.plot.select import iter_elements, scalar_variables
from uqtwin.results.conventions import hdi, hdi_prob_of, units_label


def running_summary(values: np.ndarray, hdi_prob: float = 0.9, n_min: int = 2
                    ) -> dict[str, np.ndarray]:
    """Mean and HDI bounds of the first n draws, for n = n_min … N.

    Parameters
    ----------
    values : numpy.ndarray
        1-D draws in sample order; non-finite draws are left out of each summary.
    hdi_prob : float
        HDI probability.
    n_min : int
        Smallest number of draws summarised.

    Returns
    -------
    dict
        ``n``, ``mean``, ``hdi_low``, ``hdi_high`` (arrays of equal length).
    """
    v = np.asarray(values, dtype=float).ravel()
    ns = np.arange(min(n_min, v.size), v.size + 1)
    ns = ns[ns > 0]
    mean = np.empty(ns.size)
    bounds = np.empty((ns.size, 2))
    for i, n in enumerate(ns):
        head = v[:n][np.isfinite(v[:n])]
        mean[i] = head.mean() if head.size else np.nan
        bounds[i] = hdi(head, hdi_prob)
    return {"n": ns, "mean": mean, "hdi_low": bounds[:, 0], "hdi_high": bounds[:, 1]}


def interval_drift(values: np.ndarray, hdi_prob: float = 0.9, tail: float = 0.25) -> float:
    """How far the HDI bounds still moved over the last ``tail`` of the samples.

    The largest change of either bound between n = ⌈(1 − tail)·N⌉ and N draws, relative
    to the final interval width (to the final |mean| if the width is 0). A value of 0.1
    means a bound moved by 10 % of the interval while the last quarter was added: the
    interval is not yet stable. NaN with fewer than 4 finite draws.
    """
    v = np.asarray(values, dtype=float).ravel()
    if np.isfinite(v).sum() < 4:
        return float("nan")
    start = max(int(np.ceil((1 - tail) * v.size)), 2)
    run = running_summary(v, hdi_prob, n_min=start)
    lo, hi = run["hdi_low"], run["hdi_high"]
    scale = hi[-1] - lo[-1]
    if not np.isfinite(scale) or scale <= 0:
        scale = abs(run["mean"][-1])
    if not np.isfinite(scale) or scale <= 0:
        return 0.0
    move = max(np.nanmax(lo) - np.nanmin(lo), np.nanmax(hi) - np.nanmin(hi))
    return float(move / scale)


def plot_convergence(
    ds: xr.Dataset, variables: Sequence[str] | None = None, hdi_prob: float | None = None
) -> Figure:
    """Mean and HDI bounds of each scalar quantity against the number of samples used.

    Flat curves at the right end mean more samples would not change the summary; curves
    still moving mean the interval is not yet stable.

    Parameters
    ----------
    ds : xarray.Dataset
        Results with a ``sample`` dim (samples taken in stored order).
    variables : sequence of str, optional
        Default :func:`scalar_variables`.
    hdi_prob : float, optional
        Default: the run's ``hdi_prob`` attribute.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per variable and phase: mean (solid) and HDI bounds (dashed).
    """
    prob = hdi_prob_of(ds, hdi_prob)
    names = scalar_variables(ds) if variables is None else list(variables)
    panels = [(t, sub) for name in names for t, sub in phase_panels(ds[name])]
    if not panels:
        return message_figure("No scalar quantities in these results.")
    fig, axes = figure_grid(len(panels))
    for ax, (title, sub) in zip(axes, panels, strict=True):
        elements = list(iter_elements(sub))
        for j, (label, v) in enumerate(elements):
            colour = element_colour(j)
            run = running_summary(v, prob)
            ax.plot(run["n"], run["mean"], color=colour, lw=1.4, label=label or "mean")
            ax.plot(run["n"], run["hdi_low"], color=colour, lw=0.9, ls="--")
            ax.plot(run["n"], run["hdi_high"], color=colour, lw=0.9, ls="--")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("number of samples", fontsize=8)
        ax.set_ylabel(str(sub.attrs.get("long_name", sub.name)) + units_label(sub), fontsize=8)
        ax.tick_params(labelsize=7)
        if len(elements) > 1:
            ax.legend(fontsize=7, frameon=False)
    fig.suptitle(f"Convergence: running mean (solid) and {100 * prob:g}% HDI bounds "
                 "(dashed)", fontsize=10)
    return fig

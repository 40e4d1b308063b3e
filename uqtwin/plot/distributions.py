"""Distributions of the quantities over the ensemble: histograms and per-bin bands.

:func:`plot_posterior_predictive` shows every scalar quantity as a histogram with its
HDI; :func:`plot_size_distributions` shows every variable over a bin dim as a median
line and an HDI band.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from uqtwin.plot.layout import element_colour, figure_grid, message_figure, phase_panels
from uqtwin.plot.select import distribution_variables, iter_elements, scalar_variables
from uqtwin.results.conventions import (
    BIN_DIM,
    SAMPLE_DIM,
    bin_dim,
    hdi,
    hdi_prob_of,
    units_label,
)


def plot_posterior_predictive(
    ds: xr.Dataset, variables: Sequence[str] | None = None, hdi_prob: float | None = None
) -> Figure:
    """Histogram (and KDE, from 10 samples) of every scalar quantity, HDI marked.

    One panel per variable and phase; other dims (e.g. axis) are overlaid in colour.
    The HDI is drawn as a thick bar under each histogram; samples that are infinite
    (non-percolating) are counted in the legend and left out of histogram and HDI.

    Parameters
    ----------
    ds : xarray.Dataset
        Results with a ``sample`` dim.
    variables : sequence of str, optional
        Default :func:`scalar_variables`.
    hdi_prob : float, optional
        Default: the run's ``hdi_prob`` attribute.

    Returns
    -------
    matplotlib.figure.Figure
    """
    prob = hdi_prob_of(ds, hdi_prob)
    names = scalar_variables(ds) if variables is None else list(variables)
    panels = [(t, sub) for name in names for t, sub in phase_panels(ds[name])]
    if not panels:
        return message_figure("No scalar quantities in these results.")
    fig, axes = figure_grid(len(panels))
    for ax, (title, sub) in zip(axes, panels, strict=True):
        elements = list(iter_elements(sub))
        finite_all = np.concatenate([v[np.isfinite(v)] for _, v in elements]) if elements \
            else np.array([])
        if finite_all.size == 0:
            ax.text(0.5, 0.5, "no finite samples", ha="center", va="center",
                    transform=ax.transAxes)
        n_bins = int(np.clip(2 * np.sqrt(max(finite_all.size / max(len(elements), 1), 1)),
                             5, 20))
        intervals = []
        for j, (label, v) in enumerate(elements):
            colour = element_colour(j)
            x = v[np.isfinite(v)].astype(float)
            n_inf = int(np.sum(~np.isfinite(v)))
            if x.size == 0:
                continue
            # Each element gets its own bins: overlaid elements may differ by 10× in range.
            ax.hist(x, bins=n_bins, density=True, alpha=0.35, color=colour,
                    label=(label or "samples") + (f" ({n_inf} ∞)" if n_inf else ""))
            if x.size >= 10 and np.ptp(x) > 0:
                from scipy.stats import gaussian_kde

                grid = np.linspace(x.min() - 0.1 * np.ptp(x), x.max() + 0.1 * np.ptp(x), 200)
                ax.plot(grid, gaussian_kde(x)(grid), color=colour, lw=1.2)
            intervals.append((colour, hdi(x, prob)))
        # HDI bars in a strip below zero density, one row per element, so that they never
        # hide the histograms or the tick labels.
        top = ax.get_ylim()[1]
        for j, (colour, (lo, hi)) in enumerate(intervals):
            y = -(0.06 + 0.08 * j) * top
            ax.plot([lo, hi], [y, y], color=colour, lw=3, solid_capstyle="butt")
            ax.plot([lo, hi], [y, y], "|", color=colour, ms=7)
        if intervals:
            ax.set_ylim(-(0.06 + 0.08 * len(intervals)) * top, top)
        ax.axhline(0, color="0.6", lw=0.6)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(str(sub.attrs.get("long_name", sub.name)) + units_label(sub), fontsize=8)
        ax.set_yticks([])
        ax.tick_params(labelsize=7)
        if ax.get_legend_handles_labels()[0] and (
                len(elements) > 1 or any(not np.isfinite(v).all() for _, v in elements)):
            ax.legend(fontsize=7, frameon=False)
    fig.suptitle(f"Posterior-predictive distributions (bars: {100 * prob:g}% HDI)",
                 fontsize=10)
    return fig


def bin_axis(da: xr.DataArray, dim: str) -> tuple[np.ndarray, str]:
    """x values and label of a bin dim: its own numeric coordinate (bin centres), else
    another numeric 1-D coordinate along it, else the bin index."""
    candidates = [dim] + [str(n) for n, c in da.coords.items() if c.dims == (dim,) and n != dim]
    for name in candidates:
        if name in da.coords and da[name].dtype.kind in "iuf":
            c = da[name]
            label = f"{dim} centre" if name == dim else name
            return np.asarray(c.values, dtype=float), f"{label}{units_label(c)}"
    return np.arange(da.sizes[dim], dtype=float), f"{dim} index"


def plot_size_distributions(
    ds: xr.Dataset, variables: Sequence[str] | None = None, hdi_prob: float | None = None
) -> Figure:
    """Every variable over a bin dim as a band: median and HDI per bin over samples.

    Parameters
    ----------
    ds : xarray.Dataset
        Results with a ``sample`` dim.
    variables : sequence of str, optional
        Default :func:`distribution_variables`.
    hdi_prob : float, optional
        Default: the run's ``hdi_prob`` attribute.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per variable and phase; other dims overlaid.
    """
    prob = hdi_prob_of(ds, hdi_prob)
    names = distribution_variables(ds) if variables is None else list(variables)
    panels = [(t, sub) for name in names for t, sub in phase_panels(ds[name])]
    if not panels:
        return message_figure("No size distributions (variables over a 'bin' dim).")
    fig, axes = figure_grid(len(panels), ncols=2, panel=(4.8, 3.0))
    for ax, (title, sub) in zip(axes, panels, strict=True):
        dim = bin_dim(sub) or BIN_DIM
        xs, xlabel = bin_axis(sub, dim)
        for j, (label, v) in enumerate(iter_elements(sub, keep=(SAMPLE_DIM, dim))):
            v = np.asarray(v, dtype=float)
            colour = element_colour(j)
            with np.errstate(all="ignore"):
                med = np.nanmedian(np.where(np.isfinite(v), v, np.nan), axis=0)
            bounds = np.array([hdi(v[:, b], prob) for b in range(v.shape[1])])
            ax.fill_between(xs, bounds[:, 0], bounds[:, 1], color=colour, alpha=0.3,
                            step="mid", lw=0)
            ax.step(xs, med, where="mid", color=colour, lw=1.4, label=label or "median")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(str(sub.attrs.get("long_name", sub.name)) + units_label(sub), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, frameon=False)
    fig.suptitle(f"Distributions per bin: median (line) and {100 * prob:g}% HDI (band)",
                 fontsize=10)
    return fig



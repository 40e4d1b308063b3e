"""3×3 tensor variables (over ``axis × axis2``): their principal values over the ensemble."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from uqtwin.plot.layout import element_colour, figure_grid, message_figure
from uqtwin.plot.select import iter_elements, tensor_variables
from uqtwin.results.conventions import SAMPLE_DIM, TENSOR_DIMS, hdi, hdi_prob_of, units_label


def principal_values(da: xr.DataArray) -> xr.DataArray:
    """Eigenvalues (ascending) of the symmetric part of a tensor over ``(axis, axis2)``.

    Samples with a non-finite component give NaN eigenvalues. The result has the tensor
    dims replaced by ``principal`` (0, 1, 2).
    """
    t = np.asarray(da.transpose(..., *TENSOR_DIMS).values, dtype=float)
    sym = 0.5 * (t + np.swapaxes(t, -1, -2))
    ok = np.isfinite(sym).all(axis=(-1, -2))
    eig = np.full(sym.shape[:-1], np.nan)
    if ok.any():
        eig[ok] = np.linalg.eigvalsh(sym[ok])
    dims = [d for d in da.transpose(..., *TENSOR_DIMS).dims if d not in TENSOR_DIMS]
    coords = {d: da[d] for d in dims if d in da.coords}
    return xr.DataArray(eig, dims=[*dims, "principal"], coords=coords, name=da.name,
                        attrs=dict(da.attrs))


def plot_tensors(
    ds: xr.Dataset, variables: Sequence[str] | None = None, hdi_prob: float | None = None
) -> Figure:
    """Principal values of every 3×3 tensor variable: median and HDI over samples.

    Parameters
    ----------
    ds : xarray.Dataset
        Results with a ``sample`` dim.
    variables : sequence of str, optional
        Default :func:`tensor_variables`.
    hdi_prob : float, optional
        Default: the run's ``hdi_prob`` attribute.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per variable; one group of three points (λ1 ≤ λ2 ≤ λ3) per phase.
    """
    prob = hdi_prob_of(ds, hdi_prob)
    names = tensor_variables(ds) if variables is None else list(variables)
    if not names:
        return message_figure("No tensor variables (over axis × axis2) in these results.")
    fig, axes = figure_grid(len(names), ncols=2, panel=(4.8, 3.0))
    for ax, name in zip(axes, names, strict=True):
        eig = principal_values(ds[name])
        elements = list(iter_elements(eig, keep=(SAMPLE_DIM, "principal")))
        width = 0.8 / max(len(elements), 1)
        for j, (label, v) in enumerate(elements):
            colour = element_colour(j)
            x = np.arange(3) + (j - (len(elements) - 1) / 2) * width
            if np.isnan(v).all():
                continue  # not computed for this element (e.g. a phase left out)
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
                med = np.nanmedian(v, axis=0)
            bounds = np.array([hdi(v[:, k], prob) for k in range(3)])
            ax.errorbar(x, med, yerr=[med - bounds[:, 0], bounds[:, 1] - med], fmt="o",
                        color=colour, capsize=3, label=label or name)
        ax.set_xticks(range(3), ["λ₁ (smallest)", "λ₂", "λ₃ (largest)"], fontsize=8)
        ax.set_title(name, fontsize=9)
        ax.set_ylabel(f"principal value{units_label(ds[name])}", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, frameon=False)
    fig.suptitle(f"Tensor principal values: median and {100 * prob:g}% HDI", fontsize=10)
    return fig



"""Figure layout shared by the plots: panel grids, message figures, phase colours.

Every figure is built directly (not through ``pyplot``), so nothing is registered in a
global figure manager, nothing needs closing, and the Agg renderer is used whatever the
session's backend.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure

#: Colour-blind-safe qualitative colours (Okabe–Ito) for phases and plot elements.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000")


def element_colour(i: int) -> str:
    """The ``i``-th plot colour (cycling through :data:`COLOURS`).

    Parameters
    ----------
    i : int
        Index of the element (phase, quantity, ...); wraps around after the last colour.

    Returns
    -------
    str
        A hex colour (the colour-blind-safe Okabe–Ito palette).

    Examples
    --------
    >>> from uqtwin.plot.layout import COLOURS, element_colour
    >>> element_colour(0), element_colour(len(COLOURS)) == element_colour(0)
    ('#0072B2', True)
    """
    return COLOURS[i % len(COLOURS)]


def figure_grid(n_panels: int, ncols: int = 3, panel: tuple[float, float] = (3.6, 2.8)
                ) -> tuple[Figure, list[Any]]:
    """A figure with ``n_panels`` axes on a grid; unused grid cells are removed.

    Examples
    --------
    >>> fig, axes = figure_grid(4)
    >>> len(axes), len(fig.axes)
    (4, 4)
    """
    ncols = max(1, min(ncols, n_panels))
    nrows = max(1, -(-n_panels // ncols))
    fig = Figure(figsize=(panel[0] * ncols, panel[1] * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for ax in axes[n_panels:]:
        fig.delaxes(ax)
    return fig, axes[:n_panels]


def message_figure(text: str) -> Figure:
    """A small figure saying why there is nothing to plot (keeps reports uniform).

    Parameters
    ----------
    text : str
        The message, centred and wrapped.

    Returns
    -------
    matplotlib.figure.Figure
        A 6 × 1.2 inch figure holding only the text.
    """
    fig = Figure(figsize=(6, 1.2))
    fig.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    return fig


def phase_cmap(n: int) -> tuple[ListedColormap, BoundaryNorm]:
    """A discrete colour map and norm for label images of ``n`` phases.

    Parameters
    ----------
    n : int
        Number of phases (labels 0 to n - 1); >= 1.

    Returns
    -------
    cmap : matplotlib.colors.ListedColormap
        Label i in :func:`element_colour` ``(i)``, the same colours as the legends.
    norm : matplotlib.colors.BoundaryNorm
        Boundaries at half-integers, so each integer label maps to exactly its colour.
    """
    cmap = ListedColormap([element_colour(i) for i in range(n)])
    return cmap, BoundaryNorm(np.arange(n + 1) - 0.5, n)


def phase_legend(fig: Figure, phases: Sequence[str]) -> None:
    """A legend of the phase colours below the figure.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure; it should use a constrained layout so that the ``"outside lower
        center"`` legend gets room.
    phases : sequence of str
        Phase names in label order; entries read ``"<label>: <name>"``.
    """
    from matplotlib.patches import Patch

    handles = [Patch(color=element_colour(i), label=f"{i}: {p}") for i, p in enumerate(phases)]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles),
               frameon=False)


def phase_panels(da: xr.DataArray) -> Iterator[tuple[str, xr.DataArray]]:
    """Split a variable into panels, one per phase (if any), with a title each; the other
    non-sample dims are overlaid within a panel."""
    if "phase" in da.dims:
        for p in da["phase"].values:
            yield f"{da.name} — {p}", da.sel(phase=p)
    else:
        yield str(da.name), da

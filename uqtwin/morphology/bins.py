"""Diameter bins shared by the size distributions (pore and particle sizes).

All samples of an ensemble share the same bins (physical diameters): given edges, else
geometric edges from the smallest voxel size up to twice the box diagonal with four bins
per octave. Values outside the outer edges are counted in the outer bins.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from uqtwin.errors import ConfigError

#: Geometric default bins: this many per factor of two in diameter.
BINS_PER_OCTAVE = 4


def default_bins(shape: Sequence[int], spacing: Sequence[float]) -> np.ndarray:
    """Geometric diameter bin edges from the smallest voxel size to twice the box diagonal.

    Parameters
    ----------
    shape : sequence of 3 ints
        Volume shape.
    spacing : sequence of 3 floats
        Voxel size along (z, y, x), in length units.

    Returns
    -------
    ndarray of float
        Increasing edges in length units, ratio 2^(1/4).

    Examples
    --------
    >>> from uqtwin.morphology import default_bins
    >>> edges = default_bins((10, 10, 10), (0.5, 0.5, 0.5))
    >>> float(edges[0]), round(float(edges[4] / edges[0]), 6)
    (0.5, 2.0)
    """
    spacing = np.asarray(spacing, dtype=float)
    lo = spacing.min()
    hi = 2.0 * float(np.sqrt(np.sum((np.asarray(shape) * spacing) ** 2)))
    n = int(np.ceil(BINS_PER_OCTAVE * np.log2(hi / lo)))
    return lo * 2.0 ** (np.arange(n + 1) / BINS_PER_OCTAVE)


def check_bins(bins: Sequence[float] | None, shape, spacing) -> np.ndarray:
    """Validated bin edges: the given ones, or :func:`default_bins`.

    Parameters
    ----------
    bins : sequence of float or None
        Diameter bin edges in length units, or None for the geometric default bins of the
        volume.
    shape : sequence of 3 ints
        Volume shape (used only when ``bins`` is None).
    spacing : sequence of 3 floats
        Voxel size along (z, y, x), in length units (used only when ``bins`` is None).

    Returns
    -------
    ndarray of float
        The edges, at least two, strictly increasing, finite and >= 0.

    Raises
    ------
    ConfigError
        If ``bins`` is not a 1-D sequence of at least two strictly increasing, finite,
        non-negative edges.

    Examples
    --------
    >>> from uqtwin.morphology.bins import check_bins
    >>> check_bins([0, 1, 2.5], None, None)
    array([0. , 1. , 2.5])
    """
    if bins is None:
        return default_bins(shape, spacing)
    edges = np.asarray(bins, dtype=float)
    if edges.ndim != 1 or len(edges) < 2 or not np.all(np.diff(edges) > 0):
        raise ConfigError(f"bins must be at least two increasing edges, got {list(edges)}")
    if not np.all(np.isfinite(edges)) or edges[0] < 0:
        raise ConfigError(f"bins must be finite and non-negative, got {list(edges)}")
    return edges


def binned_fractions(values: np.ndarray, weights: np.ndarray | None, edges: np.ndarray):
    """Weighted histogram of ``values`` on ``edges``, outer values in the outer bins.

    Bins are closed on the left, ``[edges[i], edges[i + 1])``; values below the first edge
    count in the first bin and values at or above the last edge in the last one, so that
    nothing is lost from the totals.

    Parameters
    ----------
    values : ndarray of float, 1-D
        The values to bin (e.g. diameters, length units).
    weights : ndarray of float or None
        One weight per value (e.g. voxel volumes), or None to count values.
    edges : ndarray of float
        Increasing bin edges (:func:`check_bins`).

    Returns
    -------
    ndarray of float, shape (len(edges) - 1,)
        The summed weights (or counts) per bin; not normalised.

    Examples
    --------
    >>> import numpy as np
    >>> from uqtwin.morphology.bins import binned_fractions
    >>> binned_fractions(np.array([-1.0, 0.5, 1.0, 9.0]), None, np.array([0.0, 1.0, 2.0]))
    array([2., 2.])
    """
    idx = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
    return np.bincount(idx, weights=weights, minlength=len(edges) - 1).astype(float)


def bin_coords(edges: np.ndarray, dim: str = "bin") -> dict:
    """Coordinates of a bin dim: centres as the index, lower and upper edges alongside.

    Parameters
    ----------
    edges : ndarray of float
        Increasing bin edges, length units.
    dim : str, optional
        Name of the bin dim; default ``"bin"``.

    Returns
    -------
    dict
        ``{dim: centres, dim + "_lower": (dim, lower edges), dim + "_upper": (dim, upper
        edges)}``, ready for ``DataArray(coords=...)``. Centres are arithmetic means of the
        edges.

    Examples
    --------
    >>> import numpy as np
    >>> from uqtwin.morphology.bins import bin_coords
    >>> c = bin_coords(np.array([1.0, 2.0, 4.0]))
    >>> c["bin"], c["bin_upper"]
    (array([1.5, 3. ]), ('bin', array([2., 4.])))
    """
    return {
        dim: 0.5 * (edges[:-1] + edges[1:]),
        f"{dim}_lower": (dim, edges[:-1]),
        f"{dim}_upper": (dim, edges[1:]),
    }

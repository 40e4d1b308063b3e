"""High-conductivity clusters of a conductivity field: which ones to deflate, and how.

The rule of :mod:`uqtwin.solvers.deflation` (see there for why): clusters are the
6-connected components (``scipy.ndimage.label``; cc3d is not installed, ndimage is what
the rest of the solver uses) of the cells with ``k ≥ √(k_min k_max)`` when the contrast
``k_max / k_min`` is high (:func:`high_conductivity_clusters`); per solve, clusters that
touch across a periodic side are one (:func:`join_periodic_clusters`, with
``scipy.sparse.csgraph``) and clusters pinned by a driven face are left out
(:func:`isolated_clusters`). Everything is serial numpy/scipy: the same labels for any
thread count.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy import ndimage
from scipy.sparse.csgraph import connected_components

__all__ = [
    "conductivity_contrast",
    "high_conductivity_clusters",
    "isolated_clusters",
    "join_periodic_clusters",
]

_SIX = ndimage.generate_binary_structure(3, 1)


def conductivity_contrast(k: np.ndarray) -> float:
    """``k_max / k_min`` over the positive values of ``k`` (1 if there are none).

    Examples
    --------
    >>> conductivity_contrast(np.array([0.0, 0.01, 100.0]))
    10000.0
    """
    positive = np.asarray(k)[np.asarray(k) > 0]
    if positive.size == 0:
        return 1.0
    return float(positive.max()) / float(positive.min())


def high_conductivity_clusters(
    k: np.ndarray, *, contrast: float = 100.0, min_clusters: int = 2
) -> tuple[np.ndarray, int] | None:
    """Clusters of high-conductivity cells worth deflating, or None (the rule).

    Parameters
    ----------
    k : ndarray of float, shape (nz, ny, nx)
        Conductivity of the cells in the solve (0 outside it).
    contrast : float
        Deflate only when ``k_max / k_min`` (positive values) is at least this.
    min_clusters : int
        Deflate only when the high cells (``k ≥ √(k_min k_max)``) form at least this
        many 6-connected clusters (not joined across periodic sides yet: see
        :func:`join_periodic_clusters`).

    Returns
    -------
    (ndarray of int32, int) or None
        Cluster label of every cell (0 = not in a cluster) and the number of clusters;
        None when the rule says no.

    Examples
    --------
    >>> k = np.full((6, 6, 6), 0.01)
    >>> k[1, 1, 1] = k[4, 4, 4] = 100.0
    >>> labels, m = high_conductivity_clusters(k)
    >>> m, int(labels[4, 4, 4])
    (2, 2)
    >>> high_conductivity_clusters(np.ones((4, 4, 4))) is None
    True
    """
    k = np.asarray(k)
    if conductivity_contrast(k) < contrast:
        return None
    positive = k[k > 0]
    k_min, k_max = float(positive.min()), float(positive.max())
    labels, m = ndimage.label(k >= np.sqrt(k_min * k_max), structure=_SIX,
                              output=np.int32)
    if m < min_clusters:
        return None
    return labels, int(m)


def join_periodic_clusters(labels: np.ndarray, m: int, periodic) -> tuple[np.ndarray, int]:
    """Merge clusters that touch across a periodic side (they share a face there).

    Parameters
    ----------
    labels : ndarray of int
        Cluster labels (0 = none), e.g. from :func:`high_conductivity_clusters`.
    m : int
        Number of clusters.
    periodic : tuple of 3 bools
        Periodic axes of the solve (not the driven one).

    Returns
    -------
    (ndarray of int32, int)
        Labels ``1..m'`` numbered in the order of their first cell, and ``m'``.

    Examples
    --------
    >>> lab = np.zeros((1, 1, 5), np.int32)
    >>> lab[0, 0, 0], lab[0, 0, 4] = 1, 2
    >>> join_periodic_clusters(lab, 2, (False, False, True))[1]
    1
    """
    i, j = [], []
    for a in range(3):
        if not periodic[a] or labels.shape[a] < 2:
            continue
        lo = np.take(labels, 0, axis=a).ravel()
        hi = np.take(labels, labels.shape[a] - 1, axis=a).ravel()
        both = (lo > 0) & (hi > 0) & (lo != hi)
        i.append(lo[both])
        j.append(hi[both])
    if not i or not sum(v.size for v in i):
        return labels, m
    i, j = np.concatenate(i), np.concatenate(j)
    graph = sp.coo_matrix((np.ones(i.size), (i, j)), shape=(m + 1, m + 1))
    n_comp, comp = connected_components(graph, directed=False)
    # node 0 (background) is its own component, numbered 0 (components are numbered in
    # the order of their smallest node): the others are 1..n_comp-1
    return comp.astype(np.int32)[labels], int(n_comp - 1)


def isolated_clusters(labels: np.ndarray, m: int, g, periodic) -> tuple[np.ndarray, int]:
    """The clusters to deflate in one solve: joined across periodic sides, pinned ones out.

    A cluster with a fixed-value outer face (a non-periodic outer face of positive
    conductance: the driven faces) is held at the face value through a high-conductivity
    face: its indicator is not a near-null vector, and deflating it only costs work
    (measured: 3-7 more CG iterations on electrodes whose binder percolates).

    Parameters
    ----------
    labels : ndarray of int
        Cluster labels (0 = none), e.g. from :func:`high_conductivity_clusters`.
    m : int
        Number of clusters.
    g : tuple of 3 ndarrays
        Face conductances ``(gz, gy, gx)`` of the solve, driven faces included.
    periodic : tuple of 3 bools
        Periodic axes of the solve.

    Returns
    -------
    (ndarray of int32, int)
        Labels ``1..m'`` in the order of their first cell, and ``m'``.

    Examples
    --------
    >>> from uqtwin.solvers.conductances import face_conductances
    >>> k = np.full((5, 1, 1), 0.01)
    >>> k[0] = k[2] = 100.0  # the first touches the driven face
    >>> labels, m = high_conductivity_clusters(k)
    >>> lab, n = isolated_clusters(labels, m, face_conductances(k, (1, 1, 1), 0),
    ...                            (False,) * 3)
    >>> n, lab[:, 0, 0].tolist()
    (1, [0, 0, 1, 0, 0])
    """
    labels, m = join_periodic_clusters(labels, m, periodic)
    pinned = np.zeros(m + 1, dtype=bool)
    for a in range(3):
        if periodic[a]:
            continue
        n = labels.shape[a]
        for layer, face in ((0, 0), (n - 1, n)):
            lab = np.take(labels, layer, axis=a)
            pinned[lab[np.take(g[a], face, axis=a) > 0]] = True
    pinned[0] = True
    if pinned.sum() == 1:
        return labels, m
    renumber = np.zeros(m + 1, dtype=np.int32)
    renumber[~pinned] = np.arange(1, m + 2 - pinned.sum(), dtype=np.int32)
    return renumber[labels], int(m + 1 - pinned.sum())

"""Which voxels carry flux between the two driven faces: 6-connected percolation.

Voxels that are not connected (6-connectivity, the stencil's) to *both* driven faces carry
no flux in the steady state: isolated clusters and dead-end clusters touching one face
only are taken out of the solve, which changes nothing in the answer and saves
iterations. Clusters are labelled once (``scipy.ndimage.label``); clusters touching
across a periodic side are joined with ``scipy.sparse.csgraph.connected_components``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = [
    "connected_to_faces",
    "kept_voxels",
    "label_clusters",
    "through_labels",
]

_SIX = ndimage.generate_binary_structure(3, 1)


def label_clusters(active: np.ndarray) -> tuple[np.ndarray, int]:
    """6-connected clusters of ``active`` (``scipy.ndimage.label``).

    Face connectivity, because the solvers only conduct through shared faces.

    Parameters
    ----------
    active : ndarray of bool, 3-D
        Voxels that conduct.

    Returns
    -------
    labels : ndarray of int
        Cluster label of every voxel, 1 .. n (0 = not active).
    n : int
        Number of clusters.
    """
    return ndimage.label(active, structure=_SIX)


def connected_to_faces(
    active: np.ndarray,
    axis: int,
    *,
    periodic=(False, False, False),
    labels: tuple[np.ndarray, int] | None = None,
) -> np.ndarray:
    """Voxels of ``active`` 6-connected to both faces normal to ``axis``.

    Parameters
    ----------
    active : ndarray of bool
        Voxels that conduct.
    axis : int
        Driven axis.
    periodic : tuple of 3 bools
        Clusters touching across a periodic side (other than ``axis``) are joined.
    labels : (ndarray, int), optional
        Precomputed :func:`label_clusters` of ``active`` (reused across axes).

    Returns
    -------
    ndarray of bool
    """
    labels = labels if labels is not None else label_clusters(active)
    return through_labels(active, axis, periodic, labels)[labels[0]]


def through_labels(active, axis, periodic, labels) -> np.ndarray:
    """Per cluster label (0 = background): whether it joins the two faces normal to ``axis``.

    Parameters
    ----------
    active : ndarray of bool, 3-D
        Voxels that conduct.
    axis : int
        Driven axis (0, 1, 2).
    periodic : sequence of 3 bools
        Periodic axes; clusters touching across a periodic side (not ``axis``'s own) are
        joined into one.
    labels : tuple (ndarray, int)
        :func:`label_clusters` of ``active``.

    Returns
    -------
    ndarray of bool, shape (n + 1,)
        True for the labels of clusters (after joining) that touch both faces; index 0
        (background) is always False. Index it with the label array to get a voxel mask.
    """
    lab, n = labels
    keep_label = np.zeros(n + 1, dtype=bool)
    if n == 0:
        return keep_label
    root = np.arange(n + 1)
    pairs = []
    for a in range(3):
        if a == axis or not periodic[a] or active.shape[a] < 2:
            continue
        lo = np.take(lab, 0, axis=a).ravel()
        hi = np.take(lab, active.shape[a] - 1, axis=a).ravel()
        both = (lo > 0) & (hi > 0)
        pairs.append((lo[both], hi[both]))
    if pairs:
        i = np.concatenate([p[0] for p in pairs])
        j = np.concatenate([p[1] for p in pairs])
        graph = coo_matrix((np.ones(i.size), (i, j)), shape=(n + 1, n + 1))
        _, root = connected_components(graph, directed=False)
    inlet = np.unique(root[np.take(lab, 0, axis=axis)])
    outlet = np.unique(root[np.take(lab, active.shape[axis] - 1, axis=axis)])
    through = np.intersect1d(inlet, outlet)
    through = through[through != root[0]]
    if through.size:
        keep_label[np.isin(root, through)] = True
        keep_label[0] = False
    return keep_label


def kept_voxels(
    active: np.ndarray,
    axes,
    periodic=(False, False, False),
    labels: tuple[np.ndarray, int] | None = None,
) -> dict[int, np.ndarray | str]:
    """Per driven axis, the voxels of ``active`` that join its two faces, or why none do.

    Axes that keep the same voxels get the same array object (the solves along them can
    share their conductances and grids). ``labels`` (:func:`label_clusters` of
    ``active``) is computed if not given.

    Examples
    --------
    >>> active = np.zeros((3, 3, 3), bool)
    >>> active[:, 1, 1] = True
    >>> keeps = kept_voxels(active, (0, 1))
    >>> int(keeps[0].sum()), keeps[1]
    (3, 'no 6-connected path of conducting voxels joins the two faces normal to axis 1')
    """
    if not active.any():
        return dict.fromkeys(axes, "the phase is empty")
    labels = labels if labels is not None else label_clusters(active)
    keeps: dict[int, np.ndarray | str] = {}
    by_key: dict[bytes, np.ndarray] = {}
    for a in axes:
        side = tuple(bool(p) and b != a for b, p in enumerate(periodic))
        through = through_labels(active, a, side, labels)
        if not through.any():
            keeps[a] = ("no 6-connected path of conducting voxels joins the two faces "
                        f"normal to axis {a}")
            continue
        key = through.tobytes()
        if key not in by_key:
            by_key[key] = through[labels[0]]
        keeps[a] = by_key[key]
    return keeps

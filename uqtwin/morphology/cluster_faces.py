"""Percolating, dead-end and isolated fractions from cluster sizes and the box faces touched.

Along axis a, with the two box faces normal to a, a cluster touching both faces
percolates, one touching exactly one is a dead end, one touching neither is isolated. The
fractions are of the total volume of the clusters, so they sum to 1 for every axis. The
one place this rule lives: the whole-volume :func:`uqtwin.quantities.connectivity.
cluster_fractions` and the chunk-by-chunk :func:`~uqtwin.morphology.chunked_components.
cluster_fractions_by_chunks` both call it.
"""

from __future__ import annotations

import numpy as np


def face_fractions(sizes: np.ndarray, touches: np.ndarray) -> np.ndarray:
    """Volume fractions of the clusters touching both, one or neither face of each axis.

    Parameters
    ----------
    sizes : ndarray of int, shape (n,)
        Voxels per cluster (entries of size 0, e.g. a background label, count nowhere).
    touches : ndarray of bool, shape (3, 2, n)
        ``touches[axis, side, k]``: cluster k has a voxel on the first (side 0) or last
        (side 1) plane normal to ``axis``.

    Returns
    -------
    ndarray of float, shape (3, 3)
        ``[axis, kind]`` with kind 0 percolating, 1 dead-end, 2 isolated; fractions of
        ``sizes.sum()`` (NaN if it is 0).

    Examples
    --------
    Two clusters: 3 voxels spanning axis 0, 1 voxel on the first z plane only.

    >>> t = np.zeros((3, 2, 2), bool)
    >>> t[0, :, 0] = True; t[0, 0, 1] = True
    >>> face_fractions(np.array([3, 1]), t)[0].tolist()
    [0.75, 0.25, 0.0]
    """
    sizes = np.asarray(sizes)
    total = int(sizes.sum())
    out = np.full((3, 3), np.nan)
    if total == 0:
        return out
    count = np.asarray(touches, dtype=bool).sum(axis=1)  # faces touched per (axis, cluster)
    for ax in range(3):
        for kind, k in enumerate((2, 1, 0)):
            out[ax, kind] = sizes[count[ax] == k].sum() / total
    return out

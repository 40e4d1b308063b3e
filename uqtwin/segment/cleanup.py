"""Clean-up of label volumes and the connectivity convention for pore and solid.

Clusters are labelled with :func:`uqtwin.morphology.connected_components` under the
project's dual connectivity convention (pore 6-connected, solid 26-connected; see
:mod:`uqtwin.morphology.components`, re-exported here with :data:`CONNECTIVITY` and
:func:`percolates`).
"""

from __future__ import annotations

import numpy as np

from uqtwin.errors import VolumeError
from uqtwin.morphology.components import (
    CONNECTIVITY,
    PhaseKind,
    connected_components,
    percolates,
)
from uqtwin.volume import check_array

__all__ = [
    "CONNECTIVITY",
    "PhaseKind",
    "connected_components",
    "opening_closing",
    "percolates",
    "remove_islands",
]


def remove_islands(
    labels: np.ndarray,
    min_voxels: int,
    *,
    n_phases: int,
    pore_label: int | None = 0,
) -> np.ndarray:
    """Reassign clusters smaller than ``min_voxels`` to their most common neighbouring phase.

    Each phase is processed in turn (in label order, on the updated labels); its clusters
    are found with the dual convention (``pore_label`` 6-connected, the others
    26-connected, see the module docstring). A small cluster takes the phase that is most
    frequent among the face neighbours outside it (ties: the lower label). A cluster with
    no neighbour of another phase (it fills the volume) is kept. Counting neighbours is
    hand-written with ``numpy.bincount`` because scikit-image's
    ``remove_small_objects`` only deletes objects; it cannot say what should replace them.

    Parameters
    ----------
    labels : ndarray of int, shape (nz, ny, nx)
        Phase labels ``0 .. n_phases - 1``.
    min_voxels : int
        Clusters with fewer voxels are reassigned.
    n_phases : int
        Number of phases.
    pore_label : int, optional
        Label of the pore (6-connected); ``None`` labels every phase with 6-connectivity.

    Returns
    -------
    ndarray
        New labels, same dtype; the input is not modified.
    """
    lab = check_array(labels, name="labels")
    if lab.dtype.kind not in "iu":
        raise VolumeError(f"labels must be integers, got dtype {lab.dtype}")
    if lab.size and (int(lab.min()) < 0 or int(lab.max()) >= n_phases):
        raise VolumeError(f"labels must be in 0..{n_phases - 1}, got {lab.min()}..{lab.max()}")
    out = lab.copy()
    if min_voxels <= 1:
        return out
    for phase in range(n_phases):
        kind: PhaseKind = "pore" if (pore_label is None or phase == pore_label) else "solid"
        comp, n = connected_components(out == phase, kind)
        if n == 0:
            continue
        sizes = np.bincount(comp.ravel(), minlength=n + 1)
        small = sizes < min_voxels
        small[0] = False
        if not small.any():
            continue
        votes = np.zeros((n + 1, n_phases), dtype=np.int64)
        # Count, for each small cluster, the labels of its face neighbours of other phases.
        for ax in range(3):
            for shift in (1, -1):
                src = [slice(None)] * 3
                dst = [slice(None)] * 3
                src[ax] = slice(1, None) if shift == 1 else slice(None, -1)
                dst[ax] = slice(None, -1) if shift == 1 else slice(1, None)
                c = comp[tuple(dst)]
                nb = out[tuple(src)]
                sel = small[c] & (nb != phase)
                np.add.at(votes, (c[sel], nb[sel].astype(np.intp)), 1)
        has_nb = votes.sum(axis=1) > 0
        target = np.argmax(votes, axis=1)
        change = small & has_nb
        if change.any():
            new = np.where(change[comp], target[comp], out)
            out = new.astype(lab.dtype, copy=False)
    return out


def opening_closing(
    labels: np.ndarray,
    radius: int = 1,
    *,
    n_phases: int,
) -> np.ndarray:
    """Smooth every phase by a morphological opening then closing, as a majority label.

    Per phase the indicator is opened then closed with a ball of ``radius`` voxels
    (:func:`skimage.morphology.ball`); each voxel takes the phase whose smoothed
    indicator is set, and where none or several are set it keeps its label. This removes
    spurs and specks thinner than the ball and fills small notches, without letting one
    phase grow into another wholesale. Thin real features (binder films) thinner than
    ``2 * radius + 1`` are removed too; use with care.

    Parameters
    ----------
    labels : ndarray of int, shape (nz, ny, nx)
        Phase labels ``0 .. n_phases - 1``.
    radius : int
        Ball radius, voxels.
    n_phases : int
        Number of phases.

    Returns
    -------
    ndarray
        Smoothed labels, same dtype.
    """
    from skimage.morphology import ball, closing, opening

    lab = check_array(labels, name="labels")
    if radius < 1:
        return lab.copy()
    fp = ball(int(radius))
    smooth = np.stack(
        [closing(opening(lab == k, fp), fp) for k in range(n_phases)]
    )
    count = smooth.sum(axis=0)
    winner = np.argmax(smooth, axis=0)
    return np.where(count == 1, winner, lab).astype(lab.dtype, copy=False)

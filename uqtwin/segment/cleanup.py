"""Clean-up of label volumes and the connectivity convention for pore and solid.

Connectivity convention (dual pair, used by every uqtwin function that labels clusters)
---------------------------------------------------------------------------------------
In a voxel grid two voxels can share a face (6 neighbours), an edge (12 more) or a corner
(8 more). If both the pore and the solid counted edge/corner contacts as connections, a
pore path and a solid path could cross each other through the same edge (the 2x2
"checkerboard" configuration); if neither did, both would be cut there. The classical
remedy (Rosenfeld's digital topology) is a dual pair: one phase is 6-connected, its
complement 26-connected, so at every edge or corner exactly one of them passes.

uqtwin uses **pore 6-connected (face), solid 26-connected**:

* the pore carries the electrolyte transport that the finite-volume tortuosity solvers
  compute, and those solvers exchange flux only through shared faces; a pore channel
  whose voxels meet only along an edge or at a corner carries no flux, so it does not
  connect (and does not percolate), while a face-connected channel does;
* the solid (active material and carbon-binder together) is the 26-connected dual, so
  where the pore is cut at an edge or corner the solid passes, and the two phases never
  cross through a shared edge or corner.

Note the consequence for solid-phase *transport* (electronic conduction), which
face-based solvers also only pass through faces: a solid cluster that is 26-connected
can still be face-disconnected. Use ``connectivity=1`` explicitly for such transport
questions; :data:`CONNECTIVITY` is the topological default.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import ndimage

from uqtwin.errors import VolumeError
from uqtwin.volume import check_array

PhaseKind = Literal["pore", "solid"]

#: ``scipy.ndimage.generate_binary_structure(3, c)`` rank per phase kind: 1 is face
#: (6-) connectivity, 3 is face+edge+corner (26-) connectivity.
CONNECTIVITY: dict[str, int] = {"pore": 1, "solid": 3}


def _structure(connectivity: int) -> np.ndarray:
    if connectivity not in (1, 2, 3):
        raise VolumeError(
            f"connectivity must be 1 (6-), 2 (18-) or 3 (26-neighbourhood), got {connectivity!r}"
        )
    return ndimage.generate_binary_structure(3, connectivity)


def _resolve(phase_kind: PhaseKind | None, connectivity: int | None) -> int:
    if connectivity is not None:
        return int(connectivity)
    if phase_kind not in CONNECTIVITY:
        raise VolumeError(f"phase_kind must be 'pore' or 'solid', got {phase_kind!r}")
    return CONNECTIVITY[phase_kind]


def connected_components(
    mask: np.ndarray,
    phase_kind: PhaseKind = "pore",
    *,
    connectivity: int | None = None,
) -> tuple[np.ndarray, int]:
    """Label the connected clusters of a phase mask under the dual convention.

    Parameters
    ----------
    mask : ndarray of bool, shape (nz, ny, nx)
        Voxels of the phase.
    phase_kind : {"pore", "solid"}
        Selects the connectivity: pore 6 (face), solid 26 (see the module docstring).
    connectivity : int, optional
        Override: 1 (6-), 2 (18-) or 3 (26-neighbourhood).

    Returns
    -------
    labels : ndarray of int32
        Cluster index per voxel, 0 outside the mask.
    n : int
        Number of clusters.
    """
    m = check_array(mask, name="mask").astype(bool)
    lab, n = ndimage.label(m, structure=_structure(_resolve(phase_kind, connectivity)))
    return lab.astype(np.int32, copy=False), int(n)


def percolates(
    mask: np.ndarray,
    axis: int,
    phase_kind: PhaseKind = "pore",
    *,
    connectivity: int | None = None,
) -> bool:
    """Whether one connected cluster of ``mask`` touches both faces normal to ``axis``.

    Parameters
    ----------
    mask : ndarray of bool, shape (nz, ny, nx)
        Voxels of the phase.
    axis : int
        Array axis (0 z, 1 y, 2 x).
    phase_kind : {"pore", "solid"}
        Connectivity convention (see the module docstring).
    connectivity : int, optional
        Override: 1, 2 or 3.

    Returns
    -------
    bool
    """
    lab, n = connected_components(mask, phase_kind, connectivity=connectivity)
    if not -3 <= axis < 3:
        raise VolumeError(f"axis must be 0, 1 or 2, got {axis!r}")
    if n == 0:
        return False
    first = np.unique(np.take(lab, 0, axis=axis))
    last = np.unique(np.take(lab, -1, axis=axis))
    common = np.intersect1d(first, last)
    return bool(np.any(common > 0))


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

"""Connected components of a phase mask under the dual pore/solid connectivity convention.

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

    Examples
    --------
    Two cubes touching along an edge are one solid (26-connected) cluster but two pore
    (6-connected) clusters:

    >>> import numpy as np
    >>> from uqtwin.morphology import connected_components
    >>> mask = np.zeros((4, 4, 4), bool)
    >>> mask[:2, :2, :2] = True
    >>> mask[2:, 2:, :2] = True
    >>> connected_components(mask, "pore")[1], connected_components(mask, "solid")[1]
    (2, 1)
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

    Examples
    --------
    >>> import numpy as np
    >>> from uqtwin.morphology import percolates
    >>> slab = np.zeros((6, 6, 6), bool)
    >>> slab[:, 2:4, :] = True
    >>> percolates(slab, 0), percolates(slab, 1)
    (True, False)
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

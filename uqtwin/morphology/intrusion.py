"""Intrusion (porosimetry-like) size: the ball diameter at which fluid from a face reaches a voxel.

The size at which a non-wetting fluid entering from one box face reaches x: the largest
r such that x is covered by a ball of radius r whose centre is joined to the inlet face
by a 26-connected path of centres with dt ≥ r. This is PoreSpy's ``porosimetry``
(Gostick et al., J. Open Source Softw. 4 (2019) 1296) without its radius bins: the
accessibility radius of every centre (the widest-path, or bottleneck, radius to the
inlet) is computed exactly by a union–find over the voxels in descending dt order, and
each centre is then painted with that radius instead of its own dt
(:mod:`uqtwin.morphology.thickness`). Voxels never reached (isolated pores) get 0.
Isotropic voxels use the integer lattice as local thickness does: the bottleneck level
is an exact squared distance A and the ball the integer set |p − c|² < A.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

from uqtwin.errors import ConfigError
from uqtwin.morphology.distance import distance_field
from uqtwin.morphology.thickness import thickness_from_distance, thickness_from_squared
from uqtwin.morphology.unionfind import find

#: Axis names in array order.
AXES = ("z", "y", "x")


def intrusion_size(
    mask: np.ndarray,
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
    *,
    face: str = "z-",
) -> np.ndarray:
    """Diameter at which fluid entering from ``face`` first reaches each voxel.

    Parameters
    ----------
    mask : ndarray of bool, shape (nz, ny, nx)
        The pore space.
    spacing : sequence of 3 floats
        Voxel size along (z, y, x), in length units.
    face : str
        Inlet face: an axis name and a side, ``"z-"`` (index 0 along z), ``"z+"``,
        ``"y-"``, ``"y+"``, ``"x-"``, ``"x+"``.

    Returns
    -------
    ndarray of float32
        Intrusion diameter in length units; 0 for voxels the fluid never reaches and
        outside ``mask``.

    Examples
    --------
    A straight 4-voxel channel from the inlet face is filled at its width:

    >>> import numpy as np
    >>> from uqtwin.morphology import intrusion_size
    >>> channel = np.zeros((10, 8, 8), bool)
    >>> channel[:, 2:6, 2:6] = True
    >>> np.unique(intrusion_size(channel, face="z-")).tolist()
    [0.0, 4.0]
    """
    axis, side = parse_face(face)
    mask = np.asarray(mask, dtype=bool)
    spacing_arr = np.asarray(spacing, dtype=float)
    if not mask.any():
        return np.zeros(mask.shape, np.float32)
    return intrusion_from_field(mask, spacing_arr, axis, side)


def intrusion_from_field(
    mask: np.ndarray,
    spacing: np.ndarray,
    axis: int,
    side: int,
    field: tuple[np.ndarray, bool] | None = None,
) -> np.ndarray:
    """Intrusion diameter of every voxel of a non-empty mask (0 where never reached).

    ``field`` is the mask's :func:`distance_field` if already computed.

    Equal spacings run on the integer lattice, as local thickness does: the bottleneck
    level of each centre is an exact squared distance A (the union–find only compares
    levels, so it runs on the squared EDT unchanged), and its ball is the integer set
    |p − c|² < A, so voxels at exactly the bottleneck radius (solid ones among them) are
    never painted; the float test of :func:`_paint` can round such ties inside.
    """
    dist, lattice = distance_field(mask, spacing) if field is None else field
    if not lattice:
        access = access_radius(dist, axis, side)
        return thickness_from_distance(access, spacing)
    level = access_radius(dist, axis, side).astype(np.float32)
    return thickness_from_squared(level, float(spacing[0]))


def parse_face(face: str) -> tuple[int, int]:
    """The (axis, side) of a box face named like ``"z-"``.

    Parameters
    ----------
    face : str
        An axis letter (``z``, ``y``, ``x``) and a sign: ``-`` is the low-index face, ``+``
        the high-index one. Case and surrounding spaces are ignored.

    Returns
    -------
    axis : int
        0, 1 or 2 for z, y, x.
    side : int
        0 for ``-``, 1 for ``+``.

    Raises
    ------
    ConfigError
        If ``face`` is not one of the six faces.

    Examples
    --------
    >>> from uqtwin.morphology.intrusion import parse_face
    >>> parse_face("z-"), parse_face(" X+ ")
    ((0, 0), (2, 1))
    """
    face = str(face).strip().lower()
    if len(face) != 2 or face[0] not in AXES or face[1] not in "+-":
        raise ConfigError(f"face must be one of z-, z+, y-, y+, x-, x+; got {face!r}")
    return AXES.index(face[0]), (0 if face[1] == "-" else 1)


def access_radius(dt: np.ndarray, axis: int, side: int) -> np.ndarray:
    """Bottleneck level from the inlet face to each voxel (0 where not connected).

    ``dt`` is the distance transform or any increasing function of it (the squared EDT
    on the integer path): the union–find only orders and copies levels.
    """
    idx = np.flatnonzero(dt)
    order = idx[np.argsort(-dt.ravel()[idx], kind="stable")]
    return _access_union_find(np.ascontiguousarray(dt, dtype=np.float64), order, axis, side)


@numba.njit(cache=True, nogil=True)
def _access_union_find(dt, order, axis, side):  # pragma: no cover - compiled
    # Voxels join in descending dt; when a component first reaches the inlet at level
    # r (the dt of the voxel just added), all its members are accessible at r, and every
    # voxel added later to an inlet component is accessible at its own dt.
    nz, ny, nx = dt.shape
    n = nz * ny * nx
    flat = dt.ravel()
    parent = np.full(n, -1, np.int64)
    size = np.zeros(n, np.int64)
    inlet = np.zeros(n, np.bool_)
    tail = np.full(n, -1, np.int64)  # member list of each root: the root is its head
    nxt = np.full(n, -1, np.int64)
    access = np.zeros(n, np.float64)
    last = (nz, ny, nx)[axis] - 1
    for k in range(order.shape[0]):
        v = order[k]
        level = flat[v]
        parent[v] = v
        size[v] = 1
        tail[v] = v
        z = v // (ny * nx)
        y = (v // nx) % ny
        x = v % nx
        pos = (z, y, x)[axis]
        if pos == (0 if side == 0 else last):
            inlet[v] = True
            access[v] = level
        root = v
        for dz in range(-1, 2):
            zz = z + dz
            if zz < 0 or zz >= nz:
                continue
            for dy in range(-1, 2):
                yy = y + dy
                if yy < 0 or yy >= ny:
                    continue
                for dx in range(-1, 2):
                    xx = x + dx
                    if xx < 0 or xx >= nx:
                        continue
                    w = (zz * ny + yy) * nx + xx
                    if parent[w] < 0 or w == v:
                        continue
                    b = find(parent, w)
                    if b == root:
                        continue
                    if inlet[root] != inlet[b]:
                        # The non-inlet side becomes accessible now, at this level.
                        m = b if inlet[root] else root
                        while m >= 0:
                            access[m] = level
                            m = nxt[m]
                    # Union by size keeps the trees shallow; the lists are spliced.
                    big, small = (root, b) if size[root] >= size[b] else (b, root)
                    parent[small] = big
                    size[big] += size[small]
                    inlet[big] = inlet[big] or inlet[small]
                    nxt[tail[big]] = small
                    tail[big] = tail[small]
                    root = big
    return access.reshape(dt.shape)

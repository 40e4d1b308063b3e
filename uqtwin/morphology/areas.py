"""Area of a boundary mesh inside the box: triangles clipped exactly to the box sides.

:func:`surface_area` is the area estimator of the phase-boundary quantities: the smoothed
marching-cubes surface of :func:`uqtwin.morphology.mesh.boundary_mesh`, clipped (triangle
against plane, Sutherland & Hodgman, CACM 17 (1974) 32) to the box
``[-1/2, n - 1/2]`` voxels, so that box sides are never counted.

Accuracy, relative area error with the default 15 smoothing iterations (plain marching
cubes in brackets): balls r = 3, 5, 10, 15, 20 voxels +0.8, +0.8, +0.9, +0.8, +0.8 %
(+6.5, +7.2, +8.4, +8.6, +8.7 %); the same ball with spacing (2, 1, 1), a prolate
spheroid, +0.9 % (r = 10) and +0.8 % (r = 20); cylinders along an axis r = 2, 8 voxels
−1.0, +1.2 % (+4.0, +5.2 %); planes tilted by 17–45° −2.2 to +1.7 % (−2.0 to +12 %);
axis-aligned planes exact; a 1-voxel plate exactly twice its face. Sharp 90° edges are
rounded within half a voxel: a 20³ cube −3.9 % (−3.0 %). Features one voxel thin in two
directions (rods, isolated voxels) keep their marching-cubes facets (a 1-voxel rod is
−29 % of a square rod's area, −10 % of a cylinder of diameter one voxel).
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

from uqtwin.morphology.mesh import Mesh, boundary_mesh
from uqtwin.morphology.smoothing import DEFAULT_ITERATIONS


def surface_area(
    mask: np.ndarray,
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
    *,
    iterations: int = DEFAULT_ITERATIONS,
) -> float:
    """Area of the boundary of a mask inside the box, box sides excluded.

    Parameters
    ----------
    mask : ndarray of bool, shape (nz, ny, nx)
        The object (e.g. one phase).
    spacing : sequence of 3 floats
        Voxel size along (z, y, x), in length units.
    iterations : int
        Constrained Taubin λ|μ iterations (0: plain marching cubes, +8 % on spheres).

    Returns
    -------
    float
        Area in the squared length unit of ``spacing`` (0 for an empty or full mask).

    Examples
    --------
    A ball of radius 10 voxels of 0.5 µm: 4π r² = 314.2 µm², to within the estimator's
    +0.9 %.

    >>> import numpy as np
    >>> from uqtwin.morphology import surface_area
    >>> z, y, x = np.mgrid[:32, :32, :32]
    >>> ball = (z - 15.3) ** 2 + (y - 15.6) ** 2 + (x - 16.1) ** 2 <= 10.0 ** 2
    >>> area = surface_area(ball, (0.5, 0.5, 0.5))
    >>> round(area / (4 * np.pi * 5.0 ** 2), 3)
    1.009

    A slab crossing the box counts its two faces, not the box sides:

    >>> slab = np.zeros((10, 20, 20), bool)
    >>> slab[3:7] = True
    >>> surface_area(slab)
    800.0
    """
    mask = np.asarray(mask, dtype=bool)
    mesh = boundary_mesh(mask, spacing, iterations=iterations)
    return mesh_area(mesh, mask.shape, spacing)


def mesh_area(
    mesh: Mesh,
    shape: Sequence[int] | None = None,
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
) -> float:
    """Area of a mesh, counting only the part inside the box when ``shape`` is given.

    Parameters
    ----------
    mesh : Mesh
        Surface from :func:`boundary_mesh`.
    shape : sequence of 3 ints, optional
        Shape of the volume; the box is ``[-spacing/2, (n - 1/2) * spacing]`` per axis.
    spacing : sequence of 3 floats
        Voxel size along (z, y, x).

    Returns
    -------
    float
        Area in the squared length unit of ``spacing``.

    Examples
    --------
    >>> import numpy as np
    >>> from uqtwin.morphology import boundary_mesh, mesh_area
    >>> slab = np.zeros((10, 20, 20), bool)
    >>> slab[3:7] = True
    >>> mesh_area(boundary_mesh(slab), slab.shape)
    800.0
    """
    return float(triangle_areas(mesh, shape, spacing).sum())


def triangle_areas(
    mesh: Mesh,
    shape: Sequence[int] | None = None,
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
) -> np.ndarray:
    """Area of each triangle of ``mesh`` inside the box (0 for triangles outside it).

    Parameters
    ----------
    mesh : Mesh
        Surface from :func:`boundary_mesh`.
    shape : sequence of 3 ints, optional
        Shape of the volume (no clipping when omitted).
    spacing : sequence of 3 floats
        Voxel size along (z, y, x).

    Returns
    -------
    ndarray of float, shape (nf,)
        Area of the part of each triangle inside the box, in length unit².

    Examples
    --------
    >>> import numpy as np
    >>> from uqtwin.morphology import boundary_mesh, triangle_areas
    >>> slab = np.zeros((10, 20, 20), bool)
    >>> slab[3:7] = True
    >>> mesh = boundary_mesh(slab)
    >>> areas = triangle_areas(mesh, slab.shape)
    >>> areas.shape == (len(mesh.faces),), float(areas.sum())
    (True, 800.0)
    """
    if shape is None:
        lo = np.full(3, -np.inf)
        hi = np.full(3, np.inf)
    else:
        spacing_arr = np.asarray(spacing, dtype=float)
        lo = -0.5 * spacing_arr
        hi = (np.asarray(shape, dtype=float) - 0.5) * spacing_arr
    return areas_in_box(mesh, lo, hi)


def areas_in_box(mesh: Mesh, lo: Sequence[float], hi: Sequence[float]) -> np.ndarray:
    """Area of each triangle of ``mesh`` inside the box ``[lo, hi]`` (physical units).

    Parameters
    ----------
    mesh : Mesh
        Surface from :func:`boundary_mesh`.
    lo, hi : sequence of 3 floats
        Corners of the box along (z, y, x), in the mesh's length unit.

    Returns
    -------
    ndarray of float, shape (nf,)
        Area of the part of each triangle inside the box (triangles crossing a side are
        clipped), in length unit².

    Examples
    --------
    >>> import numpy as np
    >>> from uqtwin.morphology import boundary_mesh
    >>> slab = np.zeros((10, 20, 20), bool)
    >>> slab[3:7] = True
    >>> float(areas_in_box(boundary_mesh(slab), (-0.5, -0.5, -0.5), (9.5, 9.5, 19.5)).sum())
    400.0
    """
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    # "in the plane": within rounding of how the plane and the vertices were computed
    tol = 1e-9 * np.maximum(np.maximum(np.abs(lo), np.abs(hi)), 1e-300)
    faces = np.ascontiguousarray(mesh.faces)
    areas, status = _areas_status(np.ascontiguousarray(mesh.verts), faces, lo, hi, tol)
    cut = np.flatnonzero(status == 2)
    if len(cut):
        pieces = mesh.verts[faces[cut]]
        owner = cut
        for ax in range(3):
            pieces, owner = _clip(pieces, owner, ax, lo[ax], keep_above=True)
            pieces, owner = _clip(pieces, owner, ax, hi[ax], keep_above=False)
        areas[cut] = 0.0
        np.add.at(areas, owner, _areas(pieces))
    return areas


@numba.njit(cache=True, parallel=True, nogil=True)
def _areas_status(verts, faces, lo, hi, tol):  # pragma: no cover - compiled
    """Area of every triangle, and 0 inside the box / 1 outside / 2 crossing a side.

    A triangle lying in a side's plane (a voxel face of a binary mask's marching-cubes
    mesh that smoothing did not move: they lie on the half-voxel planes between chunks)
    belongs to the box whose lower side it lies in, not to the one whose upper side it
    lies in, so boxes that tile a volume count it exactly once.
    """
    nf = faces.shape[0]
    areas = np.empty(nf)
    status = np.zeros(nf, np.int8)
    for f in numba.prange(nf):
        i, j, k = faces[f, 0], faces[f, 1], faces[f, 2]
        ux = verts[j, 0] - verts[i, 0]
        uy = verts[j, 1] - verts[i, 1]
        uz = verts[j, 2] - verts[i, 2]
        vx = verts[k, 0] - verts[i, 0]
        vy = verts[k, 1] - verts[i, 1]
        vz = verts[k, 2] - verts[i, 2]
        cx = uy * vz - uz * vy
        cy = uz * vx - ux * vz
        cz = ux * vy - uy * vx
        areas[f] = 0.5 * np.sqrt(cx * cx + cy * cy + cz * cz)
        for d in range(3):
            a, b, c = verts[i, d], verts[j, d], verts[k, d]
            mn = min(a, min(b, c))
            mx = max(a, max(b, c))
            if mx - mn <= tol[d]:  # in a plane normal to d
                if abs(mn - lo[d]) <= tol[d]:
                    continue
                if abs(mn - hi[d]) <= tol[d]:
                    status[f] = 1
                    break
            if mx <= lo[d] or mn >= hi[d]:
                status[f] = 1
                break
            if mn < lo[d] or mx > hi[d]:
                status[f] = 2
        if status[f] == 1:
            areas[f] = 0.0
    return areas, status


def _areas(tri: np.ndarray) -> np.ndarray:
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    return 0.5 * np.sqrt(np.einsum("ij,ij->i", cross, cross))


def _clip(tri, owner, axis, value, *, keep_above):
    """Clip triangles against the plane ``x[axis] = value`` (Sutherland–Hodgman).

    A triangle with one vertex kept becomes one triangle, one with two kept becomes two;
    ``owner`` carries the index of the original triangle along.
    """
    if len(tri) == 0:
        return tri, owner
    c = tri[:, :, axis]
    keep = c >= value if keep_above else c <= value
    n_keep = keep.sum(axis=1)
    whole = n_keep == 3
    one = n_keep == 1
    two = n_keep == 2
    out_tri = [tri[whole]]
    out_own = [owner[whole]]
    for sel, odd_is_kept in ((one, True), (two, False)):
        if not sel.any():
            continue
        t = tri[sel]
        k = keep[sel]
        # Rotate each triangle (keeping its orientation) so the odd vertex comes first.
        odd = np.argmax(k if odd_is_kept else ~k, axis=1)
        order = (odd[:, None] + np.arange(3)) % 3
        t = np.take_along_axis(t, order[:, :, None], axis=1)
        p0, p1, p2 = t[:, 0], t[:, 1], t[:, 2]
        s1 = (value - p0[:, axis]) / (p1[:, axis] - p0[:, axis])
        s2 = (value - p0[:, axis]) / (p2[:, axis] - p0[:, axis])
        q1 = p0 + s1[:, None] * (p1 - p0)
        q2 = p0 + s2[:, None] * (p2 - p0)
        own = owner[sel]
        if odd_is_kept:
            out_tri.append(np.stack([p0, q1, q2], axis=1))
            out_own.append(own)
        else:
            out_tri.append(np.stack([q1, p1, p2], axis=1))
            out_tri.append(np.stack([q1, p2, q2], axis=1))
            out_own.extend([own, own])
    return np.concatenate(out_tri), np.concatenate(out_own)

"""Boundary surfaces of voxel masks: marching cubes, constrained smoothing, clipping to the box.

One piece of code serves every area-like quantity (specific surface area, interfacial
areas, binder–particle contact): :func:`boundary_mesh` builds the surface of a binary
mask in physical units, :func:`mesh_area` measures it inside the box.

Method
------
1. **Marching cubes** (:func:`skimage.measure.marching_cubes`, Lewiner, level 0.5,
   ``step_size=1``) on the mask. On a binary mask every vertex is the midpoint of a
   lattice edge joining an inside and an outside voxel centre, so the mesh has the
   topology of the digital object (1-voxel plates and rods keep both sides) but its
   facets are tilted by multiples of 45°: on spheres of radius 10–20 voxels its area is
   +8.4 to +8.7 % too large (measured here, in line with the peer notes).
2. **Constrained Taubin smoothing** of the vertices (Taubin 1995, λ = 0.5, μ = −0.53,
   ``iterations`` λ|μ pairs on the uniform umbrella Laplacian), each vertex kept within
   half a voxel of where marching cubes put it (an ellipsoid of semi-axes
   ``spacing / 2``, in the spirit of VTK's SurfaceNets constrained smoothing). The
   constraint keeps the surface consistent with the digitisation, so thin features
   cannot vanish and the volume cannot drift; the λ|μ pair is a low-pass filter that
   removes the staircase without the shrinkage of plain Laplacian smoothing. Smoothing
   runs in physical coordinates, so anisotropic voxels are honoured.
3. **Box faces are not interface.** The mask is padded by mirror reflection
   (``np.pad(mode="symmetric")``: the first pad layer replicates the edge layer), so a
   phase touching a box side continues straight through it and the surface meets the
   side at a right angle, as if the sample continued. The mesh is then clipped exactly
   (triangle against plane, Sutherland–Hodgman) to the box ``[-1/2, n - 1/2]`` voxels
   and only the part inside is counted.

Accuracy: relative area error on balls of radius r voxels (mean of three random
sub-voxel centres) against the number of λ|μ iterations; 15 is the default, the flattest
over r (more iterations inflate small spheres, fewer leave the staircase):

==========  ======  ======  ======  ======  ======
iterations   r = 3   r = 5  r = 10  r = 15  r = 20
==========  ======  ======  ======  ======  ======
0 (MC)       +6.5 %  +7.2 %  +8.4 %  +8.6 %  +8.7 %
5            +0.6 %  +1.2 %  +2.0 %  +2.0 %  +2.0 %
10           +0.3 %  +0.6 %  +1.1 %  +1.1 %  +1.1 %
15           +0.8 %  +0.8 %  +0.9 %  +0.8 %  +0.8 %
20           +1.3 %  +1.0 %  +0.9 %  +0.6 %  +0.6 %
50           +5.4 %  +3.0 %  +1.2 %  +0.7 %  +0.5 %
==========  ======  ======  ======  ======  ======

Constraints tried and rejected: a half-voxel box (Laplacian shrinks spheres by −2 to
−8 %), motion along the marching-cubes edge only (+1.4 % at r = 20, −3.5 % at r = 5),
and marching cubes on a Gaussian-smoothed indicator (σ = 0.8 voxel: −5.5 % at r = 5,
and 1-voxel rods vanish). Vertices next to voxels that are one voxel thin along two or
more axes (rods, isolated voxels) are not moved: the half-voxel constraint would let
such a rod collapse to a line.

Why hand-written: scikit-image has marching cubes but neither mesh smoothing nor
clipping, and VTK (which has both) is not a dependency. The smoothing loop is compiled
with numba because 5 million vertices × 40 half-steps is too slow in numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np
from skimage.measure import marching_cubes

#: Taubin's λ|μ pair (pass-band k_PB = 1/λ + 1/μ ≈ 0.11).
TAUBIN_LAMBDA = 0.5
TAUBIN_MU = -0.53
#: Default number of λ|μ iterations (chosen by the sphere study in the module docstring).
DEFAULT_ITERATIONS = 15
#: Mirror padding (voxels) beyond the box sides, so the open rim of the mesh is far
#: enough away that its smoothing artefacts do not reach the box.
_PAD = 3


@dataclass(frozen=True)
class Mesh:
    """A triangle mesh of a mask boundary.

    Attributes
    ----------
    verts : ndarray of float, shape (nv, 3)
        Vertex positions (z, y, x) in physical units, origin at the centre of voxel
        ``(0, 0, 0)`` of the (uncropped) volume.
    faces : ndarray of int, shape (nf, 3)
        Vertex indices of each triangle.
    inside : ndarray of int64, shape (nv,)
        Flat index (into the volume, C order) of the inside voxel of the lattice edge
        each vertex was created on; edges in the mirror padding map to the voxel they
        mirror, so it always indexes the original array.
    outside : ndarray of int64, shape (nv,)
        Flat index of the outside voxel of that edge (mapped likewise).
    """

    verts: np.ndarray
    faces: np.ndarray
    inside: np.ndarray
    outside: np.ndarray


def boundary_mesh(
    mask: np.ndarray,
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
    *,
    iterations: int = DEFAULT_ITERATIONS,
) -> Mesh:
    """Smoothed marching-cubes surface of a binary mask.

    Parameters
    ----------
    mask : ndarray of bool, shape (nz, ny, nx)
        The object (True) whose boundary is wanted.
    spacing : sequence of 3 floats
        Voxel size along (z, y, x), in the length unit of the result.
    iterations : int
        Number of constrained Taubin λ|μ iterations; 0 gives plain marching cubes.

    Returns
    -------
    Mesh
        Vertices in physical units; an empty mesh when the mask is empty or full.
    """
    mask = np.asarray(mask, dtype=bool)
    spacing_arr = np.asarray(spacing, dtype=float)
    empty = Mesh(np.zeros((0, 3)), np.zeros((0, 3), np.int64), np.zeros(0, np.int64),
                 np.zeros(0, np.int64))
    lo, hi = _bounding_box(mask)
    if lo is None:
        return empty
    # Crop to the object's bounding box grown by _PAD voxels (all False there), so the
    # mirror padding below reflects False layers except where the crop meets a box side.
    lo = np.maximum(lo - _PAD, 0)
    hi = np.minimum(hi + 1 + _PAD, mask.shape)
    crop = mask[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    if crop.all():
        return empty
    padded = np.pad(crop, _PAD, mode="symmetric")
    # float32 is the dtype marching cubes works in: no internal copy.
    verts, faces, _, _ = marching_cubes(
        padded.astype(np.float32), 0.5, step_size=1, allow_degenerate=True, method="lewiner"
    )
    if len(faces) == 0:
        return empty
    faces = faces.astype(np.int64)
    thin = _thin_voxels(padded) if iterations > 0 else np.zeros((1, 1, 1), bool)
    pos, inside, outside, fixed = _edge_ends(
        verts, padded, thin, iterations > 0, (lo - _PAD).astype(np.int64),
        np.asarray(mask.shape, np.int64), spacing_arr,
    )
    if iterations > 0:
        indptr, indices = _neighbours_csr(faces, len(pos))
        pos = _taubin_constrained(
            pos, indptr, indices, fixed, spacing_arr * 0.5, int(iterations), TAUBIN_LAMBDA,
            TAUBIN_MU,
        )
    return Mesh(pos, faces, inside, outside)


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
    """
    if shape is None:
        lo = np.full(3, -np.inf)
        hi = np.full(3, np.inf)
    else:
        spacing_arr = np.asarray(spacing, dtype=float)
        lo = -0.5 * spacing_arr
        hi = (np.asarray(shape, dtype=float) - 0.5) * spacing_arr
    faces = np.ascontiguousarray(mesh.faces, dtype=np.int64)
    areas, status = _areas_status(np.ascontiguousarray(mesh.verts), faces, lo, hi)
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


@numba.njit(cache=True)
def _areas_status(verts, faces, lo, hi):  # pragma: no cover - compiled
    """Area of every triangle, and 0 inside the box / 1 outside / 2 crossing a side."""
    nf = faces.shape[0]
    areas = np.empty(nf)
    status = np.zeros(nf, np.int8)
    for f in range(nf):
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


def _thin_voxels(mask: np.ndarray) -> np.ndarray:
    """Voxels one voxel thin along at least two axes (rods, isolated voxels, rod tips).

    Such a voxel has the opposite value on both sides along two or more axes, in the
    mask or in its complement. Its surface is below the resolution at which smoothing can
    tell a shape apart, and the half-voxel constraint would let it collapse to a line, so
    the vertices next to it keep their marching-cubes positions.
    """
    count = np.zeros(mask.shape, np.uint8)
    for ax in range(3):
        lo = [slice(None)] * 3
        mid = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[ax], mid[ax], hi[ax] = slice(None, -2), slice(1, -1), slice(2, None)
        centre = mask[tuple(mid)]
        both = (mask[tuple(lo)] != centre) & (mask[tuple(hi)] != centre)
        count[tuple(mid)] += both
    return count >= 2


def _bounding_box(mask: np.ndarray):
    """Inclusive (lo, hi) voxel indices of the True voxels, or (None, None)."""
    lo, hi = [], []
    for ax in range(3):
        other = tuple(a for a in range(3) if a != ax)
        idx = np.flatnonzero(mask.any(axis=other))
        if len(idx) == 0:
            return None, None
        lo.append(idx[0])
        hi.append(idx[-1])
    return np.asarray(lo), np.asarray(hi)


@numba.njit(cache=True)
def _edge_ends(verts, padded, thin, use_thin, offset, shape, spacing):  # pragma: no cover
    """Physical positions, inside/outside voxels and frozen flags of marching-cubes vertices.

    On a binary mask each vertex is the midpoint of one lattice edge (the axis with the
    half-integer coordinate); its two ends are an inside and an outside voxel.
    """
    n = verts.shape[0]
    pos = np.empty((n, 3))
    inside = np.empty(n, np.int64)
    outside = np.empty(n, np.int64)
    fixed = np.zeros(n, np.bool_)
    a = np.empty(3, np.int64)
    b = np.empty(3, np.int64)
    for v in range(n):
        best = -1.0
        axis = 0
        for d in range(3):
            c = verts[v, d]
            f = abs(c - np.floor(c + 0.5))
            if f > best:
                best = f
                axis = d
            a[d] = np.int64(np.floor(c + 0.5))
            pos[v, d] = (c + offset[d]) * spacing[d]
        a[axis] = np.int64(np.floor(verts[v, axis]))
        for d in range(3):
            b[d] = a[d]
        b[axis] += 1
        a_in = padded[a[0], a[1], a[2]]
        if use_thin:
            fixed[v] = thin[a[0], a[1], a[2]] or thin[b[0], b[1], b[2]]
        ia = 0
        ib = 0
        for d in range(3):
            # Map padded indices back into the volume: the mirror pad reflects the box.
            pa = a[d] + offset[d]
            pb = b[d] + offset[d]
            if pa < 0:
                pa = -1 - pa
            elif pa >= shape[d]:
                pa = 2 * shape[d] - 1 - pa
            if pb < 0:
                pb = -1 - pb
            elif pb >= shape[d]:
                pb = 2 * shape[d] - 1 - pb
            ia = ia * shape[d] + pa
            ib = ib * shape[d] + pb
        if a_in:
            inside[v] = ia
            outside[v] = ib
        else:
            inside[v] = ib
            outside[v] = ia
    return pos, inside, outside, fixed


@numba.njit(cache=True)
def _neighbours_csr(faces, n_verts):  # pragma: no cover - compiled
    """CSR (indptr, indices) of the distinct edge neighbours of every vertex."""
    count = np.zeros(n_verts + 1, np.int64)
    for f in range(faces.shape[0]):
        for k in range(3):
            count[faces[f, k] + 1] += 2
    indptr = np.cumsum(count)
    fill = indptr[:-1].copy()
    raw = np.empty(indptr[-1], np.int64)
    for f in range(faces.shape[0]):
        for k in range(3):
            v = faces[f, k]
            raw[fill[v]] = faces[f, (k + 1) % 3]
            raw[fill[v] + 1] = faces[f, (k + 2) % 3]
            fill[v] += 2
    # Each interior edge appears twice (once per adjacent triangle): keep it once, so
    # the umbrella weights stay uniform on the open rim of the mesh too.
    out_ptr = np.zeros(n_verts + 1, np.int64)
    out = np.empty(indptr[-1], np.int64)
    n = 0
    for v in range(n_verts):
        start = n
        for j in range(indptr[v], indptr[v + 1]):
            w = raw[j]
            seen = False
            for q in range(start, n):
                if out[q] == w:
                    seen = True
                    break
            if not seen:
                out[n] = w
                n += 1
        out_ptr[v + 1] = n
    return out_ptr, out[:n]


def _taubin_constrained(pos, indptr, indices, fixed, half, iterations, lam, mu):
    """Constrained Taubin smoothing; threads only pay off on large meshes."""
    kernel = _taubin_parallel if len(pos) > 200_000 else _taubin_serial
    return kernel(pos, indptr, indices, fixed, half, iterations, lam, mu)


def _taubin_kernel(pos, indptr, indices, fixed, half, iterations, lam, mu):  # pragma: no cover
    n = pos.shape[0]
    start = pos.copy()
    cur = pos.copy()
    nxt = pos.copy()
    hz, hy, hx = half[0], half[1], half[2]
    for it in range(2 * iterations):
        factor = lam if it % 2 == 0 else mu
        # Every vertex reads ``cur`` and writes only its own row of ``nxt``: the
        # parallel loop is race-free and its result does not depend on the threads.
        for v in numba.prange(n):
            lo, hi = indptr[v], indptr[v + 1]
            if hi == lo or fixed[v]:
                continue
            sz = 0.0
            sy = 0.0
            sx = 0.0
            for j in range(lo, hi):
                w = indices[j]
                sz += cur[w, 0]
                sy += cur[w, 1]
                sx += cur[w, 2]
            inv = 1.0 / (hi - lo)
            z = cur[v, 0] + factor * (sz * inv - cur[v, 0])
            y = cur[v, 1] + factor * (sy * inv - cur[v, 1])
            x = cur[v, 2] + factor * (sx * inv - cur[v, 2])
            dz = (z - start[v, 0]) / hz
            dy = (y - start[v, 1]) / hy
            dx = (x - start[v, 2]) / hx
            r2 = dz * dz + dy * dy + dx * dx
            # Keep the vertex inside the half-voxel ellipsoid around its start.
            if r2 > 1.0:
                scale = 1.0 / np.sqrt(r2)
                z = start[v, 0] + dz * hz * scale
                y = start[v, 1] + dy * hy * scale
                x = start[v, 2] + dx * hx * scale
            nxt[v, 0] = z
            nxt[v, 1] = y
            nxt[v, 2] = x
        cur, nxt = nxt, cur
    return cur


_taubin_serial = numba.njit(cache=True)(_taubin_kernel)
_taubin_parallel = numba.njit(cache=True, parallel=True)(_taubin_kernel)

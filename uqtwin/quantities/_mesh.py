"""Boundary surfaces of voxel masks: marching cubes, constrained smoothing, clipping to the box.

One piece of code serves every area-like quantity (specific surface area, interfacial
areas, binder–particle contact): :func:`boundary_mesh` builds the surface of a binary
mask in physical units, :func:`mesh_area` measures it inside the box.

Method
------
1. **Marching cubes** (Lewiner, level 0.5) on the mask: the triangles of
   :func:`skimage.measure.marching_cubes` (``method="lewiner"``, ``step_size=1``),
   triangle for triangle. On a binary mask every vertex is the midpoint of a lattice
   edge joining an inside and an outside voxel centre (or, in some ambiguous cubes, the
   cube centre), so the mesh has the topology of the digital object (1-voxel plates and
   rods keep both sides) but its facets are tilted by multiples of 45°: on spheres of
   radius 10–20 voxels its area is +8.4 to +8.7 % too large (measured here, in line
   with the peer notes).
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
clipping, and VTK (which has both) is not a dependency. Marching cubes itself is
re-run here on binary masks (:func:`_march`, numba, threaded over z layers) with
Lewiner's per-cube triangles read off scikit-image (:func:`_cube_tables`): on a binary
mask the vertex positions need no interpolation and every vertex is born with its
voxel pair and frozen flag, and each cube lists its distinct triangle edges for the
smoothing's neighbour lists, so the 256³ pore phase of tf_electrode (5.5 M vertices,
11 M triangles) is meshed in 0.8 s instead of scikit-image's 2.6 s plus 1.5 s of
post-processing and neighbour search, with the same mesh. The smoothing loop is
compiled with numba (5.5 M vertices × 30 half-steps, 2.2 s on one core): float32
displacements, fixed-width neighbour rows and a loop body without unpredictable
branches make it 1.5x faster than the float64 CSR loop it replaces (same results to
~1e-7 voxel). Every loop writes only its own rows (parallel loops) or runs serially, so
the mesh and area are the same on every run and for any number of threads.
"""

from __future__ import annotations

import functools
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
#: Neighbour slots per vertex in the smoothing loop; 97 % of the vertices of a
#: marching-cubes mesh have at most 8 distinct neighbours, the rest overflow to a CSR.
_SLOTS = 8


@dataclass(frozen=True)
class Mesh:
    """A triangle mesh of a mask boundary.

    Attributes
    ----------
    verts : ndarray of float, shape (nv, 3)
        Vertex positions (z, y, x) in physical units, origin at the centre of voxel
        ``(0, 0, 0)`` of the (uncropped) volume.
    faces : ndarray of int32 (int64 for meshes past 2**31 / 6 triangles), shape (nf, 3)
        Vertex indices of each triangle.
    inside : ndarray of int64, shape (nv,)
        Flat index (into the volume, C order) of the inside voxel of the lattice edge
        each vertex was created on (for a cube-centre vertex, the first cut edge of its
        cube); edges in the mirror padding map to the voxel they mirror, so it always
        indexes the original array.
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
    padded = np.pad(crop, _PAD, mode="symmetric").view(np.uint8)
    smooth = iterations > 0
    thin = _thin_voxels(padded) if smooth else np.zeros((1, 1, 1), bool)
    tables = _cube_tables()
    counts = _count_layers(padded, tables[0], tables[2], tables[3])
    # int32 indices halve the memory traffic of the smoothing iterations; int64 only
    # for meshes too large for them.
    index_dtype = np.int32 if 6 * int(counts[3].sum()) < 2**31 else np.int64
    start, faces, edges, inside, outside, fixed = _march(
        padded, thin, smooth, counts, *tables, (lo - _PAD).astype(np.int64),
        np.asarray(mask.shape, np.int64), spacing_arr, np.zeros(1, index_dtype),
    )
    if len(faces) == 0:
        return empty
    if smooth:
        table = _neighbour_table(*edges, len(start), fixed)
        del edges
        kernel = _taubin_parallel if len(start) > 200_000 else _taubin_serial
        kernel(start, *table, spacing_arr * 0.5, int(iterations), TAUBIN_LAMBDA, TAUBIN_MU)
    return Mesh(start, faces, inside, outside)


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
    faces = np.ascontiguousarray(mesh.faces)
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


@numba.njit(cache=True, parallel=True, nogil=True)
def _areas_status(verts, faces, lo, hi):  # pragma: no cover - compiled
    """Area of every triangle, and 0 inside the box / 1 outside / 2 crossing a side."""
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


@numba.njit(cache=True, parallel=True, nogil=True)
def _thin_voxels(m):  # pragma: no cover - compiled
    """Voxels one voxel thin along at least two axes (rods, isolated voxels, rod tips).

    Such a voxel has the opposite value on both sides along two or more axes, in the
    mask or in its complement. Its surface is below the resolution at which smoothing can
    tell a shape apart, and the half-voxel constraint would let it collapse to a line, so
    the vertices next to it keep their marching-cubes positions.
    """
    nz, ny, nx = m.shape
    thin = np.zeros(m.shape, np.bool_)
    for layer in numba.prange(nz):
        z = np.int64(layer)
        for y in range(ny):
            for x in range(nx):
                c = m[z, y, x]
                k = 0
                if 0 < z < nz - 1 and m[z - 1, y, x] != c and m[z + 1, y, x] != c:
                    k += 1
                if 0 < y < ny - 1 and m[z, y - 1, x] != c and m[z, y + 1, x] != c:
                    k += 1
                if 0 < x < nx - 1 and m[z, y, x - 1] != c and m[z, y, x + 1] != c:
                    k += 1
                thin[z, y, x] = k >= 2
    return thin


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


@functools.cache
def _cube_tables() -> tuple[np.ndarray, ...]:
    """Lewiner's triangles for each of the 256 binary cube configurations.

    Read off :func:`skimage.measure.marching_cubes` run on every 2×2×2 binary cube, so the
    mesh is the one scikit-image builds, triangle for triangle. On binary input each
    cube's triangulation depends only on its 8 corners (the ambiguity tests of Lewiner's
    method see values ±1/2, so they resolve every face the same way).

    Returns
    -------
    n_tri : ndarray of int64, shape (256,)
        Number of triangles of each configuration (bit ``4 dz + 2 dy + dx`` set when
        that corner is inside).
    tri : ndarray of int8, shape (256, 9, 3)
        Local vertex codes of each triangle: ``4 axis + 2 a + b`` for the midpoint of the
        cube edge along ``axis`` starting at the corner whose other two offsets (in z, y,
        x order) are ``a, b``; 12 for the cube centre, which Lewiner adds in some
        ambiguous configurations.
    centre : ndarray of bool, shape (256,)
        Whether the configuration uses the centre vertex.
    n_edge : ndarray of int64, shape (256,)
        Number of distinct triangle edges of each configuration.
    edge : ndarray of int8, shape (256, 32, 2)
        Their two local vertex codes, in order of first appearance.
    upper : ndarray of int8, shape (256, 32)
        The axis of the cube's upper face (z = 1, y = 1 or x = 1 side) an edge lies on,
        else -1. The cube across that face builds the same edge, so :func:`_march`
        leaves it to that cube when there is one: every mesh edge is listed once.
    ambiguous : ndarray of bool, shape (256, 32)
        Edges on an upper face with four cut edges (diagonal corners). scikit-image's
        two cubes do not always split such a face the same way (the ties of the face
        test on binary input), so the cube across is asked whether it has the edge.
    across : ndarray of int8, shape (3, 13)
        Code of the same vertex in the next cube along an axis, for vertices on the
        upper face of that axis (else -1).
    """
    n_tri = np.zeros(256, np.int64)
    tri = np.zeros((256, 9, 3), np.int8)
    centre = np.zeros(256, np.bool_)
    n_edge = np.zeros(256, np.int64)
    edge = np.zeros((256, 32, 2), np.int8)
    upper = np.full((256, 32), -1, np.int8)
    ambiguous = np.zeros((256, 32), np.bool_)
    across = np.full((3, 13), -1, np.int8)
    for code in range(12):
        for axis, side in _cube_faces(code):
            if side == 1:
                shift = 1 if [d for d in range(3) if d != code >> 2][0] == axis else 0
                across[axis, code] = code & ~(1 << shift)
    corners = np.array([(z, y, x) for z in (0, 1) for y in (0, 1) for x in (0, 1)])
    for case in range(1, 255):
        cube = np.zeros((2, 2, 2), np.float32)
        for bit, corner in enumerate(corners):
            cube[tuple(corner)] = (case >> bit) & 1
        verts, faces, _, _ = marching_cubes(cube, 0.5, step_size=1, allow_degenerate=True,
                                            method="lewiner")
        half = np.abs(verts - np.round(verts)) > 0.25
        codes = np.empty(len(verts), np.int8)
        for v, (p, h) in enumerate(zip(verts, half, strict=True)):
            if h.all():
                codes[v] = 12
                continue
            axis = int(np.flatnonzero(h)[0])
            a, b = (int(round(p[d])) for d in range(3) if d != axis)
            codes[v] = 4 * axis + 2 * a + b
        n_tri[case] = len(faces)
        tri[case, : len(faces)] = codes[faces]
        centre[case] = bool((codes == 12).any())
        pairs = []
        for t in codes[faces]:
            for a, b in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
                if (a, b) not in pairs and (b, a) not in pairs:
                    pairs.append((a, b))
        n_edge[case] = len(pairs)
        for e, (a, b) in enumerate(pairs):
            edge[case, e] = (a, b)
            common = _cube_faces(a) & _cube_faces(b)
            if common and next(iter(common))[1] == 1:
                axis = next(iter(common))[0]
                upper[case, e] = axis
                face = [bool(case >> bit & 1) for bit, c in enumerate(corners) if c[axis]]
                ambiguous[case, e] = face[0] == face[3] and face[1] == face[2] != face[0]
    return n_tri, tri, centre, n_edge, edge, upper, ambiguous, across


def _cube_faces(code: int) -> set[tuple[int, int]]:
    """Faces (axis, side) of the unit cube containing the vertex with local ``code``."""
    if code == 12:
        return set()
    axis, a, b = code >> 2, (code >> 1) & 1, code & 1
    others = [d for d in range(3) if d != axis]
    return {(others[0], a), (others[1], b)}


@numba.njit(cache=True, nogil=True)
def _case(m, z, y, x):  # pragma: no cover - compiled
    """Configuration index of the cube with lowest corner (z, y, x)."""
    return (np.int64(m[z, y, x]) | np.int64(m[z, y, x + 1]) << 1
            | np.int64(m[z, y + 1, x]) << 2 | np.int64(m[z, y + 1, x + 1]) << 3
            | np.int64(m[z + 1, y, x]) << 4 | np.int64(m[z + 1, y, x + 1]) << 5
            | np.int64(m[z + 1, y + 1, x]) << 6 | np.int64(m[z + 1, y + 1, x + 1]) << 7)


@numba.njit(cache=True, parallel=True, nogil=True)
def _count_layers(m, n_tri, centre, n_edge):  # pragma: no cover - compiled
    """Per z slice: cut y/x edges, cut z edges to the next slice, centres, triangles and
    (an upper bound of) the mesh edges of the layer of cubes above it."""
    nz, ny, nx = m.shape
    counts = np.zeros((5, nz), np.int64)
    for layer in numba.prange(nz):
        s = np.int64(layer)
        n_yx = 0
        n_z = 0
        n_c = 0
        n_f = 0
        n_e = 0
        for y in range(ny):
            for x in range(nx):
                v = m[s, y, x]
                if y + 1 < ny and m[s, y + 1, x] != v:
                    n_yx += 1
                if x + 1 < nx and m[s, y, x + 1] != v:
                    n_yx += 1
                if s + 1 < nz:
                    if m[s + 1, y, x] != v:
                        n_z += 1
                    if y + 1 < ny and x + 1 < nx:
                        case = _case(m, s, y, x)
                        n_f += n_tri[case]
                        n_c += centre[case]
                        # A bound: edges on a face shared with the next cube are
                        # listed by one of the two (see :func:`_march`).
                        n_e += n_edge[case]
        counts[0, s] = n_yx
        counts[1, s] = n_z
        counts[2, s] = n_c
        counts[3, s] = n_f
        counts[4, s] = n_e
    return counts


@numba.njit(cache=True, inline="always", nogil=True)
def _owns_edge(m, case, e, z, y, x, n_edge, edge, upper, ambiguous,
               across):  # pragma: no cover - compiled
    """Whether cube (z, y, x) lists its mesh edge e (see :func:`_cube_tables`): always
    unless it lies on an upper face with a cube across, which then lists it, if it has it.
    """
    up = upper[case, e]
    if up < 0:
        return True
    nz, ny, nx = m.shape
    if (up == 0 and z + 2 >= nz) or (up == 1 and y + 2 >= ny) or (up == 2 and x + 2 >= nx):
        return True
    if not ambiguous[case, e]:
        return False
    return not _across_has(m, case, e, z, y, x, up, n_edge, edge, across)


@numba.njit(cache=True, nogil=True)
def _across_has(m, case, e, z, y, x, up, n_edge, edge, across):  # pragma: no cover
    """Whether the cube across upper face ``up`` has edge e of cube (z, y, x)."""
    other = _case(m, z + (up == 0), y + (up == 1), x + (up == 2))
    a = across[up, edge[case, e, 0]]
    b = across[up, edge[case, e, 1]]
    for k in range(n_edge[other]):
        p = edge[other, k, 0]
        q = edge[other, k, 1]
        if (p == a and q == b) or (p == b and q == a):
            return True
    return False


@numba.njit(cache=True, nogil=True)
def _flat(p0, p1, p2, offset, shape):  # pragma: no cover - compiled
    """Flat index in the original volume of padded voxel p (the pad mirrors the box)."""
    q = (p0 + offset[0], p1 + offset[1], p2 + offset[2])
    out = 0
    for d in range(3):
        c = q[d]
        if c < 0:
            c = -1 - c
        elif c >= shape[d]:
            c = 2 * shape[d] - 1 - c
        out = out * shape[d] + c
    return out


@numba.njit(cache=True, nogil=True)
def _put_pair(v, p0, p1, p2, q0, q1, q2, m, offset, shape, inside,
              outside):  # pragma: no cover - compiled
    """Vertex ``v`` lies between voxels p and q of different phase: record which is inside."""
    ia = _flat(p0, p1, p2, offset, shape)
    ib = _flat(q0, q1, q2, offset, shape)
    if m[p0, p1, p2]:
        inside[v] = ia
        outside[v] = ib
    else:
        inside[v] = ib
        outside[v] = ia


@numba.njit(cache=True, nogil=True)
def _put_edge(v, z, y, x, axis, m, thin, use_thin, offset, shape, spacing, start, inside,
              outside, fixed):  # pragma: no cover - compiled
    """Record the vertex at the midpoint of the edge from voxel (z, y, x) along axis."""
    z2 = z + (axis == 0)
    y2 = y + (axis == 1)
    x2 = x + (axis == 2)
    start[v, 0] = (0.5 * (z + z2) + offset[0]) * spacing[0]
    start[v, 1] = (0.5 * (y + y2) + offset[1]) * spacing[1]
    start[v, 2] = (0.5 * (x + x2) + offset[2]) * spacing[2]
    _put_pair(v, z, y, x, z2, y2, x2, m, offset, shape, inside, outside)
    if use_thin:
        fixed[v] = thin[z, y, x] or thin[z2, y2, x2]


@numba.njit(cache=True, nogil=True)
def _slice_ids(m, s, ids, first, write, thin, use_thin, offset, shape, spacing, start,
               inside, outside, fixed):  # pragma: no cover - compiled
    """Number the cut y and x edges of slice s from ``first`` (recording them if write)."""
    ny, nx = m.shape[1], m.shape[2]
    k = first
    for y in range(ny):
        for x in range(nx):
            v = m[s, y, x]
            if y + 1 < ny and m[s, y + 1, x] != v:
                ids[0, y, x] = k
                if write:
                    _put_edge(k, s, y, x, 1, m, thin, use_thin, offset, shape, spacing,
                              start, inside, outside, fixed)
                k += 1
            if x + 1 < nx and m[s, y, x + 1] != v:
                ids[1, y, x] = k
                if write:
                    _put_edge(k, s, y, x, 2, m, thin, use_thin, offset, shape, spacing,
                              start, inside, outside, fixed)
                k += 1


@numba.njit(cache=True, parallel=True, nogil=True)
def _march(m, thin, use_thin, counts, n_tri, tri, centre, n_edge, edge, upper, ambiguous,
           across, offset, shape, spacing, index_like):  # pragma: no cover - compiled
    """Marching cubes on a binary (uint8) volume, one z layer of cubes per task.

    Vertex order: the cut y/x edges of slice 0, then per layer z the cut z edges of
    slice z, the cut y/x edges of slice z + 1 and the cube centres of layer z. Every
    offset follows from ``counts``, so the layers are independent, each vertex and
    triangle is written by exactly one task, and the mesh does not depend on threads.
    With ``use_thin`` (smoothing), the vertices next to thin voxels are flagged
    ``fixed`` and the distinct mesh edges are listed, layer z in
    ``edges[0][a:b]``, ``(a, b) = edges[1][z]`` (the counts only bound them).
    """
    nz, ny, nx = m.shape
    n_yx, n_z, n_c, n_f, n_e = counts[0], counts[1], counts[2], counts[3], counts[4]
    off_yx = np.zeros(nz, np.int64)
    off_z = np.zeros(nz, np.int64)
    off_c = np.zeros(nz, np.int64)
    off_f = np.zeros(nz, np.int64)
    off_e = np.zeros(nz, np.int64)
    cursor = n_yx[0]
    for z in range(nz - 1):
        off_z[z] = cursor
        cursor += n_z[z]
        off_yx[z + 1] = cursor
        cursor += n_yx[z + 1]
        off_c[z] = cursor
        cursor += n_c[z]
        if z + 1 < nz - 1:
            off_f[z + 1] = off_f[z] + n_f[z]
            off_e[z + 1] = off_e[z] + n_e[z]
    n_v = cursor
    start = np.empty((n_v, 3))
    inside = np.empty(n_v, np.int64)
    outside = np.empty(n_v, np.int64)
    fixed = np.zeros(n_v, np.bool_)
    faces = np.empty((n_f.sum(), 3), index_like.dtype)
    # The distinct mesh edges, for the smoothing's neighbour lists (not needed without).
    edges = np.empty((n_e.sum() if use_thin else 0, 2), index_like.dtype)
    edge_ranges = np.zeros((nz, 2), np.int64)
    for layer in numba.prange(nz - 1):
        z = np.int64(layer)
        id_lo = np.empty((2, ny, nx), index_like.dtype)
        id_hi = np.empty((2, ny, nx), index_like.dtype)
        id_z = np.empty((ny, nx), index_like.dtype)
        # Slice z's y/x edges belong to the layer below (or to layer 0 for slice 0).
        _slice_ids(m, z, id_lo, off_yx[z], z == 0, thin, use_thin, offset, shape,
                   spacing, start, inside, outside, fixed)
        _slice_ids(m, z + 1, id_hi, off_yx[z + 1], True, thin, use_thin, offset, shape,
                   spacing, start, inside, outside, fixed)
        k = off_z[z]
        for y in range(ny):
            for x in range(nx):
                if m[z, y, x] != m[z + 1, y, x]:
                    id_z[y, x] = k
                    _put_edge(k, z, y, x, 0, m, thin, use_thin, offset, shape, spacing,
                              start, inside, outside, fixed)
                    k += 1
        c = off_c[z]
        f = off_f[z]
        g = off_e[z]
        for y in range(ny - 1):
            for x in range(nx - 1):
                case = _case(m, z, y, x)
                if n_tri[case] == 0:
                    continue
                mid = -1
                if centre[case]:
                    mid = c
                    _put_centre(c, z, y, x, m, thin, use_thin, offset, shape, spacing,
                                start, inside, outside, fixed)
                    c += 1
                for t in range(n_tri[case]):
                    for j in range(3):
                        faces[f, j] = _vertex_id(tri[case, t, j], y, x, id_lo, id_hi, id_z,
                                                 mid)
                    f += 1
                if not use_thin:
                    continue
                for e in range(n_edge[case]):
                    if _owns_edge(m, case, e, z, y, x, n_edge, edge, upper, ambiguous,
                                  across):
                        edges[g, 0] = _vertex_id(edge[case, e, 0], y, x, id_lo, id_hi, id_z,
                                                 mid)
                        edges[g, 1] = _vertex_id(edge[case, e, 1], y, x, id_lo, id_hi, id_z,
                                                 mid)
                        g += 1
        edge_ranges[z, 0] = off_e[z]
        edge_ranges[z, 1] = g
    return start, faces, (edges, edge_ranges), inside, outside, fixed


@numba.njit(cache=True, inline="always", nogil=True)
def _vertex_id(code, y, x, id_lo, id_hi, id_z, mid):  # pragma: no cover - compiled
    """Index of the vertex with local ``code`` in the cube at (y, x) of the layer."""
    if code < 4:
        return id_z[y + (code >> 1), x + (code & 1)]
    if code < 8:
        ids = id_lo if code < 6 else id_hi
        return ids[0, y, x + (code & 1)]
    if code < 12:
        ids = id_lo if code < 10 else id_hi
        return ids[1, y + (code & 1), x]
    return mid


@numba.njit(cache=True, nogil=True)
def _put_centre(v, z, y, x, m, thin, use_thin, offset, shape, spacing, start, inside,
                outside, fixed):  # pragma: no cover - compiled
    """Record a cube-centre vertex; its voxel pair is the cube's first cut edge.

    It stays put when any corner of its cube is thin, as edge vertices next to a thin
    voxel do (all its neighbours lie on that cube's edges).
    """
    start[v, 0] = (z + 0.5 + offset[0]) * spacing[0]
    start[v, 1] = (y + 0.5 + offset[1]) * spacing[1]
    start[v, 2] = (x + 0.5 + offset[2]) * spacing[2]
    for code in range(12):
        axis = code >> 2
        a = (code >> 1) & 1
        b = code & 1
        if axis == 0:
            p0, p1, p2 = z, y + a, x + b
        elif axis == 1:
            p0, p1, p2 = z + a, y, x + b
        else:
            p0, p1, p2 = z + a, y + b, x
        q0, q1, q2 = p0 + (axis == 0), p1 + (axis == 1), p2 + (axis == 2)
        if m[p0, p1, p2] != m[q0, q1, q2]:
            _put_pair(v, p0, p1, p2, q0, q1, q2, m, offset, shape, inside, outside)
            break
    if use_thin:
        frozen = False
        for dz in range(2):
            for dy in range(2):
                for dx in range(2):
                    frozen = frozen or thin[z + dz, y + dy, x + dx]
        fixed[v] = frozen


@numba.njit(cache=True, nogil=True)
def _neighbour_table(edges, ranges, n, fixed):  # pragma: no cover - compiled
    """Edge neighbours of every vertex, in ``_SLOTS`` slots plus a CSR overflow.

    ``edges[a:b]`` for each row ``(a, b)`` of ``ranges`` list every mesh edge once (see
    :func:`_cube_tables`), so the rows need no duplicate search and the umbrella weights
    stay uniform on the open rim of the mesh too. Unused slots point at the dummy vertex
    ``n``; neighbours past ``_SLOTS`` (3 % of the vertices have some) go to a CSR
    overflow. ``degree`` is the number of neighbours, 0 for vertices that do not move.
    Serial, in edge order: deterministic.
    """
    count = np.zeros(n, np.int64)
    for r in range(ranges.shape[0]):
        for e in range(ranges[r, 0], ranges[r, 1]):
            count[edges[e, 0]] += 1
            count[edges[e, 1]] += 1
    extra_ptr = np.zeros(n + 1, np.int64)
    degree = np.zeros(n, np.uint8)
    for v in range(n):
        extra_ptr[v + 1] = extra_ptr[v] + max(count[v] - _SLOTS, 0)
        degree[v] = 0 if fixed[v] else min(count[v], 255)
    table = np.full((n, _SLOTS), n, edges.dtype)
    extra = np.empty(extra_ptr[n], edges.dtype)
    count[:] = 0
    for r in range(ranges.shape[0]):
        for e in range(ranges[r, 0], ranges[r, 1]):
            for k in range(2):
                v = edges[e, k]
                w = edges[e, 1 - k]
                c = count[v]
                if c < _SLOTS:
                    table[v, c] = w
                else:
                    extra[extra_ptr[v] + c - _SLOTS] = w
                count[v] = c + 1
    return table, extra_ptr, extra, degree


def _taubin_kernel(start, table, extra_ptr, extra, degree, half, iterations, lam,
                   mu):  # pragma: no cover - compiled
    """Constrained Taubin smoothing of ``start`` in place.

    The iterations move float32 displacements ``d`` from the start positions: with
    ``c = mean(start of neighbours) - start`` fixed, the umbrella step is
    ``d += f (c + mean(d of neighbours) - d)``. The displacements stay within half a
    voxel, so float32 arithmetic keeps them to ~1e-7 voxel and the loop moves half the
    bytes. The loop body has one rarely taken branch (CSR loops and per-vertex tests
    mispredict, and cost twice as much): every vertex sums its ``_SLOTS`` slots (unused
    ones read the dummy row ``n``, always 0) and the 3 % with more neighbours add their
    overflow; a vertex that does not move has ``1/degree = 0`` and ``c = 0``, so its
    ``d`` stays 0.
    """
    n = start.shape[0]
    one = np.float32(1.0)
    iz = np.float32(1.0 / half[0])
    iy = np.float32(1.0 / half[1])
    ix = np.float32(1.0 / half[2])
    inverse = np.zeros(256, np.float32)
    for d in range(1, 256):
        inverse[d] = 1.0 / d
    rest = np.zeros((n, 3), np.float32)
    for v in numba.prange(n):
        d = degree[v]
        if d == 0:
            continue
        sz = 0.0
        sy = 0.0
        sx = 0.0
        for j in range(min(d, _SLOTS)):
            w = table[v, j]
            sz += start[w, 0]
            sy += start[w, 1]
            sx += start[w, 2]
        for j in range(extra_ptr[v], extra_ptr[v + 1]):
            w = extra[j]
            sz += start[w, 0]
            sy += start[w, 1]
            sx += start[w, 2]
        rest[v, 0] = sz / d - start[v, 0]
        rest[v, 1] = sy / d - start[v, 1]
        rest[v, 2] = sx / d - start[v, 2]
    cur = np.zeros((n + 1, 3), np.float32)
    nxt = np.zeros((n + 1, 3), np.float32)
    for it in range(2 * iterations):
        factor = np.float32(lam if it % 2 == 0 else mu)
        # Every vertex reads ``cur`` and writes only its own row of ``nxt``: the
        # parallel loops are race-free and their result does not depend on the threads.
        for v in numba.prange(n):
            sz = np.float32(0.0)
            sy = np.float32(0.0)
            sx = np.float32(0.0)
            for j in range(_SLOTS):
                w = table[v, j]
                sz += cur[w, 0]
                sy += cur[w, 1]
                sx += cur[w, 2]
            d = degree[v]
            if d > _SLOTS:
                for j in range(extra_ptr[v], extra_ptr[v + 1]):
                    w = extra[j]
                    sz += cur[w, 0]
                    sy += cur[w, 1]
                    sx += cur[w, 2]
            inv = inverse[d]
            dz = cur[v, 0] + factor * (rest[v, 0] + sz * inv - cur[v, 0])
            dy = cur[v, 1] + factor * (rest[v, 1] + sy * inv - cur[v, 1])
            dx = cur[v, 2] + factor * (rest[v, 2] + sx * inv - cur[v, 2])
            uz = dz * iz
            uy = dy * iy
            ux = dx * ix
            r2 = uz * uz + uy * uy + ux * ux
            # Back onto the half-voxel ellipsoid around the start when outside it (0.3 %
            # of the vertices at the end on tf_electrode: a well-predicted branch).
            if r2 > one:
                scale = one / np.sqrt(r2)
                dz *= scale
                dy *= scale
                dx *= scale
            nxt[v, 0] = dz
            nxt[v, 1] = dy
            nxt[v, 2] = dx
        cur, nxt = nxt, cur
    for v in numba.prange(n):
        start[v, 0] += cur[v, 0]
        start[v, 1] += cur[v, 1]
        start[v, 2] += cur[v, 2]


_taubin_serial = numba.njit(cache=True, error_model="numpy", nogil=True)(_taubin_kernel)
_taubin_parallel = numba.njit(cache=True, parallel=True, error_model="numpy",
                              nogil=True)(_taubin_kernel)

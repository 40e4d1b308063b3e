"""Marching cubes on a binary volume, triangle for triangle the mesh of scikit-image.

Marching cubes (Lorensen & Cline, SIGGRAPH 1987) with the per-cube triangulations of
Lewiner et al. (J. Graphics Tools 8 (2003) 1), as :func:`skimage.measure.marching_cubes`
(``method="lewiner"``, ``step_size=1``, level 0.5) builds them. On a binary mask every
vertex is the midpoint of a lattice edge joining an inside and an outside voxel centre
(or, in some ambiguous cubes, the cube centre), so positions need no interpolation and
each vertex is born with its voxel pair and its "frozen" flag (next to a thin voxel,
see :func:`uqtwin.morphology.smoothing.thin_voxels`). Lewiner's triangles are read off
scikit-image once (:func:`cube_tables`); :func:`march` (numba, threaded over z layers)
also lists every distinct mesh edge once, for the smoothing's neighbour lists. Every
loop writes only its own rows, so the mesh is the same for any number of threads.

Why hand-written: scikit-image's marching cubes returns neither the voxel pair of a
vertex nor the mesh edges, and re-deriving them afterwards costs more than the meshing
(benchmark rows in ``benchmarks/README.md``, "Morphology"). This module is long
because the meshing kernel and the tables it reads are one piece (about 400 lines).
"""

from __future__ import annotations

import functools

import numba
import numpy as np
from skimage.measure import marching_cubes


@functools.cache
def cube_tables() -> tuple[np.ndarray, ...]:
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
        else -1. The cube across that face builds the same edge, so :func:`march`
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
def count_layers(m, n_tri, centre, n_edge):  # pragma: no cover - compiled
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
                        # listed by one of the two (see :func:`march`).
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
    """Whether cube (z, y, x) lists its mesh edge e (see :func:`cube_tables`): always
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
def march(m, thin, use_thin, counts, n_tri, tri, centre, n_edge, edge, upper, ambiguous,
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

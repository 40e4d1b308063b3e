"""Face conductances of a voxel conductivity field: the finite-volume face rule.

A face between two cells of conductivity ``k1`` and ``k2`` (distance ``h`` between their
centres, area ``A``) is two half cells in series: ``G = (A / h) 2 k1 k2 / (k1 + k2)``
(the harmonic mean, so anisotropic voxel spacing is honoured exactly). Along the driven
axis the value is fixed on the outer face, half a voxel outside the first and last cell
centres (TauFactor's convention): the face's conductance is that of the half cell,
``k A / (h / 2)`` (:func:`fixed_value_conductance`, the one place that rule is written).
Along an insulated axis the outer faces are zero; along a periodic axis both hold the
conductance of the wrap-around face. An optional area-specific contact resistance adds
a series resistance ``R_c / A`` on faces between two different particles.

Conductances are stored as described in :mod:`uqtwin.solvers.layout` (``gz, gy, gx``).
A cell whose six face conductances are all zero is outside the solve (solid, or removed
because it does not connect the driven faces); the operator acts as the identity on it
(:mod:`uqtwin.solvers.operators`).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from uqtwin.solvers.layout import outer_face_layers

__all__ = [
    "drive_faces",
    "face_areas",
    "face_conductances",
    "fixed_value_conductance",
    "harmonic_conductance",
    "with_contact_resistance",
]


def fixed_value_conductance(k, geom):
    """Conductance ``k A / (h / 2)`` of the half cell between a cell centre and a face
    that holds a fixed value, from the cell's conductivity ``k`` and ``geom = A / h``.

    Computed as ``k * (2 * (A / h))``: this exact order is what every caller (numpy and
    the compiled kernel) uses, so the three of them give the same bits.

    Parameters
    ----------
    k : float or ndarray of float64
        Conductivity of the cell(s) next to the face.
    geom : float
        Face area over the cell size normal to it, ``A / h``.

    Returns
    -------
    float or ndarray
        Units ``[k]·ℓ``.

    Examples
    --------
    >>> fixed_value_conductance(2.0, 1.0 / 0.5)
    8.0
    """
    return k * (2.0 * geom)


# the same rule for the compiled kernels (inlined: no call in the inner loop)
_fixed_value_conductance_jit = njit(inline="always")(fixed_value_conductance)


def face_areas(spacing) -> tuple[float, float, float]:
    """Areas of the faces normal to z, y and x of a voxel of size ``spacing``.

    Examples
    --------
    >>> face_areas((1.0, 2.0, 3.0))
    (6.0, 3.0, 2.0)
    """
    h = [float(s) for s in spacing]
    return (h[1] * h[2], h[0] * h[2], h[0] * h[1])


def _harmonic_faces(k_lo: np.ndarray, k_hi: np.ndarray, geom: float) -> np.ndarray:
    """``geom * 2 k1 k2 / (k1 + k2)``: two half cells in series; zero if either side is."""
    num = 2.0 * k_lo * k_hi
    den = k_lo + k_hi
    out = np.zeros(np.broadcast_shapes(k_lo.shape, k_hi.shape), dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    out *= geom
    return out


def face_conductances(
    k: np.ndarray,
    spacing,
    axis: int | None,
    *,
    periodic=(False, False, False),
    particles: np.ndarray | None = None,
    contact_resistance: float = 0.0,
    dtype=np.float32,
):
    """Face conductances of a voxel conductivity field, driven along ``axis``.

    Parameters
    ----------
    k : ndarray of float, shape (nz, ny, nx)
        Conductivity (or diffusivity) of every voxel; 0 for voxels outside the solve.
    spacing : tuple of 3 floats
        Voxel size along (z, y, x), in any length unit ``ℓ``.
    axis : int or None
        Driven axis (0, 1 or 2): its two outer faces get fixed values, half a voxel
        outside the first and last cell centres. None: no driven axis (the solver then
        sets the driven faces per axis, sharing the rest).
    periodic : tuple of 3 bools
        Periodic wrap along each axis; ignored for the driven axis. Non-periodic,
        non-driven sides are insulated (no flux).
    particles : ndarray of int, optional
        Particle label of every voxel (0 = not a particle). A face between two different
        positive labels gets an extra series resistance ``contact_resistance / A_face``.
    contact_resistance : float
        Area-specific contact resistance, in units of ``ℓ / [k]`` (for ``k`` in S/m and
        ``ℓ`` in m: Ω·m²).
    dtype : numpy dtype
        Storage type of the result (float32 halves memory and bandwidth).

    Returns
    -------
    tuple of 3 ndarrays
        ``(gz, gy, gx)``: conductances ``k A / d`` (units ``[k]·ℓ``) of the z-, y- and
        x-faces, shapes ``(nz+1, ny, nx)``, ``(nz, ny+1, nx)``, ``(nz, ny, nx+1)``.
    """
    h = [float(s) for s in spacing]
    areas = face_areas(h)
    if particles is None or contact_resistance <= 0:
        # one fused pass (numba) instead of float64 temporaries per axis: ~20x faster
        k = np.ascontiguousarray(k)
        if k.dtype not in (np.float32, np.float64):
            k = k.astype(np.float64)
        nz, ny, nx = k.shape
        gz = np.empty((nz + 1, ny, nx), dtype=dtype)
        gy = np.empty((nz, ny + 1, nx), dtype=dtype)
        gx = np.empty((nz, ny, nx + 1), dtype=dtype)
        geom = np.array([areas[a] / h[a] for a in range(3)])
        modes = np.array([1 if a == axis else (2 if periodic[a] else 0) for a in range(3)],
                         dtype=np.int64)
        _faces_kernel(k, geom, modes, gz, gy, gx)
        return gz, gy, gx
    k = np.asarray(k, dtype=np.float64)
    out = []
    for a in range(3):
        n = k.shape[a]
        shape = list(k.shape)
        shape[a] = n + 1
        g = np.zeros(shape, dtype=np.float64)
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        inner = [slice(None)] * 3
        lo[a], hi[a], inner[a] = slice(0, n - 1), slice(1, n), slice(1, n)
        g[tuple(inner)] = _harmonic_faces(k[tuple(lo)], k[tuple(hi)], areas[a] / h[a])
        first = [slice(None)] * 3
        last = [slice(None)] * 3
        first[a], last[a] = 0, n
        cell0 = [slice(None)] * 3
        celln = [slice(None)] * 3
        cell0[a], celln[a] = 0, n - 1
        if a == axis:
            # the fixed value sits on the outer face: half a voxel of the cell in series
            g[tuple(first)] = fixed_value_conductance(k[tuple(cell0)], areas[a] / h[a])
            g[tuple(last)] = fixed_value_conductance(k[tuple(celln)], areas[a] / h[a])
        elif periodic[a]:
            wrap = _harmonic_faces(k[tuple(celln)], k[tuple(cell0)], areas[a] / h[a])
            g[tuple(first)] = wrap
            g[tuple(last)] = wrap
        # contact resistance (this branch is only taken with one)
        p = np.asarray(particles)
        g[tuple(inner)] = with_contact_resistance(g[tuple(inner)], p[tuple(lo)], p[tuple(hi)],
                                                  contact_resistance, areas[a])
        if a != axis and periodic[a]:
            wrap = with_contact_resistance(g[tuple(first)], p[tuple(cell0)], p[tuple(celln)],
                                           contact_resistance, areas[a])
            g[tuple(first)] = wrap
            g[tuple(last)] = wrap
        out.append(np.ascontiguousarray(g, dtype=dtype))
    return tuple(out)



def with_contact_resistance(g: np.ndarray, p_lo: np.ndarray, p_hi: np.ndarray,
                            contact_resistance: float, area: float) -> np.ndarray:
    """Face conductances ``g`` with an area-specific contact resistance in series on the
    faces between two different particles: ``1 / (1/g + R_c / A)``.

    Parameters
    ----------
    g : ndarray of float64
        Conductances of a set of faces of area ``area``.
    p_lo, p_hi : ndarray of int
        Particle labels (0 = none) of the cells on either side of each face.
    contact_resistance : float
        ``R_c``, units ``ℓ / [k]``.
    area : float
        Face area ``A``.

    Returns
    -------
    ndarray
        A new array; faces that are blocked (``g = 0``), inside one particle or not
        between two particles keep their conductance.

    Examples
    --------
    >>> with_contact_resistance(np.array([2.0, 2.0]), np.array([1, 1]), np.array([2, 1]),
    ...                         0.5, 1.0).tolist()
    [1.0, 2.0]
    """
    contact = (p_lo != p_hi) & (p_lo > 0) & (p_hi > 0)
    out = g.copy()
    sel = contact & (out > 0)
    out[sel] = 1.0 / (1.0 / out[sel] + contact_resistance / area)
    return out

def harmonic_conductance(k1, k2, geom):
    """Conductance ``geom · 2 k1 k2 / (k1 + k2)`` of the face between two cells of
    conductivities ``k1`` and ``k2`` (two half cells in series; 0 if both are 0), with
    ``geom = A / h``.

    In this exact order, in float64: the compiled kernel (:func:`face_conductances`)
    is this very function, so both give the same bits.

    Examples
    --------
    >>> harmonic_conductance(1.0, 3.0, 2.0)
    3.0
    """
    den = k1 + k2
    return (2.0 * k1 * k2) / den * geom if den > 0 else 0.0


_harm = njit(inline="always")(harmonic_conductance)


@njit(inline="always")
def _outer(mode, k_here, k_other, geom):  # pragma: no cover - compiled
    if mode == 1:  # driven: half a cell in series with the fixed value on the face
        return _fixed_value_conductance_jit(k_here, geom)
    if mode == 2:  # periodic: the wrap-around face
        return _harm(k_other, k_here, geom)
    return 0.0


@njit(parallel=True, cache=True, nogil=True)
def _faces_kernel(k, geom, modes, gz, gy, gx):  # pragma: no cover - compiled
    """Fused :func:`face_conductances` without contact resistance (float64 arithmetic)."""
    nz, ny, nx = k.shape
    g0, g1, g2 = geom[0], geom[1], geom[2]
    m0, m1, m2 = modes[0], modes[1], modes[2]
    for z in prange(nz + 1):
        for y in range(ny):
            for x in range(nx):
                if z == 0:
                    gz[z, y, x] = _outer(m0, np.float64(k[0, y, x]),
                                         np.float64(k[nz - 1, y, x]), g0)
                elif z == nz:
                    gz[z, y, x] = _outer(m0, np.float64(k[nz - 1, y, x]),
                                         np.float64(k[0, y, x]), g0)
                else:
                    gz[z, y, x] = _harm(np.float64(k[z - 1, y, x]), np.float64(k[z, y, x]), g0)
        if z == nz:
            continue
        for y in range(ny + 1):
            for x in range(nx):
                if y == 0:
                    gy[z, y, x] = _outer(m1, np.float64(k[z, 0, x]),
                                         np.float64(k[z, ny - 1, x]), g1)
                elif y == ny:
                    gy[z, y, x] = _outer(m1, np.float64(k[z, ny - 1, x]),
                                         np.float64(k[z, 0, x]), g1)
                else:
                    gy[z, y, x] = _harm(np.float64(k[z, y - 1, x]), np.float64(k[z, y, x]), g1)
        for y in range(ny):
            gx[z, y, 0] = _outer(m2, np.float64(k[z, y, 0]), np.float64(k[z, y, nx - 1]), g2)
            gx[z, y, nx] = _outer(m2, np.float64(k[z, y, nx - 1]), np.float64(k[z, y, 0]), g2)
            for x in range(1, nx):
                gx[z, y, x] = _harm(np.float64(k[z, y, x - 1]), np.float64(k[z, y, x]), g2)


def drive_faces(g, k: np.ndarray, spacing, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Face conductances driven along ``axis``, from those with no driven axis.

    Parameters
    ----------
    g : tuple of 3 ndarrays
        ``(gz, gy, gx)`` from ``face_conductances(k, spacing, None, ...)``; not modified.
    k : ndarray of float, shape (nz, ny, nx)
        The conductivities ``g`` were computed from.
    spacing : tuple of 3 floats
        Voxel size along (z, y, x).
    axis : int
        Driven axis.

    Returns
    -------
    tuple of 3 ndarrays
        ``g`` with a new array along ``axis`` whose two outer face layers hold the
        fixed-value conductances (:func:`fixed_value_conductance`), what
        ``face_conductances(k, spacing, axis, ...)`` gives them; the other two arrays
        are ``g``'s own (shared, not copied).

    Examples
    --------
    >>> k = np.ones((3, 2, 2), np.float32)
    >>> driven = drive_faces(face_conductances(k, (1, 1, 1), None), k, (1, 1, 1), 0)
    >>> np.array_equal(driven[0], face_conductances(k, (1, 1, 1), 0)[0])
    True
    """
    h = [float(v) for v in spacing]
    geom = face_areas(h)[axis] / h[axis]
    driven = g[axis].copy()
    for view, cell in zip(outer_face_layers(driven, axis), outer_face_layers(k, axis),
                          strict=True):
        view[...] = fixed_value_conductance(cell.astype(np.float64), geom)
    return tuple(driven if a == axis else g[a] for a in range(3))

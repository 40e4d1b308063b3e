"""Exact Euclidean distance transforms, isotropic (integer lattice) or anisotropic.

For equal spacings the exact squared EDT in voxel units is computed by the separable
lower envelope of parabolas (Felzenszwalb & Huttenlocher, Theory of Computing 8 (2012)
415), numba, stored as exact integers in float32; for unequal spacings scipy's float64
EDT with ``sampling`` (Maurer et al., IEEE TPAMI 25 (2003) 265). Distances are measured
to the nearest background voxel centre, as in PoreSpy and BoneJ.
"""

from __future__ import annotations

import numba
import numpy as np
from scipy import ndimage as ndi


def distance_field(mask: np.ndarray, spacing: np.ndarray) -> tuple[np.ndarray, bool]:
    """The distance map local thickness and intrusion size both start from.

    Returns ``(field, lattice)``: for equal spacings (the integer path) the exact squared
    EDT in voxel units (integers D in float32) and True; otherwise (anisotropic voxels,
    or a mask without a wall) the float64 EDT in length units and False. The pore size
    distribution computes it once for both sizes; neither modifies it.
    """
    if mask.all() or not np.all(spacing == spacing[0]):
        # Anisotropic voxels: scipy's float64 EDT with sampling, float ball test.
        return distance(mask, spacing), False
    # Isotropic voxels: squared EDT in voxel units (exact integers D, in float32).
    return squared_edt(mask), True


def distance(mask: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Distance (length units) from each mask voxel to the nearest non-mask voxel centre.

    Parameters
    ----------
    mask : ndarray of bool, shape (nz, ny, nx)
        The phase.
    spacing : ndarray of float, shape (3,)
        Voxel size along (z, y, x), in length units.

    Returns
    -------
    ndarray of float64
        scipy's exact Euclidean distance transform with ``sampling=spacing`` (0 outside the
        mask). If the mask fills the whole box there is no wall to measure to, so every voxel
        gets the box diagonal instead (an upper bound on any inscribed ball).
    """
    if mask.all():
        # No wall anywhere: every ball is unbounded; the box diagonal bounds it instead.
        return np.full(mask.shape, float(np.sqrt(np.sum((np.asarray(mask.shape) * spacing) ** 2))))
    return ndi.distance_transform_edt(mask, sampling=spacing)


@numba.njit(cache=True, parallel=True, nogil=True)
def squared_edt(mask):  # pragma: no cover - compiled
    """Exact squared Euclidean distance (voxel units) to the nearest False voxel centre.

    Separable lower envelope of parabolas (Felzenszwalb & Huttenlocher, 2012), one axis
    after the other, in float64 per line; the result (integers below 2**24 for boxes up
    to ~2300 voxels a side) is stored in float32. inf where the line sets have no
    False voxel (callers handle an all-True mask beforehand).
    """
    nz, ny, nx = mask.shape
    inf = np.inf
    d = np.empty(mask.shape, np.float32)
    # x: 1D distance to the nearest False voxel on the row, two scans.
    for z in numba.prange(nz):
        for y in range(ny):
            last = -1
            for x in range(nx):
                if not mask[z, y, x]:
                    last = x
                d[z, y, x] = inf if last < 0 else np.float32((x - last) * (x - last))
            last = -1
            for x in range(nx - 1, -1, -1):
                if not mask[z, y, x]:
                    last = x
                elif last >= 0:
                    b = np.float32((last - x) * (last - x))
                    if b < d[z, y, x]:
                        d[z, y, x] = b
    # y: envelope along each column of every z plane.
    for z in numba.prange(nz):
        f = np.empty(ny, np.float64)
        g = np.empty(ny, np.float64)
        v = np.empty(ny, np.int64)
        zb = np.empty(ny + 1, np.float64)
        for x in range(nx):
            for y in range(ny):
                f[y] = d[z, y, x]
            _envelope(f, g, v, zb)
            for y in range(ny):
                d[z, y, x] = g[y]
    # z: envelope along z, for every (y, x).
    for y in numba.prange(ny):
        f = np.empty(nz, np.float64)
        g = np.empty(nz, np.float64)
        v = np.empty(nz, np.int64)
        zb = np.empty(nz + 1, np.float64)
        for x in range(nx):
            for z in range(nz):
                f[z] = d[z, y, x]
            _envelope(f, g, v, zb)
            for z in range(nz):
                d[z, y, x] = g[z]
    return d


@numba.njit(cache=True, nogil=True)
def _envelope(f, g, v, zb):  # pragma: no cover - compiled
    """g[q] = min_p f[p] + (q - p)**2 (exact for integer f), inf entries of f skipped."""
    n = f.shape[0]
    k = -1
    for q in range(n):
        fq = f[q]
        if fq == np.inf:
            continue
        while k >= 0:
            p = v[k]
            s = ((fq + q * q) - (f[p] + p * p)) / (2.0 * (q - p))
            if s <= zb[k]:
                k -= 1
            else:
                break
        if k < 0:
            k = 0
            v[0] = q
            zb[0] = -np.inf
        else:
            k += 1
            v[k] = q
            zb[k] = s
        zb[k + 1] = np.inf
    if k < 0:
        for q in range(n):
            g[q] = np.inf
        return
    j = 0
    for q in range(n):
        while zb[j + 1] < q:
            j += 1
        p = v[j]
        g[q] = (q - p) * (q - p) + f[p]

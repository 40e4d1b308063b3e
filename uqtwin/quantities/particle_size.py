"""Particle size distribution of the active phase: watershed separation of touching particles.

Method
------
1. Exact Euclidean distance transform of the active mask with per-axis sampling
   (:func:`scipy.ndimage.distance_transform_edt`), so sizes are physical.
2. Markers: the h-maxima of the distance map (:func:`skimage.morphology.h_maxima`),
   26-connected. A regional maximum counts only if it rises more than ``h`` above the
   saddle that joins it to a higher one: two spheres of radius R joined by a neck of
   radius ρ stay two particles while R − ρ > h, and the ripples that surface roughness
   puts on the distance ridge (below a voxel) do not split a particle. Default ``h``:
   two of the smallest voxel sizes.
3. Watershed of the negated distance map from those markers inside the mask
   (:func:`skimage.segmentation.watershed`).
4. Per particle: volume V (voxel count × voxel volume), equivalent-sphere diameter
   d = (6V/π)^(1/3), surface area A of the particle's own boundary (smoothed marching
   cubes, :mod:`uqtwin.quantities._mesh`, contacts with neighbouring particles
   included), sphericity ψ = π^(1/3) (6V)^(2/3) / A (1 for a ball; +0.8 % area bias makes
   a digital ball ≈ 0.99). Particles touching a box side are flagged; they are cut by
   the box, so their sizes are not known and they are excluded by default.

Ensemble outputs use common bins (``particle_bin``: a Dataset holds one coordinate per
dim name, and the pore sizes use ``bin`` with their own edges); the ragged per-particle
list is available from :func:`particle_diameters` and :func:`particle_table`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
import xarray as xr
from scipy import ndimage as ndi
from skimage.segmentation import watershed

from uqtwin.microstructure import Microstructure
from uqtwin.quantities._phases import find_phase
from uqtwin.quantities.base import Output, Quantity
from uqtwin.quantities.pore_size import _find, bin_coords, binned_fractions, check_bins
from uqtwin.quantities.surface_area import boundary_area

_FULL = np.ones((3, 3, 3), bool)


def default_h(spacing: Sequence[float]) -> float:
    """Default h-maxima depth: two of the smallest voxel sizes (length units)."""
    return 2.0 * float(np.min(spacing))


#: Particles with fewer voxels get no area or sphericity (too coarse to have a shape).
MIN_SHAPE_VOXELS = 64


def particles_of(ms: Microstructure, index: int, h: float | None = None) -> np.ndarray:
    """Particle labels of phase ``index`` of ``ms``, segmented once per microstructure.

    Particle sizes, binder contact and cell parameters all need the same watershed; the
    memo on the microstructure makes it run once per sample.
    """
    return ms.memoized(("particles", int(index), h),
                       lambda: segment_particles(ms.labels == index, ms.spacing, h=h))


def segment_particles(
    mask: np.ndarray,
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
    *,
    h: float | None = None,
) -> np.ndarray:
    """Split a phase into particles by a marker-controlled watershed of its distance map.

    Parameters
    ----------
    mask : ndarray of bool, shape (nz, ny, nx)
        The particle phase.
    spacing : sequence of 3 floats
        Voxel size along (z, y, x), in length units.
    h : float, optional
        Depth (length units) a distance maximum must have to seed a particle (default
        :func:`default_h`).

    Returns
    -------
    ndarray of int32
        Particle label of each voxel (1..n), 0 outside ``mask``.
    """
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return np.zeros(mask.shape, np.int32)
    h = default_h(spacing) if h is None else float(h)
    dt = ndi.distance_transform_edt(mask, sampling=spacing) if not mask.all() else (
        np.ones(mask.shape)
    )
    idx = np.flatnonzero(mask)
    order = idx[np.argsort(-dt.ravel()[idx], kind="stable")]
    markers = _dynamic_peaks(np.ascontiguousarray(dt, dtype=np.float64), order, h)
    labels = watershed(-dt, markers, mask=mask)
    # A component of the mask without any marker (flatter than h) is still a particle.
    missed = mask & (labels == 0)
    if missed.any():
        extra, _ = ndi.label(missed, structure=_FULL)
        labels[missed] = extra[missed] + labels.max()
    return labels.astype(np.int32)


@numba.njit(cache=True, nogil=True)
def _dynamic_peaks(dt, order, h):  # pragma: no cover - compiled
    """Label the maxima of ``dt`` whose dynamic is at least ``h`` (26-connectivity).

    Voxels join in descending ``dt`` (union–find). When two components meet at level L,
    the one with the lower peak p ends there: its dynamic is p − L. The peaks that end
    with a dynamic ≥ h, and the highest peak of every component, are the markers: the
    same maxima as the h-maxima transform, each marked by its peak voxel.
    """
    nz, ny, nx = dt.shape
    n = nz * ny * nx
    flat = dt.ravel()
    parent = np.full(n, -1, np.int64)
    peak = np.full(n, -1, np.int64)
    dynamic = np.full(n, np.inf)
    for k in range(order.shape[0]):
        v = order[k]
        level = flat[v]
        parent[v] = v
        peak[v] = v
        root = v
        z = v // (ny * nx)
        y = (v // nx) % ny
        x = v % nx
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
                    b = _find(parent, w)
                    if b == root:
                        continue
                    pa, pb = peak[root], peak[b]
                    # The lower peak (ties: the later one in the order) ends here.
                    if flat[pa] > flat[pb] or (flat[pa] == flat[pb] and pa < pb):
                        high, low = root, b
                    else:
                        high, low = b, root
                    if peak[low] != v:
                        dynamic[peak[low]] = flat[peak[low]] - level
                    else:
                        dynamic[v] = 0.0
                    parent[low] = high
                    root = high
    markers = np.zeros(n, np.int32)
    count = 0
    for k in range(order.shape[0]):
        v = order[k]
        if peak[v] == v and dynamic[v] >= h:
            count += 1
            markers[v] = count
    return markers.reshape(dt.shape)


def particle_table(
    particles: np.ndarray,
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
    *,
    with_sphericity: bool = True,
) -> dict[str, np.ndarray]:
    """Per-particle sizes of a particle label image.

    Parameters
    ----------
    particles : ndarray of int, shape (nz, ny, nx)
        Particle labels (0 background), e.g. from :func:`segment_particles`.
    spacing : sequence of 3 floats
        Voxel size along (z, y, x), in length units.
    with_sphericity : bool
        Also mesh every particle for its area and sphericity (the costly part).

    Returns
    -------
    dict of ndarray
        ``label``, ``volume`` (length³), ``diameter`` (equivalent-sphere, length),
        ``area`` (length², NaN without sphericity), ``sphericity`` (1, NaN likewise) and
        ``border`` (bool: touches a box side), one entry per particle.
    """
    particles = np.asarray(particles)
    spacing = tuple(float(s) for s in spacing)
    n = int(particles.max()) if particles.size else 0
    counts = np.bincount(particles.ravel(), minlength=n + 1)[1:]
    label = np.arange(1, n + 1)
    present = counts > 0
    volume = counts * float(np.prod(spacing))
    diameter = np.cbrt(6.0 * volume / np.pi)
    border = np.zeros(n, bool)
    for ax in range(particles.ndim):
        for idx in (0, -1):
            face = np.take(particles, idx, axis=ax)
            border[np.unique(face[face > 0]) - 1] = True
    area = np.full(n, np.nan)
    if with_sphericity:
        for k, sl in enumerate(ndi.find_objects(particles), start=1):
            # Below ~4 voxels across, the mesh area and the voxel-count volume disagree
            # (a lone voxel meshes to an octahedron of 1/6 its volume), which would give
            # sphericities above 1: such particles get no shape, only a size.
            if sl is None or counts[k - 1] < MIN_SHAPE_VOXELS:
                continue
            # Grow the bounding box by one voxel (all other labels): the crop then holds
            # the particle's whole surface, and crop sides are box sides only where the
            # particle touches the box.
            grown = tuple(
                slice(max(s.start - 1, 0), min(s.stop + 1, dim))
                for s, dim in zip(sl, particles.shape, strict=True)
            )
            area[k - 1] = boundary_area(particles[grown] == k, spacing)
    with np.errstate(divide="ignore", invalid="ignore"):
        sphericity = np.cbrt(np.pi) * (6.0 * volume) ** (2.0 / 3.0) / area
    keep = present
    return {
        "label": label[keep],
        "volume": volume[keep],
        "diameter": diameter[keep],
        "area": area[keep],
        "sphericity": sphericity[keep],
        "border": border[keep],
    }


def particle_diameters(
    labels_mask: np.ndarray,
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
    *,
    h: float | None = None,
    exclude_border: bool = True,
) -> np.ndarray:
    """Equivalent-sphere diameters of the particles of a phase (the per-particle list).

    Parameters
    ----------
    labels_mask : ndarray of bool, shape (nz, ny, nx)
        The particle phase.
    spacing : sequence of 3 floats
        Voxel size along (z, y, x), in length units.
    h : float, optional
        Watershed marker depth (see :func:`segment_particles`).
    exclude_border : bool
        Leave out particles cut by the box sides (default).

    Returns
    -------
    ndarray of float
        Diameters in length units, in label order.
    """
    table = particle_table(
        segment_particles(labels_mask, spacing, h=h), spacing, with_sphericity=False
    )
    keep = ~table["border"] if exclude_border else np.ones(len(table["label"]), bool)
    return table["diameter"][keep]


def particle_size_distribution(
    ms: Microstructure,
    *,
    phases: Sequence[str] | None = None,
    phase: str | None = None,
    h: float | None = None,
    bins: Sequence[float] | None = None,
    exclude_border: bool = True,
) -> dict[str, xr.DataArray]:
    """Number- and volume-weighted particle size distributions of the active phase.

    Parameters
    ----------
    ms : Microstructure
        Labelled volume.
    phases : sequence of str, optional
        Unused (the outputs are not per phase); accepted for the common signature.
    phase : str, optional
        Particle phase (default: the phase named ``"active"``, else the one whose
        material card has ``kind = "active"``).
    h : float, optional
        Watershed marker depth in length units (default: two smallest voxel sizes).
    bins : sequence of float, optional
        Diameter bin edges in length units (default: geometric, as the pore sizes).
    exclude_border : bool
        Leave out particles cut by the box sides (default True).

    Returns
    -------
    dict
        ``particle_size_distribution`` (volume fraction per bin),
        ``particle_number_distribution`` (number fraction per bin), both on dim
        ``particle_bin``; ``mean_particle_diameter`` (volume-weighted, length),
        ``mean_sphericity`` (volume-weighted) and ``particle_count``. NaN when no
        particle is left.
    """
    del phases
    index = find_phase(ms, phase, names=("active",), kinds=("active",), role="active")
    edges = check_bins(bins, ms.shape, ms.spacing)
    particles = particles_of(ms, index, h)
    table = particle_table(particles, ms.spacing)
    keep = ~table["border"] if exclude_border else np.ones(len(table["label"]), bool)
    d, v, psi = table["diameter"][keep], table["volume"][keep], table["sphericity"][keep]
    coords = bin_coords(edges, "particle_bin")
    if len(d) == 0:
        nan = np.full(len(edges) - 1, np.nan)
        vol_dist = num_dist = nan
        mean_d = mean_psi = np.nan
    else:
        vol_dist = binned_fractions(d, v, edges) / v.sum()
        num_dist = binned_fractions(d, None, edges) / len(d)
        mean_d = float(np.sum(v * d) / v.sum())
        shaped = np.isfinite(psi)
        mean_psi = (float(np.sum(v[shaped] * psi[shaped]) / v[shaped].sum())
                    if shaped.any() else np.nan)
    return {
        "particle_size_distribution": xr.DataArray(
            vol_dist, dims=("particle_bin",), coords=coords
        ),
        "particle_number_distribution": xr.DataArray(
            num_dist, dims=("particle_bin",), coords=coords
        ),
        "mean_particle_diameter": xr.DataArray(mean_d),
        "mean_sphericity": xr.DataArray(mean_psi),
        "particle_count": xr.DataArray(float(len(d))),
    }


QUANTITY = Quantity(
    name="particle_size_distribution",
    compute=particle_size_distribution,
    outputs=(
        Output(
            "particle_size_distribution",
            ("particle_bin",),
            "1",
            "particle size distribution (volume)",
            "Volume fraction of the (non-border) particles per equivalent-sphere "
            "diameter bin; particles from a watershed of the distance map with h-maxima "
            "markers.",
        ),
        Output(
            "particle_number_distribution",
            ("particle_bin",),
            "1",
            "particle size distribution (number)",
            "Number fraction of the (non-border) particles per equivalent-sphere "
            "diameter bin.",
        ),
        Output(
            "mean_particle_diameter",
            (),
            "{length}",
            "mean particle diameter",
            "Volume-weighted mean equivalent-sphere diameter of the non-border particles.",
        ),
        Output(
            "mean_sphericity",
            (),
            "1",
            "mean sphericity",
            "Volume-weighted mean of pi^(1/3) (6V)^(2/3) / A over the non-border "
            "particles of at least 64 voxels (A: smoothed marching-cubes area of the "
            "particle; smaller particles are too coarse to have a shape).",
        ),
        Output(
            "particle_count",
            (),
            "1",
            "particle count",
            "Number of particles not touching a box side.",
        ),
    ),
    summary="particle size distribution of the active phase (watershed), mean diameter",
)

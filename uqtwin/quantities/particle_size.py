"""Particle size distribution of the active phase: watershed separation of touching particles.

The particles are those of :func:`uqtwin.morphology.particle_labels` (marker-controlled
watershed of the distance map, h-maxima markers), segmented once per sample
(:meth:`uqtwin.microstructure.SampleCache.particles`) and shared with the binder contact,
the cell parameters and the contact resistance of the conductivity. Per particle
(:func:`uqtwin.morphology.particle_table`): equivalent-sphere diameter d = (6V/π)^(1/3)
and sphericity ψ = π^(1/3) (6V)^(2/3) / A from the smoothed marching-cubes area A of the
particle. Particles touching a box side are cut by the box, so their sizes are not known
and they are excluded by default.

Ensemble outputs use common bins (``particle_bin``: a Dataset holds one coordinate per
dim name, and the pore sizes use ``bin`` with their own edges); the ragged per-particle
list is available from :func:`particle_diameters` and :func:`particle_table`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from uqtwin.microstructure import Microstructure
from uqtwin.morphology.bins import bin_coords, binned_fractions, check_bins
from uqtwin.morphology.particles import (
    MIN_SHAPE_VOXELS,
    default_h,
    particle_diameters,
    particle_labels,
    particle_table,
)
from uqtwin.quantities._phases import find_phase
from uqtwin.quantities.base import Output, Quantity

__all__ = [
    "MIN_SHAPE_VOXELS",
    "default_h",
    "particle_diameters",
    "particle_labels",
    "particle_size_distribution",
    "particle_table",
    "segment_particles",
]

#: Former name of :func:`uqtwin.morphology.particle_labels`.
segment_particles = particle_labels


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
    particles = ms.cache.particles(index, h)
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

"""Parameters of a homogenised (Newman / P2D) cell model from one microstructure.

* ε: porosity, the pore volume fraction;
* a_s: specific active surface area, the active|pore interface area per total volume
  (the electrochemically active area: active surface under binder is excluded; the total
  active boundary is ``specific_surface_area`` of the active phase);
* r_p: volume-weighted mean equivalent-sphere particle radius of the active phase
  (the watershed of :func:`uqtwin.morphology.particle_labels`, shared with the particle
  sizes; border particles excluded);
* Bruggeman exponent b, from ε and the tortuosity factor τ of the pore phase with the
  convention D_eff = D ε / τ = D ε^b, i.e. τ = ε^(1 − b) and b = 1 − ln τ / ln ε. The
  tortuosity is a separate, costly quantity (``tortuosity_factor``), so b is not
  computed here: :func:`uqtwin.solvers.bruggeman_exponent` turns per-sample ε and τ into b (the
  derived ``bruggeman_exponent`` quantity).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from uqtwin.microstructure import Microstructure
from uqtwin.morphology.boundaries import interfacial_areas
from uqtwin.morphology.particles import particle_table
from uqtwin.quantities._phases import find_phase
from uqtwin.quantities.base import Output, Quantity

__all__ = ["cell_parameters"]


def cell_parameters(
    ms: Microstructure,
    *,
    phases: Sequence[str] | None = None,
    pore_phase: str | None = None,
    active_phase: str | None = None,
    h: float | None = None,
) -> dict[str, xr.DataArray]:
    """Porosity, specific active area and mean particle radius for a cell model.

    Parameters
    ----------
    ms : Microstructure
        Labelled volume.
    phases : sequence of str, optional
        Unused (the outputs are scalars); accepted for the common signature.
    pore_phase, active_phase : str, optional
        Phase names (default: named ``"pore"`` / ``"active"`` or by material kind).
    h : float, optional
        Watershed marker depth for the particles (length units).

    Returns
    -------
    dict
        ``porosity`` (1), ``specific_active_area`` (1/length),
        ``mean_particle_radius`` (length, NaN without non-border particles).
    """
    del phases
    pore = find_phase(ms, pore_phase, names=("pore",), kinds=("pore", "electrolyte"),
                      role="pore")
    active = find_phase(ms, active_phase, names=("active",), kinds=("active",), role="active")
    eps = float(np.mean(ms.labels == pore))
    area = float(interfacial_areas(ms.labels, ms.spacing, [(active, pore)],
                                   n_phases=len(ms.phases), areas=ms.cache.boundary_areas)[0])
    table = particle_table(ms.cache.particles(active, h), ms.spacing, with_sphericity=False)
    keep = ~table["border"]
    v, d = table["volume"][keep], table["diameter"][keep]
    radius = float(np.sum(v * d) / v.sum() / 2.0) if v.sum() > 0 else np.nan
    return {
        "porosity": xr.DataArray(eps),
        "specific_active_area": xr.DataArray(area / ms.total_volume),
        "mean_particle_radius": xr.DataArray(radius),
    }


QUANTITY = Quantity(
    name="cell_parameters",
    compute=cell_parameters,
    outputs=(
        Output("porosity", (), "1", "porosity", "Pore volume fraction (epsilon)."),
        Output("specific_active_area", (), "1/{length}", "specific active area",
               "Active|pore interface area per total volume (a_s of a P2D model; active "
               "surface under binder excluded)."),
        Output("mean_particle_radius", (), "{length}", "mean particle radius",
               "Volume-weighted mean equivalent-sphere radius of the non-border active "
               "particles (r_p of a P2D model)."),
    ),
    summary="porosity, specific active area and mean particle radius for cell models",
)

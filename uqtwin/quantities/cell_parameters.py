"""Parameters of a homogenised (Newman / P2D) cell model from one microstructure.

* ε: porosity, the pore volume fraction;
* a_s: specific active surface area, the active|pore interface area per total volume
  (the electrochemically active area: active surface under binder is excluded; the total
  active boundary is ``specific_surface_area`` of the active phase);
* r_p: volume-weighted mean equivalent-sphere particle radius of the active phase
  (:mod:`uqtwin.quantities.particle_size`, border particles excluded);
* Bruggeman exponent b, from ε and the tortuosity factor τ of the pore phase with the
  convention D_eff = D ε / τ = D ε^b, i.e. τ = ε^(1 − b) and b = 1 − ln τ / ln ε. The
  tortuosity is a separate, costly quantity (``tortuosity_factor``), so b is not
  computed here: :func:`bruggeman_exponent` turns per-sample ε and τ into b.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from uqtwin.microstructure import Microstructure
from uqtwin.quantities._phases import find_phase
from uqtwin.quantities.base import Output, Quantity
from uqtwin.quantities.interfaces import interfacial_areas
from uqtwin.quantities.particle_size import particle_table, particles_of
from uqtwin.quantities.surface_area import area_cache


def bruggeman_exponent(porosity, tortuosity, *, pooled: bool = False):
    """Bruggeman exponent from porosity and tortuosity factor, τ = ε^(1 − b).

    Parameters
    ----------
    porosity : array_like
        ε, in (0, 1).
    tortuosity : array_like
        τ ≥ 1 (same shape as ``porosity``; ``inf`` for a non-percolating sample).
    pooled : bool
        Return one exponent fitted to all samples (least squares of ln τ on ln ε
        through the origin) instead of one per sample.

    Returns
    -------
    ndarray or float
        b = 1 − ln τ / ln ε per sample (NaN where ε ∉ (0, 1) or τ is not finite), or
        the pooled b = 1 − Σ ln ε ln τ / Σ (ln ε)².
    """
    eps = np.asarray(porosity, dtype=float)
    tau = np.asarray(tortuosity, dtype=float)
    eps, tau = np.broadcast_arrays(eps, tau)
    ok = (eps > 0) & (eps < 1) & np.isfinite(tau) & (tau > 0)
    le = np.log(np.where(ok, eps, 0.5))
    lt = np.log(np.where(ok, tau, 1.0))
    if pooled:
        if not ok.any():
            return float("nan")
        return float(1.0 - np.sum(le[ok] * lt[ok]) / np.sum(le[ok] ** 2))
    return np.where(ok, 1.0 - lt / le, np.nan)


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
                                   n_phases=len(ms.phases), cache=area_cache(ms))[0])
    table = particle_table(particles_of(ms, active, h), ms.spacing, with_sphericity=False)
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

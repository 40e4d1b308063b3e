"""Binder–particle contact: active|binder interface area per particle, adhesion energy and force.

Areas
    The total active|binder area is the inclusion–exclusion interface area (a cube
    resting on a binder slab: −0.1 %), shared among the particles (the watershed of
    :func:`uqtwin.morphology.particle_labels`) in proportion to each particle's
    classified contact on the active-phase mesh
    (:func:`uqtwin.morphology.contacts.particle_contact_areas`).

Adhesion
    Work of adhesion W = γ·A (J) and shear force at interfacial failure F = τ_adh·A (N)
    per particle, with γ (``work_of_adhesion``, J/m²) and τ_adh
    (``interfacial_shear_strength``, Pa) from the binder phase's material card if it has
    them, else from the bundled card ``models/materials/pvdf_adhesion.toml``, whose
    values are indicative (see its sources). Lengths are converted to metres with the
    volume's unit; a volume in voxel units gives NaN energies and forces.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from uqtwin.materials import load_material, property_value
from uqtwin.microstructure import Microstructure
from uqtwin.morphology.contacts import particle_contact_areas
from uqtwin.morphology.particles import particle_table
from uqtwin.quantities._phases import find_phase
from uqtwin.quantities.base import Output, Quantity
from uqtwin.volume import unit_scale

__all__ = ["DEFAULT_ADHESION_CARD", "binder_contact", "particle_contact_areas"]

#: Bundled card with the indicative PVDF adhesion values.
DEFAULT_ADHESION_CARD = "pvdf_adhesion"


def _adhesion_constants(ms: Microstructure, binder_name: str, card: str | None):
    own = ms.materials.get(binder_name, {})
    source = own if card is None else load_material(card)
    gamma = property_value(source, "work_of_adhesion")
    tau = property_value(source, "interfacial_shear_strength")
    if gamma is None or tau is None:
        fallback = load_material(DEFAULT_ADHESION_CARD)
        gamma = property_value(fallback, "work_of_adhesion") if gamma is None else gamma
        tau = property_value(fallback, "interfacial_shear_strength") if tau is None else tau
    return gamma, tau


def binder_contact(
    ms: Microstructure,
    *,
    phases: Sequence[str] | None = None,
    phase: str | None = None,
    binder_phase: str | None = None,
    h: float | None = None,
    exclude_border: bool = True,
    adhesion_card: str | None = None,
) -> dict[str, xr.DataArray]:
    """Binder coverage and binder–particle contact area, adhesion energy and force.

    Parameters
    ----------
    ms : Microstructure
        Labelled volume.
    phases : sequence of str, optional
        Unused (the outputs are scalars); accepted for the common signature.
    phase : str, optional
        Active phase (default: named ``"active"`` or material kind ``"active"``).
    binder_phase : str, optional
        Binder phase (default: named ``"binder"``, or material kind ``"binder"`` or
        ``"conductive_additive"``).
    h : float, optional
        Watershed marker depth for the particles (length units).
    exclude_border : bool
        Leave particles cut by the box sides out of the per-particle statistics.
    adhesion_card : str, optional
        Bundled material card with ``work_of_adhesion`` and
        ``interfacial_shear_strength`` (default: the binder phase's card, else
        ``pvdf_adhesion``).

    Returns
    -------
    dict
        Scalars: ``binder_coverage`` (share of the active surface in contact with
        binder), ``specific_binder_contact_area`` (1/length), ``mean_particle_contact_area``
        (length²), ``mean_particle_adhesion_energy`` (J), ``mean_particle_adhesion_force``
        (N), ``unbound_particle_fraction`` (particles without binder contact).
    """
    del phases
    active = find_phase(ms, phase, names=("active",), kinds=("active",), role="active")
    binder = find_phase(
        ms, binder_phase, names=("binder", "carbon_binder", "cbd"),
        kinds=("binder", "conductive_additive"), role="binder",
    )
    gamma, tau = _adhesion_constants(ms, ms.phases[binder], adhesion_card)
    particles = ms.cache.particles(active, h)
    areas = ms.cache.boundary_areas
    per, total = particle_contact_areas(ms.labels, ms.spacing, particles, active, binder,
                                        areas=areas)
    table = particle_table(particles, ms.spacing, with_sphericity=False)
    per = per[table["label"] - 1]
    keep = ~table["border"] if exclude_border else np.ones(len(per), bool)
    per = per[keep]
    surface = areas.of(frozenset({active}))
    to_m2 = unit_scale(ms.unit, "m") ** 2 if ms.unit != "voxel" else np.nan
    mean_area = float(per.mean()) if len(per) else np.nan
    return {
        "binder_coverage": xr.DataArray(total / surface if surface > 0 else np.nan),
        "specific_binder_contact_area": xr.DataArray(total / ms.total_volume),
        "mean_particle_contact_area": xr.DataArray(mean_area),
        "mean_particle_adhesion_energy": xr.DataArray(gamma * mean_area * to_m2),
        "mean_particle_adhesion_force": xr.DataArray(tau * mean_area * to_m2),
        "unbound_particle_fraction": xr.DataArray(
            float(np.mean(per <= 0.0)) if len(per) else np.nan
        ),
    }


QUANTITY = Quantity(
    name="binder_contact",
    compute=binder_contact,
    outputs=(
        Output("binder_coverage", (), "1", "binder coverage of the active surface",
               "Active|binder interface area over the active phase's boundary area."),
        Output("specific_binder_contact_area", (), "1/{length}",
               "specific binder contact area",
               "Active|binder interface area (inclusion-exclusion of smoothed "
               "marching-cubes boundary areas) per total box volume."),
        Output("mean_particle_contact_area", (), "{length}^2",
               "mean binder contact area per particle",
               "Mean over non-border particles of each particle's active|binder contact "
               "area (total shared in proportion to the classified mesh area)."),
        Output("mean_particle_adhesion_energy", (), "J",
               "mean binder adhesion energy per particle",
               "Work of adhesion gamma times contact area, mean over non-border "
               "particles; gamma from the material card (indicative)."),
        Output("mean_particle_adhesion_force", (), "N",
               "mean binder adhesion force per particle",
               "Interfacial shear strength tau_adh times contact area, mean over "
               "non-border particles; tau_adh from the material card (indicative)."),
        Output("unbound_particle_fraction", (), "1", "unbound particle fraction",
               "Fraction of non-border particles with no contact with the binder."),
    ),
    summary="binder coverage, binder-particle contact area, adhesion energy and force",
)

"""Binder–particle contact: active|binder interface area per particle, adhesion energy and force.

Areas
    The total active|binder area is the inclusion–exclusion interface area of
    :mod:`uqtwin.quantities.interfaces` (a cube resting on a binder slab: −0.1 %). It is
    shared among the particles (:mod:`uqtwin.quantities.particle_size` watershed) in
    proportion to each particle's classified contact: the area of the active-phase mesh
    around the vertices whose inside voxel belongs to the particle and whose outside
    voxel is binder (each triangle's area split equally among its three vertices). The
    classification alone is ~6 % low at contact rims (a rim triangle is half binder,
    half pore), which is why it only sets the shares.

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
from uqtwin.quantities._mesh import DEFAULT_ITERATIONS, boundary_mesh, triangle_areas
from uqtwin.quantities._phases import find_phase
from uqtwin.quantities.base import Output, Quantity
from uqtwin.quantities.interfaces import interfacial_areas
from uqtwin.quantities.particle_size import particle_table, particles_of
from uqtwin.quantities.surface_area import area_cache, area_key, meshed_area
from uqtwin.volume import unit_scale

#: Bundled card with the indicative PVDF adhesion values.
DEFAULT_ADHESION_CARD = "pvdf_adhesion"


def particle_contact_areas(
    labels: np.ndarray,
    spacing: Sequence[float],
    particles: np.ndarray,
    active: int,
    binder: int,
    *,
    smoothing_iterations: int = DEFAULT_ITERATIONS,
    cache: dict | None = None,
) -> tuple[np.ndarray, float]:
    """Active|binder contact area of every particle.

    Parameters
    ----------
    labels : ndarray of int, shape (nz, ny, nx)
        Phase index of every voxel.
    spacing : sequence of 3 floats
        Voxel size along (z, y, x), in length units.
    particles : ndarray of int, shape (nz, ny, nx)
        Particle labels of the active phase (1..n, 0 elsewhere).
    active, binder : int
        Phase indices of the active material and the binder.
    smoothing_iterations : int
        Constrained Taubin iterations of the meshes.
    cache : dict, optional
        Boundary areas already measured on these labels
        (:func:`~uqtwin.quantities.surface_area.area_cache`), reused and extended (the
        active phase's area comes from the mesh its vertices are classified on).

    Returns
    -------
    per_particle : ndarray of float, shape (n,)
        Contact area of particle k at index k − 1, length unit².
    total : float
        Total active|binder interface area (inclusion–exclusion), length unit².
    """
    labels = np.asarray(labels)
    n = int(particles.max())
    cache = {} if cache is None else cache
    mesh = boundary_mesh(labels == active, spacing, iterations=smoothing_iterations)
    tri = triangle_areas(mesh, labels.shape, spacing) if len(mesh.faces) else np.zeros(0)
    # The active phase's boundary area is this mesh's (the same number boundary_area
    # gives): the interface area and the coverage need it, and meshing the same mask
    # again would cost as much as this one did.
    cache.setdefault(area_key(frozenset({active}), smoothing_iterations), float(tri.sum()))
    total = float(
        interfacial_areas(
            labels, spacing, [(active, binder)], smoothing_iterations=smoothing_iterations,
            n_phases=max(int(labels.max()) + 1, active + 1, binder + 1), cache=cache,
        )[0]
    )
    per = np.zeros(n)
    if len(mesh.faces) == 0 or n == 0:
        return per, total
    vertex_area = np.zeros(len(mesh.verts))
    for k in range(3):
        vertex_area += np.bincount(mesh.faces[:, k], weights=tri, minlength=len(mesh.verts))
    vertex_area /= 3.0
    on_binder = labels.ravel()[mesh.outside] == binder
    owner = particles.ravel()[mesh.inside][on_binder]
    classified = np.bincount(owner, weights=vertex_area[on_binder], minlength=n + 1)[1:]
    if classified.sum() > 0:
        per = classified * (total / classified.sum())
    return per, total


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
    particles = particles_of(ms, active, h)
    cache = area_cache(ms)
    per, total = particle_contact_areas(ms.labels, ms.spacing, particles, active, binder,
                                        cache=cache)
    table = particle_table(particles, ms.spacing, with_sphericity=False)
    per = per[table["label"] - 1]
    keep = ~table["border"] if exclude_border else np.ones(len(per), bool)
    per = per[keep]
    surface = meshed_area(ms.labels, ms.spacing, frozenset({active}), cache=cache)
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

"""Known answers for the morphology quantities (issue 5)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage as ndi

from uqtwin.microstructure import Microstructure
from uqtwin.morphology import distance, thickness
from uqtwin.quantities import pore_size as ps
from uqtwin.quantities.binder_contact import particle_contact_areas
from uqtwin.quantities.connectivity import cluster_fractions
from uqtwin.quantities.interfaces import interfacial_areas
from uqtwin.quantities.particle_size import particle_diameters, segment_particles
from uqtwin.quantities.registry import compute_quantities
from uqtwin.solvers import bruggeman_exponent


def _balls(shape, centres, radii, spacing=(1.0, 1.0, 1.0)):
    """Union of balls given in physical units, sampled at voxel centres."""
    z, y, x = (np.arange(n) * s for n, s in zip(shape, spacing, strict=True))
    z, y, x = z[:, None, None], y[None, :, None], x[None, None, :]
    out = np.zeros(shape, bool)
    for (cz, cy, cx), r in zip(centres, radii, strict=True):
        out |= (z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2 <= r * r
    return out


# ---------------------------------------------------------------- local thickness


@pytest.mark.parametrize("radius", [5, 9])
def test_local_thickness_of_spherical_pores_peaks_at_the_radius(radius):
    n = 2 * radius + 6
    mask = _balls((n, n, n), [(n / 2 - 0.3,) * 3], [radius])
    lt = ps.local_thickness(mask)[mask]
    edges = np.arange(0.0, 2 * radius + 6, 1.0)
    peak = edges[np.argmax(np.histogram(lt, edges)[0])] + 0.5
    assert abs(peak / 2 - radius) <= 1.0


def test_two_size_packing_gives_two_modes():
    mask = _balls((40, 40, 70), [(20, 20, 14), (20, 20, 50)], [4, 11])
    lt = ps.local_thickness(mask)[mask]
    hist, edges = np.histogram(lt, np.arange(0.0, 30.0, 1.0))
    modes = [i for i in range(1, len(hist) - 1) if hist[i] > 0 and hist[i] >= hist[i - 1]
             and hist[i] >= hist[i + 1]]
    centres = edges[modes] + 0.5
    assert len(modes) == 2
    assert abs(centres[0] / 2 - 4) <= 1 and abs(centres[1] / 2 - 11) <= 1


def test_pruned_painting_equals_painting_every_ball():
    rng = np.random.default_rng(3)
    mask = ndi.gaussian_filter(rng.random((30, 32, 34)), 2) > 0.5
    spacing = np.array([1.0, 0.7, 1.3])
    dt = ndi.distance_transform_edt(mask, sampling=spacing)
    every = np.flatnonzero(dt)
    brute = 2 * thickness._paint(mask.shape, every, dt.ravel()[every], spacing)
    brute[~mask] = 0  # the float ball test can reach background at exactly a radius
    assert np.array_equal(ps.local_thickness(mask, spacing), brute)


def _paint_every_integer_ball(mask, scale):
    """Reference for isotropic voxels: every pore voxel c paints the integer ball
    |p - c|^2 < D(c) (D: squared EDT in voxels) with scale * sqrt(D(c))."""
    return _paint_integer_balls(np.rint(ndi.distance_transform_edt(mask) ** 2), scale)


def _paint_integer_balls(r2, scale):
    """Every voxel c with r2[c] > 0 paints |p - c|^2 < r2[c] with scale * sqrt(r2[c]);
    the running maximum, doubled (a diameter)."""
    r2 = r2.astype(np.int64)
    grid = np.indices(r2.shape)
    out = np.zeros(r2.shape, np.float32)
    for c in zip(*np.nonzero(r2), strict=True):
        inside = sum((g - ci) ** 2 for g, ci in zip(grid, c, strict=True)) < r2[c]
        out[inside] = np.maximum(out[inside], np.float32(scale * math.sqrt(r2[c])))
    return 2 * out


@pytest.mark.parametrize("scale", [1.0, 0.39])
def test_isotropic_path_equals_painting_every_integer_ball(scale):
    rng = np.random.default_rng(7)
    mask = ndi.gaussian_filter(rng.random((17, 18, 19)), 1.5) > 0.5
    mask[2:9, 3:11, 4:12] = True  # one larger pore, so that balls overlap slab borders
    lt = ps.local_thickness(mask, (scale,) * 3)
    assert np.array_equal(lt, _paint_every_integer_ball(mask, scale))
    assert not lt[~mask].any()  # strict balls never reach a solid voxel
    # The squared EDT is exact: its square root is scipy's distance, bit for bit.
    d2 = distance.squared_edt(mask)
    assert np.array_equal(np.sqrt(d2.astype(np.float64)), ndi.distance_transform_edt(mask))


def test_exact_containment_table_against_enumeration():
    table = thickness._containment_table(30, thickness._CLASSES)
    q = np.stack(np.meshgrid(*[np.arange(-6, 7)] * 3, indexing="ij"), -1).reshape(-1, 3)
    q2 = (q**2).sum(1)
    for k, e in enumerate(thickness._CLASSES):
        for d in range(1, 31):
            assert table[k, d] == ((q[q2 < d] - e) ** 2).sum(1).max()


def test_intrusion_is_limited_by_the_throat_and_skips_isolated_pores():
    # A big chamber reached from the z- face through a thin channel, and a big pore
    # with no path to the inlet.
    mask = _balls((60, 40, 40), [(30, 20, 20)], [10])
    mask[0:22, 19:22, 19:22] = True  # 3-voxel channel from the inlet to the chamber
    isolated = _balls((60, 40, 40), [(52, 20, 20)], [5])
    mask |= isolated
    intr = ps.intrusion_size(mask, face="z-")
    lt = ps.local_thickness(mask)
    chamber = _balls((60, 40, 40), [(30, 20, 20)], [6])
    # Through the channel only balls of the channel's size pass.
    channel_size = lt[5, 20, 20]
    assert np.allclose(intr[chamber], channel_size)
    assert lt[chamber].min() > 3 * channel_size
    assert np.all(intr[isolated] == 0)
    # From the far side the isolated pore is still cut off, the chamber unreachable.
    assert np.all(ps.intrusion_size(mask, face="z+")[chamber] == 0)


def _intrusion_reference(mask, scale):
    """Every centre paints its integer ball |p - c|^2 < A(c), A(c) the largest squared
    EDT level L whose set {D >= L} joins c to the z- face (26-connected), found level by
    level with ndimage.label."""
    d2 = np.rint(ndi.distance_transform_edt(mask) ** 2).astype(np.int64)
    access = np.zeros(mask.shape, np.int64)
    for level in np.unique(d2[d2 > 0]):
        lab, _ = ndi.label(d2 >= level, np.ones((3, 3, 3)))
        reached = np.isin(lab, np.unique(lab[0][lab[0] > 0]))
        access[reached] = level
    return _paint_integer_balls(access, scale)


@pytest.mark.parametrize("scale", [1.0, 0.39])
def test_intrusion_ties_at_the_radius_are_not_painted(scale):
    # Random pores: many voxels lie at exactly the bottleneck radius from a centre, where
    # the float test on sqrt(D) can round either way (it painted 791 of the 3150 solid
    # voxels of this volume); the integer test |p - c|^2 < A never does.
    rng = np.random.default_rng(1)
    mask = ndi.gaussian_filter(rng.random((18, 19, 20)), 1.5) > 0.5
    intr = ps.intrusion_size(mask, (scale,) * 3, face="z-")
    assert not intr[~mask].any()
    assert np.array_equal(intr, _intrusion_reference(mask, scale))


def test_pore_size_quantity_and_anisotropic_spacing():
    radius = 8.0
    iso = _balls((24, 24, 24), [(11.7, 11.7, 11.7)], [radius])
    aniso = _balls((24, 24, 12), [(11.7, 11.7, 11.7)], [radius], spacing=(1, 1, 2))
    out = {}
    for name, mask, spacing in (("iso", iso, (1, 1, 1)), ("aniso", aniso, (1, 1, 2))):
        ms = Microstructure((~mask).astype(np.uint8), spacing, "um", ("pore", "solid"))
        ds = compute_quantities(ms, ["pore_size_distribution"], options={
            "pore_size_distribution": {"bins": np.arange(0.0, 30.0, 2.0)}})
        assert ds["pore_size_distribution"].dims == ("bin",)
        assert float(ds["pore_size_distribution"].sum()) == pytest.approx(1.0)
        assert ds["mean_pore_diameter"].attrs["units"] == "um"
        out[name] = float(ds["mean_pore_diameter"])
    # The same physical pore: the same size within one (coarse) voxel.
    assert abs(out["iso"] - out["aniso"]) <= 2.0
    assert abs(out["iso"] / 2 - radius) <= 1.0


@pytest.mark.parametrize("spacing", [(0.5, 0.5, 0.5), (1.0, 0.7, 1.3)])
def test_pore_sizes_share_one_distance_transform(monkeypatch, spacing):
    rng = np.random.default_rng(5)
    pore = ndi.gaussian_filter(rng.random((26, 28, 30)), 2) > 0.5
    ms = Microstructure((~pore).astype(np.uint8), spacing, "um", ("pore", "solid"))
    edges = ps.default_bins(ms.shape, spacing)
    lt = ps.local_thickness(pore, spacing)[pore]
    intr = ps.intrusion_size(pore, spacing, face="z-")[pore]
    calls = []

    def counted(transform):
        def wrapper(*args):
            calls.append(transform.__name__)
            return transform(*args)
        return wrapper

    for name in ("distance", "squared_edt"):
        monkeypatch.setattr(distance, name, counted(getattr(distance, name)))
    ds = compute_quantities(ms, ["pore_size_distribution"])
    assert len(calls) == 1
    # the same numbers as the two sizes computed on their own, each with its own EDT
    n = int(pore.sum())
    assert np.array_equal(ds["pore_size_distribution"].values,
                          ps.binned_fractions(lt, None, edges) / n)
    assert np.array_equal(ds["pore_intrusion_distribution"].values,
                          ps.binned_fractions(intr[intr > 0], None, edges) / n)
    assert float(ds["mean_pore_diameter"]) == float(lt.mean(dtype=np.float64))


# ---------------------------------------------------------------- particles


def test_separated_spheres_equivalent_diameters():
    radii = [5, 8, 12]
    mask = _balls((40, 40, 110), [(20, 20, 12), (20, 20, 37), (20, 20, 80)], radii)
    d = particle_diameters(mask)
    assert np.sort(d) == pytest.approx(2 * np.asarray(radii, float), rel=0.02)


def test_touching_spheres_are_split_in_two():
    mask = _balls((40, 40, 60), [(20, 20, 20), (20.3, 20, 38)], [10, 10])
    assert ndi.label(mask)[1] == 1
    particles = segment_particles(mask)
    assert particles.max() == 2
    sizes = np.bincount(particles.ravel())[1:]
    assert sizes.min() / sizes.max() > 0.95


def test_border_particles_are_flagged_and_excluded():
    mask = _balls((30, 30, 60), [(15, 15, 15), (15, 15, 55)], [6, 8])
    assert len(particle_diameters(mask)) == 1
    assert len(particle_diameters(mask, exclude_border=False)) == 2


def test_stretched_particles_keep_their_physical_size():
    centres = [(20, 20, 14), (20, 20, 44)]
    iso = _balls((40, 40, 60), centres, [7, 10])
    aniso = _balls((40, 40, 30), centres, [7, 10], spacing=(1, 1, 2))
    d_iso = np.sort(particle_diameters(iso))
    d_aniso = np.sort(particle_diameters(aniso, (1, 1, 2)))
    assert d_aniso == pytest.approx(d_iso, rel=0.03)
    assert d_aniso == pytest.approx([14, 20], rel=0.03)


# ---------------------------------------------------------------- interfaces, contact


def test_cube_resting_on_a_slab_contact_area():
    labels = np.zeros((40, 40, 40), np.uint8)
    labels[:10] = 2  # binder slab
    labels[10:22, 14:26, 14:26] = 1  # active cube, 12 voxels wide
    particles = (labels == 1).astype(np.int32)
    per, total = particle_contact_areas(labels, (1, 1, 1), particles, 1, 2)
    assert total == pytest.approx(144.0, rel=5e-3)
    assert per[0] == pytest.approx(total)
    spacing = (0.5, 0.25, 0.2)
    _, total = particle_contact_areas(labels, spacing, particles, 1, 2)
    assert total == pytest.approx(144.0 * 0.25 * 0.2, rel=5e-3)


def test_interfaces_of_a_half_coated_ball():
    n, R = 48, 10.0
    c = n / 2 - 0.5 + 0.23
    z, y, x = np.ogrid[:n, :n, :n]
    r2 = (z - c) ** 2 + (y - c) ** 2 + (x - c) ** 2
    labels = np.zeros((n, n, n), np.uint8)
    zc = math.floor(c) + 0.5
    labels[(r2 <= (1.5 * R) ** 2) & (z > zc)] = 2
    labels[r2 <= R * R] = 1
    hcut = zc - c
    ab = 2 * math.pi * R * (R - hcut)
    ap = 4 * math.pi * R * R - ab
    R2 = 1.5 * R
    bp = 2 * math.pi * R2 * (R2 - hcut) + math.pi * (R2 * R2 - R * R)
    got = interfacial_areas(labels, (1, 1, 1), [(0, 1), (0, 2), (1, 2)])
    assert got == pytest.approx([ap, bp, ab], rel=0.03)


def test_binder_contact_reuses_the_surfaces_already_meshed(monkeypatch):
    from uqtwin.morphology import areas, boundaries, mesh
    from uqtwin.quantities import surface_area

    mask = _balls((36, 36, 36), [(18, 18, 11), (18, 18, 25)], [6.5, 6.5])
    labels = mask.astype(np.uint8) * 2
    labels[(~mask) & (ndi.distance_transform_edt(~mask) <= 1.5) & (np.arange(36) > 17)] = 1
    spacing = (0.4, 0.4, 0.4)
    phases = ("pore", "binder", "active")
    alone = Microstructure(labels, spacing, "um", phases)
    particles = alone.cache.particles(2)
    # reference numbers: every surface meshed on its own
    total = float(interfacial_areas(labels, spacing, [(2, 1)], n_phases=3)[0])
    surface = surface_area.boundary_area(labels == 2, spacing)
    per, total_shared = particle_contact_areas(labels, spacing, particles, 2, 1)
    assert total_shared == total

    meshed = []

    def counting(mask, *args, **kwargs):
        meshed.append(int(mask.sum()))
        return mesh.boundary_mesh(mask, *args, **kwargs)

    monkeypatch.setattr(areas, "boundary_mesh", counting)
    monkeypatch.setattr(boundaries, "boundary_mesh", counting)
    ms = Microstructure(labels, spacing, "um", phases)
    compute_quantities(ms, ["specific_surface_area"])
    assert len(meshed) == 3
    ds = compute_quantities(ms, ["binder_contact"])
    # only the active mesh whose vertices are classified is built again
    assert meshed[3:] == [int((labels == 2).sum())]
    assert float(ds["binder_coverage"]) == total / surface
    assert float(ds["specific_binder_contact_area"]) == total / ms.total_volume
    assert float(ds["mean_particle_contact_area"]) == float(per.mean())
    # alone it meshes the three surfaces of the interface area, the active one serving
    # the vertex classification too
    meshed.clear()
    ds_alone = compute_quantities(alone, ["binder_contact"])
    assert len(meshed) == 3
    for name in ds.data_vars:
        assert float(ds_alone[name]) == float(ds[name])


# ---------------------------------------------------------------- connectivity


def test_connectivity_of_a_hand_made_network():
    m = np.zeros((10, 10, 10), bool)
    m[:, 1, 1] = True  # rod through z: percolating along z (10 voxels)
    m[0:4, 5, 5] = True  # dead end from z- (4 voxels)
    m[4:6, 8, 8] = True  # isolated along z (2 voxels), touches no face at all
    f = cluster_fractions(m, 6)
    assert f[0] == pytest.approx([10 / 16, 4 / 16, 2 / 16])
    # Along y and x no cluster touches the faces normal to them except via x/y = 0/9.
    assert np.allclose(f.sum(axis=1), 1.0)
    assert f[1] == pytest.approx([0.0, 0.0, 1.0])


def test_diagonal_path_percolates_only_under_26_connectivity():
    m = np.zeros((4, 4, 4), bool)
    for k in range(4):
        m[k, k, 1] = True  # a staircase along z touching only along edges
    assert cluster_fractions(m, 26)[0, 0] == 1.0
    assert cluster_fractions(m, 6)[0, 0] == 0.0
    # Dual convention: the pore is face-connected (no flux through an edge), solids are
    # 26-connected, so the same staircase percolates as a solid and not as a pore.
    as_pore = Microstructure(m.astype(np.uint8), (1, 1, 1), "um", ("active", "pore"))
    as_solid = Microstructure(m.astype(np.uint8), (1, 1, 1), "um", ("pore", "active"))
    ds_pore = compute_quantities(as_pore, ["connectivity"])
    ds_solid = compute_quantities(as_solid, ["connectivity"])
    assert ds_pore["percolating_fraction"].dims == ("phase", "axis")
    assert float(ds_pore["percolating_fraction"].sel(phase="pore", axis="z")) == 0.0
    assert float(ds_solid["percolating_fraction"].sel(phase="active", axis="z")) == 1.0


# ---------------------------------------------------------------- cell parameters


def test_bruggeman_exponent_round_trip():
    eps = np.array([0.3, 0.45, 0.6])
    tau = eps ** (1 - 1.5)
    assert bruggeman_exponent(eps, tau) == pytest.approx([1.5, 1.5, 1.5])
    assert bruggeman_exponent(eps, tau, pooled=True) == pytest.approx(1.5)
    assert np.isnan(bruggeman_exponent(0.4, np.inf))


def test_all_morphology_quantities_on_a_three_phase_volume():
    mask = _balls((40, 40, 40), [(20, 20, 12), (20, 20, 28)], [7, 7])
    labels = mask.astype(np.uint8)
    labels[(~mask) & (ndi.distance_transform_edt(~mask) <= 1.5)] = 2
    ms = Microstructure(labels, (0.4, 0.4, 0.4), "um", ("pore", "active", "binder"))
    names = ["specific_interfacial_area", "particle_size_distribution", "binder_contact",
             "cell_parameters", "connectivity", "pore_size_distribution"]
    ds = compute_quantities(ms, names)
    assert list(ds["specific_interfacial_area"].pair.values) == [
        "pore|active", "pore|binder", "active|binder"]
    assert float(ds["particle_count"]) == 2
    assert float(ds["mean_particle_diameter"]) == pytest.approx(14 * 0.4, rel=0.03)
    assert float(ds["binder_coverage"]) > 0.8
    assert ds["mean_particle_adhesion_force"].attrs["units"] == "N"
    assert float(ds["mean_particle_adhesion_energy"]) > 0
    assert float(ds["porosity"]) == pytest.approx(float(np.mean(labels == 0)))


# ---------------------------------------------------------------- derived: Bruggeman


def test_bruggeman_exponent_is_derived_from_porosity_and_tortuosity():
    from uqtwin.errors import ConfigError

    labels = np.ones((12, 12, 12), np.uint8)  # solid
    labels[:, :6, :] = 0  # a pore slab: straight channels along z and x, blocked along y
    ms = Microstructure(labels, (1, 1, 1), "um", ("pore", "active"))
    ds = compute_quantities(ms, ["bruggeman_exponent", "volume_fraction", "tortuosity_factor"],
                            phases=["pore"])
    b = ds["bruggeman_exponent"]
    # τ = 1 along z and x (straight), ε = 0.5: b = 1 - ln 1 / ln 0.5 = 1; no path along y.
    assert b.sel(axis="z") == pytest.approx(1.0, abs=1e-5)
    assert b.sel(axis="x") == pytest.approx(1.0, abs=1e-5)
    assert np.isnan(b.sel(axis="y"))
    with pytest.raises(ConfigError, match="add 'tortuosity_factor'"):
        compute_quantities(ms, ["bruggeman_exponent", "volume_fraction"])


def test_connectivity_quantity_of_a_large_volume_is_labelled_chunk_by_chunk(monkeypatch):
    """Above CHUNKED_VOXELS the quantity labels chunk by chunk; forced here: same numbers."""
    from uqtwin.microstructure import Microstructure
    from uqtwin.phantoms import spheres_with_binder
    from uqtwin.quantities import connectivity

    labels = spheres_with_binder((40, 36, 44), seed=7)
    ms = Microstructure(labels, (0.5, 0.5, 0.5), "um", ("pore", "binder", "active"))
    whole = connectivity.phase_connectivity(ms)
    monkeypatch.setattr(connectivity, "CHUNKED_VOXELS", 0)
    monkeypatch.setattr(connectivity, "CHUNK", 16)
    chunked = connectivity.phase_connectivity(ms)
    for name in whole:
        np.testing.assert_array_equal(chunked[name].values, whole[name].values)
    assert np.isfinite(whole["percolating_fraction"].values).all()

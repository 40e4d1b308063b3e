"""The public geometry API (uqtwin.morphology): its doctests and known answers."""

from __future__ import annotations

import doctest
import importlib
import math

import numpy as np
import pytest

import uqtwin.morphology as morphology

#: Modules whose docstring Examples are run (the public API and the quantity modules
#: that re-export or wrap it).
DOCTESTED = (
    "uqtwin.morphology.areas",
    "uqtwin.morphology.bins",
    "uqtwin.morphology.boundaries",
    "uqtwin.morphology.components",
    "uqtwin.morphology.contacts",
    "uqtwin.morphology.intrusion",
    "uqtwin.morphology.mesh",
    "uqtwin.morphology.particles",
    "uqtwin.morphology.thickness",
    "uqtwin.solvers.relations",
    "uqtwin.quantities.surface_area",
)


@pytest.mark.parametrize("name", DOCTESTED)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0
    assert result.attempted > 0


def test_every_public_function_has_an_example():
    for name in morphology.__all__:
        obj = getattr(morphology, name)
        if callable(obj) and not isinstance(obj, type):
            assert "Examples" in (obj.__doc__ or ""), name


def _ball(shape, radius, centre, spacing=(1.0, 1.0, 1.0)):
    axes = [(np.arange(n) * s)[tuple(slice(None) if d == k else None for d in range(3))]
            for k, (n, s) in enumerate(zip(shape, spacing, strict=True))]
    return sum((a - c) ** 2 for a, c in zip(axes, centre, strict=True)) <= radius**2


@pytest.mark.parametrize(("radius", "spacing"), [(8.0, 1.0), (12.0, 0.25)])
def test_sphere_area_within_the_estimators_known_error(radius, spacing):
    # +0.8 to +0.9 % on balls of radius 3-20 voxels (uqtwin.morphology.areas)
    r = radius * spacing
    n = int(2 * radius + 8)
    mask = _ball((n, n, n), r, (n / 2 * spacing + 0.13 * spacing,) * 3, (spacing,) * 3)
    area = morphology.surface_area(mask, (spacing,) * 3)
    assert 1.0 < area / (4 * math.pi * r * r) < 1.015


def test_slab_local_thickness_equals_its_width():
    slab = np.zeros((16, 24, 10), bool)
    slab[:, 5:15, :] = True  # 10 voxels of 0.3 um wide, along y
    lt = morphology.local_thickness(slab, (0.3, 0.3, 0.3))
    assert lt.shape == slab.shape
    assert np.allclose(lt[slab], 3.0) and not lt[~slab].any()


def test_two_separated_spheres_are_two_particles():
    a = _ball((30, 30, 60), 8, (15, 15, 14))
    b = _ball((30, 30, 60), 9, (15, 15, 44))
    labels = morphology.particle_labels(a | b, (1.0, 1.0, 1.0))
    assert np.issubdtype(labels.dtype, np.integer)
    assert labels.max() == 2
    assert len(np.unique(labels[a])) == 1 and len(np.unique(labels[b])) == 1
    assert labels[a][0] != labels[b][0] and not labels[~(a | b)].any()


def test_quantities_use_the_same_estimators():
    from uqtwin.microstructure import Microstructure
    from uqtwin.quantities.registry import compute_quantities

    mask = _ball((30, 30, 30), 9, (14.6, 15.2, 14.9))
    ms = Microstructure(mask.astype(np.uint8), (0.5, 0.5, 0.5), "um", ("pore", "active"))
    ds = compute_quantities(ms, ["specific_surface_area", "particle_size_distribution"])
    # a phase and its complement share their boundary: the first in phase order is meshed
    area = morphology.surface_area(~mask, (0.5, 0.5, 0.5))
    assert float(ds["specific_surface_area"].sel(phase="active")) == area / ms.total_volume
    assert np.array_equal(ms.cache.particles(1), morphology.particle_labels(mask, ms.spacing))
    assert float(ds["particle_count"]) == 1


def test_the_sample_cache_computes_each_intermediate_once(monkeypatch):
    from uqtwin.microstructure import Microstructure
    from uqtwin.morphology import particles

    calls = []
    real = particles.particle_labels

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(particles, "particle_labels", counting)
    mask = _ball((20, 20, 20), 6, (10, 10, 10))
    ms = Microstructure(mask.astype(np.uint8), (1, 1, 1), "um", ("pore", "active"))
    first = ms.cache.particles(1)
    assert ms.cache.particles(1) is first and len(calls) == 1
    area = ms.cache.boundary_areas.union(frozenset({1}), 2)
    assert ms.cache.boundary_areas.union(frozenset({0}), 2) == area  # complement: same mesh


def test_surface_area_by_chunks_converges_to_the_whole_with_the_halo():
    """Known answer: the whole volume's area; the error falls with the halo to rounding."""
    from scipy import ndimage

    from uqtwin.morphology import phase_counts_by_chunks, surface_area, surface_area_by_chunks

    rng = np.random.default_rng(0)
    mask = ndimage.gaussian_filter(rng.random((48, 40, 56)), 2.5) > 0.5
    spacing = (0.7, 0.5, 0.5)
    whole = surface_area(mask, spacing)
    errors = [abs(surface_area_by_chunks(mask, spacing, chunk=16, halo=h) - whole) / whole
              for h in (2, 8, 16)]
    assert errors[0] > 1e-7 and errors[1] < 1e-6 and errors[2] < 1e-12
    # a lazily held volume (dask) is sliced chunk by chunk
    da = pytest.importorskip("dask.array")
    lazy = da.from_array(mask, chunks=(16, 20, 28))
    assert surface_area_by_chunks(lazy, spacing, chunk=24) == pytest.approx(whole, rel=1e-12)
    labels = mask.astype(np.uint8)
    assert phase_counts_by_chunks(lazy.astype(np.uint8), 2, chunk=20).tolist() == \
        np.bincount(labels.ravel()).tolist()


def test_local_thickness_never_paints_the_background_with_unequal_spacings():
    """Float rounding in the anisotropic ball test once painted background voxels lying at
    exactly a ball's radius (219 of them on this blob)."""
    import numpy as np
    from scipy import ndimage

    from uqtwin.morphology import local_thickness

    rng = np.random.default_rng(3)
    blob = ndimage.gaussian_filter(rng.random((25, 19, 15)), 2.0) > 0.5
    lt = local_thickness(blob, (1.0, 0.8, 1.3))
    assert blob.any() and (~blob).any()
    assert not lt[~blob].any()
    assert (lt[blob] > 0).all()

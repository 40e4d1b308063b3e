"""Phantom generators and the image model: shapes, fractions, noise levels, determinism."""

from __future__ import annotations

import time

import numpy as np
import pytest

from uqtwin.errors import VolumeError
from uqtwin.phantoms import (
    ACTIVE,
    BINDER,
    PORE,
    calendered_ellipsoids,
    image_phantom,
    spheres_with_binder,
)
from uqtwin.volume import spacing_of, unit_of


@pytest.mark.parametrize("generator", [spheres_with_binder, calendered_ellipsoids])
def test_generators_hit_porosity_fast_and_deterministic(generator):
    t0 = time.perf_counter()
    labels = generator((64, 64, 64), porosity=0.4, seed=3)
    assert time.perf_counter() - t0 < 2.0
    assert labels.dtype == np.uint8 and labels.shape == (64, 64, 64)
    frac = np.bincount(labels.ravel(), minlength=3) / labels.size
    assert abs(frac[PORE] - 0.4) < 0.02
    assert frac[BINDER] > 0.03 and frac[ACTIVE] > 0.3
    np.testing.assert_array_equal(labels, generator((64, 64, 64), porosity=0.4, seed=3))
    assert not np.array_equal(labels, generator((64, 64, 64), porosity=0.4, seed=4))


def test_binder_sits_on_the_particles():
    labels = spheres_with_binder((48, 48, 48), seed=1, binder_thickness=1.0)
    active = labels == ACTIVE
    near = np.zeros_like(active)
    for ax in range(3):
        near |= np.roll(active, 1, ax) | np.roll(active, -1, ax)
    binder = labels == BINDER
    # The film is grown from the active surface: most binder voxels touch a particle.
    assert np.mean(near[binder]) > 0.6


def test_calendering_flattens_particles_along_z():
    labels = calendered_ellipsoids((48, 64, 64), flattening=0.5, porosity=0.5,
                                   binder_thickness=0.0, seed=0)
    solid = (labels == ACTIVE).astype(float)
    # Chord lengths: the solid changes phase more often along z (short axis) than along x.
    changes_z = np.mean(solid[1:] != solid[:-1])
    changes_x = np.mean(solid[:, :, 1:] != solid[:, :, :-1])
    assert changes_z > 1.5 * changes_x


def test_image_phantom_noise_and_attrs():
    labels = np.zeros((32, 32, 32), dtype=np.uint8)
    labels[:, :, 16:] = 1
    vol = image_phantom(labels, [50.0, 150.0], spacing=(0.5, 0.4, 0.4), unit="nm",
                        blur_sigma=0.0, read_noise=4.0, seed=0)
    assert vol.dtype == np.float32 and vol.dims == ("z", "y", "x")
    assert spacing_of(vol) == (0.5, 0.4, 0.4) and unit_of(vol) == "nm"
    v = vol.values
    assert abs(v[:, :, :16].mean() - 50) < 0.2 and abs(v[:, :, :16].std() - 4) < 0.1
    # Photon noise: relative sd 1/sqrt(counts) in each phase.
    vol = image_phantom(labels, [50.0, 150.0], blur_sigma=0.0, photons=400, seed=1)
    counts_hi = 400 * 150 / 100  # mean grey is 100 -> scale 4 counts per grey unit
    rel = vol.values[:, :, 16:].std() / 150
    assert rel == pytest.approx(1 / np.sqrt(counts_hi), rel=0.05)


def test_partial_volume_and_drift():
    labels = np.zeros((8, 8, 8), dtype=np.uint8)
    labels[:, :, 5:] = 1  # fine-grid interface inside output voxel x = 2 (fine 4..5)
    vol = image_phantom(labels, [0.0, 100.0], blur_sigma=0.0, supersample=2).values
    assert vol.shape == (4, 4, 4)
    np.testing.assert_allclose(vol[0, 0], [0, 0, 50, 100])
    flat = image_phantom(np.zeros((5, 4, 4), np.uint8), [100.0], blur_sigma=0.0,
                         drift=0.2).values
    np.testing.assert_allclose(flat[:, 0, 0], [90, 95, 100, 105, 110], rtol=1e-6)


def test_image_phantom_rejects_bad_labels():
    with pytest.raises(VolumeError, match="grey means"):
        image_phantom(np.full((4, 4, 4), 3, np.uint8), [0.0, 1.0])
    with pytest.raises(VolumeError, match="supersample"):
        image_phantom(np.zeros((5, 4, 4), np.uint8), [0.0], supersample=2)

"""Connectivity and local thickness chunk by chunk (issue 13): equal to the whole volume.

Known answers: the whole-volume functions (cluster_fractions, percolates, local_thickness)
on random blobs and tf_electrode crops, bit for bit, on chunkings that do not divide the
shape, 1-voxel chunks and anisotropic voxels; an independent count of cluster fractions.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from uqtwin.errors import ConfigError, VolumeError
from uqtwin.morphology import (
    cluster_fractions_by_chunks,
    largest_radius_by_chunks,
    local_thickness,
    local_thickness_by_chunks,
    percolates,
    percolates_by_chunks,
    thickness_histogram_by_chunks,
)
from uqtwin.morphology.bins import binned_fractions, default_bins
from uqtwin.morphology.chunked_components import voxels_by_faces_touched
from uqtwin.morphology.chunked_thickness import thickness_halo
from uqtwin.morphology.distance import distance
from uqtwin.quantities.connectivity import cluster_fractions

CHUNKS = [4, (3, 7, 5), (16, 2, 9), 100]
SPACINGS = [(1.0, 1.0, 1.0), (0.39, 0.39, 0.39), (1.0, 0.8, 1.3), (0.3, 0.7, 0.7)]


def _blobs(shape, porosity, sigma, seed):
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.random(shape), sigma)
    return field > np.quantile(field, 1.0 - porosity)


def _reference_faces(mask, rank):
    """Voxels by set of box faces touched, counted cluster by cluster (independent of
    uqtwin); bit 2 * axis + side."""
    lab, n = ndimage.label(mask, ndimage.generate_binary_structure(3, rank))
    out = np.zeros(64, np.int64)
    for k in range(1, n + 1):
        cl = lab == k
        bits = sum(1 << (2 * ax + side) for ax in range(3) for side, at in enumerate((0, -1))
                   if np.take(cl, at, axis=ax).any())
        out[bits] += cl.sum()
    return out


def _reference_fractions(mask, rank):
    """Cluster fractions from :func:`_reference_faces`."""
    faces = _reference_faces(mask, rank)
    out = np.zeros((3, 3))
    for bits, voxels in enumerate(faces):
        for ax in range(3):
            out[ax, 2 - ((bits >> 2 * ax) & 1) - ((bits >> (2 * ax + 1)) & 1)] += voxels
    return out / mask.sum()


# --- connectivity ------------------------------------------------------------------------


@pytest.mark.parametrize("connectivity", [6, 26])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cluster_fractions_equal_the_whole_volume(connectivity, seed):
    mask = _blobs((23, 17, 29), 0.3 + 0.15 * seed, 1.0, seed)
    whole = cluster_fractions(mask, connectivity)
    np.testing.assert_allclose(whole, _reference_fractions(mask, {6: 1, 26: 3}[connectivity]),
                               rtol=1e-12)
    for chunk in CHUNKS:
        assert np.array_equal(cluster_fractions_by_chunks(mask, connectivity, chunk=chunk),
                              whole), chunk


@pytest.mark.parametrize("connectivity", [6, 18, 26])
def test_one_voxel_chunks_on_a_tiny_volume(connectivity):
    rank = {6: 1, 18: 2, 26: 3}[connectivity]
    for seed in range(4):
        mask = np.random.default_rng(seed).random((5, 6, 7)) < 0.45
        got = cluster_fractions_by_chunks(mask, connectivity, chunk=1)
        np.testing.assert_allclose(got, _reference_fractions(mask, rank), rtol=1e-12)
        expect = _reference_faces(mask, rank)
        for chunk in (1, (2, 3, 1), 100):
            got = voxels_by_faces_touched(mask, connectivity, chunk=chunk)
            assert np.array_equal(got, expect), chunk


def test_clusters_meeting_only_at_chunk_corners_and_edges():
    # a diagonal line of voxels crosses a chunk corner at every step
    mask = np.zeros((8, 8, 8), bool)
    for i in range(8):
        mask[i, i, i] = True
    assert cluster_fractions_by_chunks(mask, 26, chunk=1)[0].tolist() == [1.0, 0.0, 0.0]
    assert cluster_fractions_by_chunks(mask, 6, chunk=1)[0].tolist() == [0.0, 0.25, 0.75]
    # anti-diagonal (y down while x up): the neighbour is in a chunk ahead along x
    mask = np.zeros((1, 8, 8), bool)
    for i in range(8):
        mask[0, i, 7 - i] = True
    assert cluster_fractions_by_chunks(mask, 26, chunk=2)[1].tolist() == [1.0, 0.0, 0.0]
    assert cluster_fractions_by_chunks(mask, 18, chunk=3)[2].tolist() == [1.0, 0.0, 0.0]


@pytest.mark.parametrize("connectivity", [6, 26])
def test_percolation_equals_the_whole_volume(connectivity):
    rank = {6: 1, 26: 3}[connectivity]
    for seed, porosity in [(3, 0.25), (4, 0.3), (5, 0.45)]:
        mask = _blobs((20, 24, 22), porosity, 1.2, seed)
        for axis in range(3):
            expect = percolates(mask, axis, connectivity=rank)
            assert percolates_by_chunks(mask, axis, connectivity, chunk=(6, 5, 7)) == expect


def test_labels_with_a_phase_memmap_and_zarr(tmp_path):
    zarr = pytest.importorskip("zarr")
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 3, (14, 15, 16)).astype(np.uint8)
    whole = cluster_fractions(labels == 2, 26)
    np.save(tmp_path / "lab.npy", labels)
    mm = np.load(tmp_path / "lab.npy", mmap_mode="r")
    z = zarr.open_array(str(tmp_path / "lab.zarr"), mode="w", shape=labels.shape,
                        chunks=(5, 5, 5), dtype=labels.dtype)
    z[:] = labels
    for source in (labels, mm, z):
        got = cluster_fractions_by_chunks(source, 26, phase=2, chunk=5)
        assert np.array_equal(got, whole)


def test_empty_and_full_masks():
    assert np.isnan(cluster_fractions_by_chunks(np.zeros((4, 5, 6), bool), chunk=2)).all()
    full = cluster_fractions_by_chunks(np.ones((4, 5, 6), bool), 6, chunk=(3, 2, 4))
    assert full[:, 0].tolist() == [1.0, 1.0, 1.0]


def test_tf_electrode_crop_connectivity(tf_electrode):
    crop = tf_electrode[:64, 40:104, 100:164]
    for value, connectivity in [(0, 6), (85, 26), (170, 26), (170, 6)]:
        whole = cluster_fractions(crop == value, connectivity)
        got = cluster_fractions_by_chunks(crop, connectivity, phase=value, chunk=(24, 30, 17))
        assert np.array_equal(got, whole), value


def test_bad_chunks_and_connectivity_are_refused():
    mask = np.ones((4, 4, 4), bool)
    for bad in (0, -2, (4, 4), (4, 0, 4), 2.5, True, "8"):
        with pytest.raises(VolumeError, match="chunk must be"):
            cluster_fractions_by_chunks(mask, chunk=bad)
        with pytest.raises(VolumeError, match="chunk must be"):
            local_thickness_by_chunks(mask, chunk=bad)
    with pytest.raises(VolumeError, match="3-D"):
        cluster_fractions_by_chunks(np.ones((4, 4), bool), chunk=2)
    with pytest.raises(ConfigError, match="connectivity"):
        cluster_fractions_by_chunks(mask, 8, chunk=2)
    with pytest.raises(VolumeError, match="halo"):
        local_thickness_by_chunks(mask, chunk=2, halo=-1)
    with pytest.raises(VolumeError, match="out has shape"):
        local_thickness_by_chunks(mask, chunk=2, out=np.zeros((4, 4, 5), np.float32))
    with pytest.raises(VolumeError, match="spacing"):
        local_thickness_by_chunks(mask, (1.0, 0.0, 1.0), chunk=2)


# --- local thickness ---------------------------------------------------------------------


@pytest.mark.parametrize("spacing", SPACINGS)
def test_local_thickness_is_bit_identical(spacing):
    for seed, shape in [(0, (21, 18, 25)), (1, (12, 26, 9))]:
        mask = _blobs(shape, 0.55, 1.5, seed)
        whole = local_thickness(mask, spacing)
        for chunk in CHUNKS[1:]:
            got = local_thickness_by_chunks(mask, spacing, chunk=chunk)
            assert got.dtype == np.float32
            assert np.array_equal(got, whole), chunk


def test_a_large_pore_among_fine_ones():
    # chunks near the large ball get a larger halo than those far from it
    shape = (36, 39, 34)
    mask = _blobs(shape, 0.5, 0.8, 12)
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    mask |= (z - 12.3) ** 2 + (y - 25.1) ** 2 + (x - 20.6) ** 2 < 9.5**2
    for spacing in SPACINGS[::2]:
        whole = local_thickness(mask, spacing)
        for chunk in (8, (9, 13, 7)):
            assert np.array_equal(local_thickness_by_chunks(mask, spacing, chunk=chunk), whole)


def test_local_thickness_one_voxel_chunks():
    mask = _blobs((5, 7, 4), 0.7, 1.0, 5)
    for spacing in SPACINGS[::2]:
        got = local_thickness_by_chunks(mask, spacing, chunk=1)
        assert np.array_equal(got, local_thickness(mask, spacing))


def test_largest_radius_and_halo():
    mask = _blobs((30, 25, 28), 0.6, 2.0, 8)
    for spacing in SPACINGS:
        expect = distance(mask, np.asarray(spacing)).max()
        assert largest_radius_by_chunks(mask, spacing, chunk=(7, 9, 6)) == pytest.approx(
            expect, rel=1e-7)
    assert largest_radius_by_chunks(np.zeros((4, 4, 4), bool), chunk=2) == 0.0
    assert largest_radius_by_chunks(np.ones((4, 4, 4), bool), chunk=2) == np.inf
    # a slab 6 voxels wide: R = 3 voxel units (1.5 with 0.5 spacing)
    slab = np.zeros((30, 12, 12), bool)
    slab[:, 3:9, :] = True
    assert largest_radius_by_chunks(slab, (0.5, 0.5, 0.5), chunk=4) == 1.5
    assert thickness_halo(3.0) == (10, 10, 10)  # 2 * 3 + 2 sqrt(3) = 9.5 voxels


def test_explicit_halo_and_zarr_output(tmp_path):
    zarr = pytest.importorskip("zarr")
    mask = _blobs((20, 22, 24), 0.5, 1.5, 9)
    spacing = (0.5, 0.4, 0.6)
    whole = local_thickness(mask, spacing)
    halo = thickness_halo(largest_radius_by_chunks(mask, spacing, chunk=8), spacing)
    out = zarr.open_array(str(tmp_path / "lt.zarr"), mode="w", shape=mask.shape,
                          chunks=(8, 8, 8), dtype="f4")
    assert local_thickness_by_chunks(mask, spacing, chunk=8, out=out, halo=halo) is out
    assert np.array_equal(out[:], whole)
    # a halo of 0 is each chunk on its own: not the whole-volume answer
    assert not np.array_equal(local_thickness_by_chunks(mask, spacing, chunk=8, halo=0), whole)


def test_local_thickness_of_empty_and_full_masks():
    for mask in (np.zeros((5, 6, 7), bool), np.ones((5, 6, 7), bool)):
        for spacing in SPACINGS[1:3]:
            got = local_thickness_by_chunks(mask, spacing, chunk=(2, 4, 3))
            assert np.array_equal(got, local_thickness(mask, spacing))


def test_local_thickness_from_labels(tf_electrode):
    crop = tf_electrode[100:148, :40, 60:112]
    for spacing in [(0.39, 0.39, 0.39), (0.39, 0.3, 0.5)]:
        whole = local_thickness(crop == 0, spacing)
        got = local_thickness_by_chunks(crop, spacing, phase=0, chunk=(20, 40, 24))
        assert np.array_equal(got, whole)


def test_histogram_and_mean_equal_the_whole_volume():
    mask = _blobs((22, 19, 24), 0.45, 1.5, 11)
    for spacing in SPACINGS[1:]:
        lt = local_thickness(mask, spacing)[mask]
        edges = default_bins(mask.shape, spacing)
        frac, mean = thickness_histogram_by_chunks(mask, spacing, chunk=(9, 7, 10))
        assert np.array_equal(frac, binned_fractions(lt, None, edges) / mask.sum())
        assert mean == pytest.approx(float(lt.mean(dtype=np.float64)), rel=1e-13)
    frac, mean = thickness_histogram_by_chunks(np.zeros((3, 3, 3), bool), bins=[0, 1, 2])
    assert np.isnan(frac).all() and np.isnan(mean)

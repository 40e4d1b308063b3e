"""Segmentation stage: mixture fit, posteriors, denoising, clean-up, connectivity."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from uqtwin.errors import PhaseError, VolumeError
from uqtwin.phantoms import PHASES, image_phantom, spheres_with_binder
from uqtwin.segment import (
    MixtureModel,
    anscombe,
    connected_components,
    denoise_nlm,
    estimate_noise_sd,
    fit_mixture,
    inverse_anscombe,
    most_probable,
    opening_closing,
    percolates,
    phase_posteriors,
    remove_islands,
    select_n_phases,
)
from uqtwin.volume import make_volume, spacing_of, unit_of

# ---------------------------------------------------------------- mixture


def _mixture_volume(means, sds, weights, shape=(64, 64, 64), seed=0):
    rng = np.random.default_rng(seed)
    comp = rng.choice(len(means), size=int(np.prod(shape)), p=weights)
    grey = rng.normal(np.take(means, comp), np.take(sds, comp))
    return make_volume(grey.reshape(shape), spacing=0.39, unit="um")


def test_em_recovers_a_three_component_mixture():
    means, sds, weights = [50.0, 120.0, 200.0], [8.0, 10.0, 15.0], [0.45, 0.15, 0.40]
    # Components generated in a shuffled order: the fit must sort them by mean.
    order = [2, 0, 1]
    vol = _mixture_volume(*([v[i] for i in order] for v in (means, sds, weights)),
                          shape=(48, 48, 48))
    model = fit_mixture(vol, 3, seed=1)
    np.testing.assert_allclose(model.means, means, rtol=0.02)
    np.testing.assert_allclose(model.sds, sds, rtol=0.02)
    np.testing.assert_allclose(model.weights, weights, rtol=0.02)
    assert list(model.means) == sorted(model.means)
    assert MixtureModel.from_dict(model.to_dict()) == model
    # Deterministic by seed (a small subsample keeps this check cheap).
    assert fit_mixture(vol, 3, seed=2, max_samples=5000) == fit_mixture(
        vol, 3, seed=2, max_samples=5000)


def test_bic_chooses_the_number_of_gaussian_phases():
    three = _mixture_volume([50.0, 120.0, 200.0], [8.0, 10.0, 15.0], [0.45, 0.15, 0.40],
                            shape=(32, 32, 32))
    k, bic = select_n_phases(three, (1, 2, 3, 4, 5), max_samples=20_000, n_init=2)
    assert k == 3 and set(bic) == {1, 2, 3, 4, 5}
    assert bic[2] - bic[3] > 100  # a missing phase costs far more than an extra one
    two = _mixture_volume([60.0, 180.0], [10.0, 12.0], [0.5, 0.5], shape=(32, 32, 32), seed=3)
    assert select_n_phases(two, (1, 2, 3, 4), max_samples=20_000, n_init=2)[0] == 2
    # An unblurred, lightly noisy phantom: its three phases are three peaks.
    truth = spheres_with_binder((28, 28, 28), radius=(3.0, 6.0), binder_thickness=1.5, seed=3)
    vol = image_phantom(truth, (40.0, 120.0, 200.0), blur_sigma=0.0, read_noise=4.0, seed=4)
    assert select_n_phases(vol, (2, 3, 4), n_init=2)[0] == 3
    with pytest.raises(PhaseError):
        select_n_phases(three, (0, 2))


def test_posteriors_sum_to_one_with_dims_coords_and_attrs():
    vol = _mixture_volume([50.0, 120.0, 200.0], [8.0, 10.0, 15.0], [0.45, 0.15, 0.40],
                          shape=(12, 10, 8))
    model = fit_mixture(vol, 3)
    post = phase_posteriors(vol, model, phases=PHASES, chunk_voxels=97)
    assert post.dims == ("phase", "z", "y", "x") and post.dtype == np.float32
    assert list(post.coords["phase"].values) == list(PHASES)
    assert post.shape == (3, 12, 10, 8)
    np.testing.assert_allclose(post.sum("phase").values, 1.0, atol=1e-6)
    assert spacing_of(post) == (0.39, 0.39, 0.39) and unit_of(post) == "um"
    np.testing.assert_allclose(post.coords["x"].values, vol.coords["x"].values)
    # Chunking does not change the result.
    whole = phase_posteriors(vol, model, phases=PHASES)
    np.testing.assert_array_equal(post.values, whole.values)
    # Known answer at one voxel: Bayes' rule by hand.
    g = float(vol.values[3, 4, 5])
    dens = np.array(model.weights) * stats.norm.pdf(g, model.means, model.sds)
    np.testing.assert_allclose(post.values[:, 3, 4, 5], dens / dens.sum(), rtol=1e-5)


def test_absent_phase_and_phase_count_mismatch_raise():
    model = MixtureModel((10.0, 100.0, 200.0), (5.0, 5.0, 5.0), (0.6, 1e-9, 0.4 - 1e-9))
    vol = make_volume(np.full((4, 4, 4), 10.0))
    with pytest.raises(PhaseError, match="phase 'binder' is absent: mixture weight 1e-09"):
        phase_posteriors(vol, model, phases=PHASES)
    good = MixtureModel((10.0, 200.0), (5.0, 5.0), (0.5, 0.5))
    with pytest.raises(PhaseError, match="3 phase names"):
        phase_posteriors(vol, good, phases=PHASES)
    with pytest.raises(PhaseError, match="distinct grey"):
        fit_mixture(vol, 3)


def _accuracy(labels, means, blur, seed=0):
    grey = image_phantom(labels, means, blur_sigma=blur, read_noise=5.0, seed=seed)
    model = fit_mixture(grey, 3, seed=seed)
    post = phase_posteriors(grey, model, phases=PHASES)
    return float(np.mean(most_probable(post) == labels))


def test_most_probable_recovers_a_spheres_phantom():
    labels = spheres_with_binder((48, 48, 48), seed=2)
    # Means 80 grey apart, noise sd 5, mild blur: interfaces straddle at most ~0.1 %.
    assert _accuracy(labels, [40.0, 120.0, 200.0], blur=0.5) > 0.99


def test_most_probable_recovers_tf_electrode_crop(tf_electrode):
    crop = tf_electrode[:48, :48, :48]
    # tf labels 0 pore, 85 NMC, 170 carbon-binder -> indices in increasing grey order.
    labels = np.select([crop == 0, crop == 170, crop == 85], [0, 1, 2]).astype(np.uint8)
    # The binder is only 1-2 voxels thick here, so any blur makes partial-volume voxels
    # that a point-wise mixture cannot place (see the partial-volume item in the report);
    # without blur the known answer is exact.
    assert _accuracy(labels, [40.0, 120.0, 200.0], blur=0.0) > 0.99


# ---------------------------------------------------------------- denoise


def test_anscombe_inverse_is_unbiased():
    rng = np.random.default_rng(0)
    for lam in (0.5, 3.0, 20.0, 400.0):
        x = rng.poisson(lam, 400_000)
        est = float(inverse_anscombe(anscombe(x).mean()))
        # Monte-Carlo sd of the mean in the Anscombe domain ~ 1/sqrt(n); map back.
        assert est == pytest.approx(lam, abs=6 * np.sqrt(lam / 400_000) + 1e-3)
    # The algebraic inverse is biased at low counts; the unbiased one is not identity.
    y = anscombe(np.array([100.0, 1000.0]))
    np.testing.assert_allclose(inverse_anscombe(y), [100.0, 1000.0], atol=0.3)
    assert float(inverse_anscombe(np.array(0.0))) == 0.0


@pytest.fixture(scope="module")
def noisy_phantom():
    labels = spheres_with_binder((32, 32, 32), radius=(3.0, 6.0), seed=5)
    clean = image_phantom(labels, [40.0, 120.0, 200.0], seed=0)
    noisy = image_phantom(labels, [40.0, 120.0, 200.0], read_noise=20.0, seed=0)
    return clean, noisy


def test_denoise_reduces_noise_and_keeps_attrs(noisy_phantom):
    clean, noisy = noisy_phantom
    assert estimate_noise_sd(noisy.values) == pytest.approx(20.0, rel=0.1)
    out = denoise_nlm(noisy, patch_distance=3)
    err_before = float((noisy - clean).std())
    err_after = float((out - clean).std())
    assert err_after < 0.75 * err_before
    assert spacing_of(out) == spacing_of(noisy) and out.dtype == np.float32
    assert "nlm" in out.attrs["denoise"]


def test_chunked_denoise_equals_unchunked(noisy_phantom):
    _, noisy = noisy_phantom
    kw = dict(patch_size=3, patch_distance=2)
    whole = denoise_nlm(noisy, chunk=None, **kw).values
    # Halo 3 = patch_distance + patch_size // 2: every voxel sees all it depends on.
    chunked = denoise_nlm(noisy, chunk=16, overlap=3, **kw).values
    np.testing.assert_allclose(chunked, whole, atol=1e-3)
    # The default halo is that same minimal exact width.
    np.testing.assert_array_equal(denoise_nlm(noisy, chunk=16, **kw).values, chunked)


def test_poisson_denoise_keeps_the_mean():
    labels = np.zeros((24, 24, 24), dtype=np.uint8)
    labels[:, :, 12:] = 1
    counts = image_phantom(labels, [5.0, 30.0], blur_sigma=0.0, photons=17.5, seed=3)
    out = denoise_nlm(counts, poisson=True, patch_distance=2, chunk=None).values
    # Unbiased inverse: the mean count of each flat region survives (the naive
    # algebraic inverse would shift the 5-count region by ~0.2).
    assert out[:, :, 2:10].mean() == pytest.approx(5.0, abs=0.15)
    assert out[:, :, 14:22].mean() == pytest.approx(30.0, abs=0.3)
    assert out[:, :, 2:10].std() < counts.values[:, :, 2:10].std()


def test_denoise_rejects_plain_arrays():
    with pytest.raises(VolumeError):
        denoise_nlm(np.zeros((4, 4, 4)))


# ---------------------------------------------------------------- clean-up


def _diagonal_channel(n=6):
    """A pore channel along z whose successive voxels meet only at an edge."""
    mask = np.zeros((n, 4, 4), dtype=bool)
    for z in range(n):
        mask[z, 1 + z % 2, 1] = True
    return mask


def test_dual_connectivity_convention():
    diag = _diagonal_channel()
    straight = np.zeros_like(diag)
    straight[:, 1, 1] = True
    # Pore is face-connected: an edge-only channel does not percolate, a face one does.
    assert not percolates(diag, 0, "pore")
    assert percolates(straight, 0, "pore")
    assert connected_components(diag, "pore")[1] == diag.shape[0]
    # The solid is the 26-connected dual: the same edge contact does connect solid, so
    # at no edge do both phases pass (and at none are both cut).
    assert percolates(diag, 0, "solid")
    assert connected_components(diag, "solid")[1] == 1
    # Corner-only contact behaves the same way.
    corner = np.zeros((4, 4, 4), dtype=bool)
    for k in range(4):
        corner[k, k, k] = True
    assert not percolates(corner, 0, "pore") and percolates(corner, 0, "solid")
    # Checkerboard 2x2x2: the pore (6) is cut and the complement solid (26) passes.
    checker = (np.indices((2, 2, 2)).sum(axis=0) % 2 == 0)
    assert not percolates(checker, 0, "pore") and percolates(~checker, 0, "solid")


def test_remove_islands_removes_small_keeps_big():
    labels = np.zeros((16, 16, 16), dtype=np.uint8)
    labels[2:10, 2:10, 2:10] = 2  # 512-voxel particle: kept
    labels[12, 12, 11:14] = 1  # 3-voxel binder island inside pore: goes to pore
    labels[5, 5, 5:7] = 0  # 2-voxel pore speck inside the particle: goes to active
    out = remove_islands(labels, 10, n_phases=3)
    assert out.dtype == labels.dtype
    assert np.all(out[12, 12, 11:14] == 0)
    assert np.all(out[5, 5, 5:7] == 2)
    assert np.sum(out == 2) == 512
    assert np.sum(out != labels) == 5
    assert labels[12, 12, 12] == 1  # input untouched


def test_remove_islands_takes_the_most_common_neighbour():
    labels = np.zeros((5, 5, 5), dtype=np.uint8)
    labels[:, :, 3:] = 2
    labels[2, 2, 2] = 1  # face neighbours: 5 pore, 1 active
    assert remove_islands(labels, 2, n_phases=3)[2, 2, 2] == 0


def test_opening_closing_removes_specks():
    labels = np.zeros((12, 12, 12), dtype=np.uint8)
    labels[3:9, 3:9, 3:9] = 2
    labels[0, 0, 0] = 1
    out = opening_closing(labels, 1, n_phases=3)
    assert out[0, 0, 0] == 0 and out[5, 5, 5] == 2


def test_tabulated_posteriors_match_the_per_voxel_ones():
    """Both mixtures' posteriors, interpolated on the grey-value grid, within 1e-5."""
    from uqtwin.segment.mixture import MixtureModel
    from uqtwin.segment.partial_volume import PartialVolumeMixture, pv_phase_posteriors

    rng = np.random.default_rng(0)
    vol = rng.normal(110.0, 60.0, (40, 40, 40)).astype(np.float32)
    names = ("pore", "binder", "active")
    plain = MixtureModel((40.0, 110.0, 190.0), (8.0, 9.0, 10.0), (0.3, 0.2, 0.5))
    pv = PartialVolumeMixture((40.0, 110.0, 190.0), (8.0, 9.0, 10.0), (0.3, 0.1, 0.4),
                              ((0, 2),), (0.2,))
    for fn, model in ((phase_posteriors, plain), (pv_phase_posteriors, pv)):
        fast = fn(vol, model, phases=names).values
        exact = fn(vol, model, phases=names, table_points=None).values
        assert 0 < np.abs(fast - exact).max() < 1e-5  # 0 would mean it never tabulated

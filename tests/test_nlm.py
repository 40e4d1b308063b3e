"""The threaded non-local means against scikit-image's, and its exactness across blocks."""

import numpy as np
import pytest
from scipy import ndimage
from skimage.restoration import denoise_nl_means

from uqtwin.errors import VolumeError
from uqtwin.segment.nlm import nl_means, nl_means_block, nlm_margin


def _phantom(n=28, seed=0):
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.random((n, n, n)), 2.0)
    clean = ndimage.gaussian_filter((field > 0.5) * 100.0, 0.9)
    return clean, clean + rng.normal(0.0, 20.0, clean.shape)


def _psnr(a, clean):
    return 10 * np.log10(100.0**2 / np.mean((a - clean) ** 2))


@pytest.mark.parametrize(("patch_size", "patch_distance"), [(3, 3), (5, 2), (4, 2), (1, 2)])
def test_same_output_as_scikit_image(patch_size, patch_distance):
    clean, noisy = _phantom()
    kw = dict(h=16.0, sigma=20.0, patch_size=patch_size, patch_distance=patch_distance)
    ours = nl_means(noisy, **kw)
    ref = denoise_nl_means(noisy, fast_mode=True, **kw)
    # scikit-image approximates exp() by a bit trick (a few per cent per weight); the two
    # then agree to a small fraction of the noise sd (20) and in PSNR to 0.1 dB.
    assert np.sqrt(np.mean((ours - ref) ** 2)) < 0.01 * 20.0
    assert abs(_psnr(ours, clean) - _psnr(ref, clean)) < 0.1
    assert _psnr(ours, clean) > _psnr(noisy, clean) + 2.0
    assert ours.dtype == np.float32 and ours.shape == noisy.shape


def test_blocks_with_their_halo_give_the_whole_volume_bit_for_bit():
    _, noisy = _phantom(20, seed=1)
    kw = dict(h=16.0, sigma=20.0, patch_size=3, patch_distance=3)
    whole = nl_means(noisy, **kw)
    m = nlm_margin(3, 3)
    padded = np.pad(noisy.astype(np.float32), m, mode="reflect")
    block = nl_means_block(padded[3:3 + 9 + 2 * m, 5:5 + 11 + 2 * m, :], **kw)
    np.testing.assert_array_equal(block, whole[3:12, 5:16, :])


def test_constant_volume_is_a_fixed_point():
    out = nl_means(np.full((10, 9, 8), 7.5), h=1.0, sigma=1.0, patch_distance=2)
    np.testing.assert_array_equal(out, np.float32(7.5))


def test_bad_parameters_are_named():
    a = np.zeros((6, 6, 6))
    with pytest.raises(VolumeError, match="filter strength"):
        nl_means(a, h=0.0)
    with pytest.raises(VolumeError, match="sigma"):
        nl_means(a, h=1.0, sigma=-1.0)
    with pytest.raises(VolumeError, match="patch_size"):
        nl_means(a, h=1.0, patch_distance=0)
    with pytest.raises(VolumeError, match="3-D"):
        nl_means(np.zeros((6, 6)), h=1.0)
    with pytest.raises(VolumeError, match="halo"):
        nl_means_block(np.zeros((12, 12, 12)), h=1.0, patch_distance=5)

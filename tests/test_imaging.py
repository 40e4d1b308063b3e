"""Imaging conditions (PSF, noise model, drift) measured back from phantoms with known values."""

from __future__ import annotations

import doctest
import importlib
import json
import math
import pkgutil
from pathlib import Path

import numpy as np
import pytest

from uqtwin.errors import VolumeError
from uqtwin.phantoms import binder_bridges, graphite_flakes, image_phantom, spheres_with_binder
from uqtwin.segment import imaging
from uqtwin.segment.imaging import (
    ImagingConditions,
    ImagingWarning,
    correct_drift,
    drift_is_significant,
    estimate_imaging,
)

MEANS = (45.0, 105.0, 175.0)
TF = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tf_electrode.tiff"


def _psf_tolerance(true: np.ndarray) -> np.ndarray:
    """10 % or 0.1 voxel, whichever is larger (the accuracy the module docstring states)."""
    return np.maximum(0.1 * true, 0.1)


@pytest.fixture(scope="module")
def necks() -> np.ndarray:
    """64³ packed spheres, binder only in the necks (direct pore/active interfaces)."""
    return spheres_with_binder((64, 64, 64), binder_thickness=0, neck_radius=2, seed=0)


@pytest.fixture(scope="module")
def film() -> np.ndarray:
    """64³ packed spheres coated with a one-voxel binder film (the generator's default)."""
    return spheres_with_binder((64, 64, 64), seed=0)


def _estimate(labels, **kwargs) -> ImagingConditions:
    grey = image_phantom(labels, MEANS, **kwargs)
    return estimate_imaging(grey, MEANS)


# ---------------------------------------------------------------- point spread


@pytest.mark.parametrize(
    ("blur", "photons"),
    [
        (0.5, 1000),
        (1.0, 30),
        (1.5, 300),
        (2.0, 100),
        ((1.6, 1.0, 1.0), 100),
        ((2.0, 0.8, 0.8), 1000),
    ],
)
def test_psf_is_recovered_per_axis(necks, blur, photons):
    c = _estimate(necks, blur_sigma=blur, photons=photons, read_noise=3, drift=0.05, seed=3)
    true = np.broadcast_to(np.asarray(blur, dtype=float), (3,))
    err = np.abs(np.array(c.psf_sigma) - true)
    assert np.all(err <= _psf_tolerance(true)), (c.psf_sigma, true)
    # The standard error is a few per cent: small against the tolerance, not zero.
    assert np.all(np.array(c.psf_sigma_se) > 0)
    assert np.all(np.array(c.psf_sigma_se) < 0.05 * true + 0.02)
    assert min(c.n_edges) >= 50
    assert not any("default" in n for n in c.notes)


def test_psf_under_a_one_voxel_binder_film(film):
    # No direct pore/active interface exists: every dark/bright edge crosses the film,
    # which widens it like blur unless the edge model carries the film term.
    c = _estimate(film, blur_sigma=1.0, photons=300, read_noise=3, seed=4)
    assert np.all(np.abs(np.array(c.psf_sigma) - 1.0) <= 0.1), c.psf_sigma
    assert any("middle-phase layer" in n for n in c.notes)


def test_psf_does_not_depend_on_spacing_or_container(necks):
    grey = image_phantom(necks[:48, :48, :48], MEANS, spacing=(2.0, 1.0, 1.0),
                         blur_sigma=(1.6, 1.0, 1.0), photons=300, read_noise=3, seed=5)
    from_xr = estimate_imaging(grey, MEANS)
    from_np = estimate_imaging(grey.values, list(reversed(MEANS)))  # means get sorted
    assert from_xr == from_np


# ---------------------------------------------------------------- noise model


@pytest.mark.parametrize("photons", [10, 100, 1000])
def test_photon_count_is_recovered(necks, photons):
    grey = image_phantom(necks, MEANS, blur_sigma=1.0, photons=photons, read_noise=3, seed=6)
    c = estimate_imaging(grey, MEANS)
    assert abs(c.photons / photons - 1) < 0.2, c.photons
    # photons is the volume's mean grey in photons: mean grey / gain.
    assert c.photons * c.photon_gain == pytest.approx(float(grey.mean()), rel=1e-6)
    assert not any("correlated" in n for n in c.notes)  # white noise is not flagged
    if photons == 1000:  # read noise dominates the darkest phase's variance here
        assert c.read_noise == pytest.approx(3.0, rel=0.2)


def test_read_noise_only_gives_infinite_photons(necks):
    c = _estimate(necks, blur_sigma=1.0, photons=None, read_noise=4, seed=7)
    assert math.isinf(c.photons) and c.photon_gain == 0.0
    assert c.read_noise == pytest.approx(4.0, rel=0.1)
    assert any("photons = inf" in n for n in c.notes)


def test_correlated_noise_is_flagged(necks):
    # White noise smoothed over neighbouring voxels, as a reconstruction filter does:
    # the white-noise model sees little of it, and says so.
    from scipy import ndimage

    grey = image_phantom(necks[:48, :48, :48], MEANS, blur_sigma=1.0).values
    noise = ndimage.gaussian_filter(np.random.default_rng(12).normal(0, 10, grey.shape), 1.0)
    c = estimate_imaging(grey + noise, MEANS)
    assert c.read_noise < 0.5 * noise.std()
    assert any("correlated between voxels" in n for n in c.notes)


# ---------------------------------------------------------------- drift


@pytest.mark.parametrize("drift", [0.0, 0.02, 0.1, -0.05])
def test_drift_is_recovered(necks, drift):
    kwargs = dict(blur_sigma=1.0, photons=300, read_noise=3, seed=8)
    grey = image_phantom(necks, MEANS, drift=drift, **kwargs)
    c = estimate_imaging(grey, MEANS)
    assert abs(c.drift - drift) < 0.01, c.drift
    if drift:
        # Dividing the estimate out leaves the slice means of the drift-free scan.
        steady = image_phantom(necks, MEANS, **kwargs).values
        assert _slice_trend(grey.values, steady) == pytest.approx(drift, abs=0.002)
        assert abs(_slice_trend(correct_drift(grey, c.drift).values, steady)) < 0.01


def _slice_trend(vol: np.ndarray, reference: np.ndarray) -> float:
    """Relative linear trend over z of the per-slice mean of ``vol / reference``."""
    ratio = vol.mean(axis=(1, 2)) / reference.mean(axis=(1, 2))
    slope, intercept = np.polyfit(np.linspace(-0.5, 0.5, vol.shape[0]), ratio, 1)
    return float(slope / intercept)


def test_correct_drift_inverts_the_phantom_drift_and_keeps_metadata():
    lab = np.zeros((16, 4, 4), dtype=np.uint8)
    grey = image_phantom(lab, [100.0], drift=0.1)
    out = correct_drift(grey, 0.1)
    np.testing.assert_allclose(out.values, 100.0, rtol=1e-6)
    assert out.attrs == grey.attrs and out.dims == grey.dims and out.dtype == np.float32
    plain = correct_drift(np.asarray(grey.values, dtype=np.float64), 0.1)
    assert isinstance(plain, np.ndarray) and plain.dtype == np.float64
    np.testing.assert_allclose(plain, 100.0)
    assert correct_drift(np.ones((3, 2, 2), dtype=np.uint8), 0.0).dtype == np.float64
    with pytest.raises(VolumeError, match="drift"):
        correct_drift(grey, 2.5)


# ---------------------------------------------------------------- fallbacks and errors


def test_axes_without_edges_are_pooled_from_the_measured_axis_with_a_warning():
    # Layers normal to z: edges along z only, none along y or x. Their blur cannot be
    # measured; they get z's (isotropy assumed), with a warning and a note.
    z = np.arange(64)[:, None, None]
    lab = np.broadcast_to((z // 8) % 2 * 2, (64, 32, 32)).astype(np.uint8)
    grey = image_phantom(lab, MEANS, blur_sigma=1.2, photons=300, read_noise=3, seed=9)
    with pytest.warns(ImagingWarning) as record:
        c = estimate_imaging(grey, MEANS, default_psf=0.7)
    message = "y, x: 0, 0 edge profiles < 50; psf_sigma y, x = 1.17 pooled from z"
    assert [str(r.message) for r in record] == [message + " (isotropy assumed)"]
    assert message + " (isotropy assumed)" in c.notes
    assert c.n_edges[1:] == (0, 0) and c.n_edges[0] >= 50
    assert abs(c.psf_sigma[0] - 1.2) <= 0.12
    assert c.psf_sigma[1:] == pytest.approx((c.psf_sigma[0],) * 2)
    assert c.psf_sigma_se[1:] == pytest.approx((c.psf_sigma_se[0],) * 2)
    # Each phase's deep voxels fill too few slices for a trend over z: no drift is
    # measurable, and none is corrected.
    assert c.drift == 0.0 and math.isinf(c.drift_se) and not drift_is_significant(c)
    assert any("drift_se = inf" in n for n in c.notes)


def test_blur_beyond_the_volume_falls_back_to_the_default_with_a_warning():
    # Two halves blurred by 5 voxels: no edge has a plateau within 32 voxels and the
    # model-based profile keeps falling up to the largest trial sigma (3.3).
    z = np.arange(32)[:, None, None]
    lab = np.broadcast_to((z >= 16) * 2, (32, 32, 32)).astype(np.uint8)
    grey = image_phantom(lab, MEANS, blur_sigma=5.0, photons=300, read_noise=3, seed=1)
    with pytest.warns(ImagingWarning, match=r"no model-based fit; psf_sigma z, y, x = 0\.7 "
                      r"\(default\)"):
        c = estimate_imaging(grey, MEANS, default_psf=0.7)
    assert c.psf_sigma == (0.7, 0.7, 0.7) and c.psf_sigma_se == (0.0, 0.0, 0.0)
    assert sum("(default)" in n for n in c.notes) == 1


def test_min_edges_above_the_count_gives_the_model_based_sigma(necks):
    grey = image_phantom(necks[:32, :32, :32], MEANS, blur_sigma=1.0, photons=300, seed=10)
    with pytest.warns(ImagingWarning, match="model-based"):
        c = estimate_imaging(grey, MEANS, min_edges=10**6)
    # One sigma for every axis, within 15 %; its error includes the 10 % scatter of the
    # model-based estimate on phantoms.
    assert c.psf_sigma[0] == c.psf_sigma[1] == c.psf_sigma[2]
    assert abs(c.psf_sigma[0] - 1.0) <= 0.15, c.psf_sigma
    assert 0.1 <= c.psf_sigma_se[0] <= 0.2
    assert not any("(default)" in n for n in c.notes)


def test_small_or_degenerate_volumes_raise():
    rng = np.random.default_rng(0)
    with pytest.raises(VolumeError, match=r"at least 16 voxels .* z \(12\)"):
        estimate_imaging(rng.normal(100, 5, (12, 32, 32)), MEANS)
    with pytest.raises(VolumeError, match="one phase only"):
        estimate_imaging(rng.normal(175, 5, (32, 32, 32)), MEANS)
    with pytest.raises(VolumeError, match="one phase only"):
        estimate_imaging(rng.normal(175, 5, (32, 32, 32)), [175.0, 175.0])
    with pytest.raises(VolumeError, match="3-D"):
        estimate_imaging(rng.normal(175, 5, (32, 32)), MEANS)
    with pytest.raises(VolumeError, match="min_edges"):
        estimate_imaging(rng.normal(175, 5, (32, 32, 32)), MEANS, min_edges=0)


# ---------------------------------------------------------------- result object


def test_conditions_serialise_to_strict_json():
    c = ImagingConditions((1.0, 1.2, 1.2), (0.01, 0.02, 0.02), 0.0, 3.0, math.inf, 0.01,
                          (300, 200, 200), ("noise: photons = inf",), drift_se=0.004)
    text = json.dumps(c.to_dict(), allow_nan=False)
    back = ImagingConditions.from_dict(json.loads(text))
    assert back == c and math.isinf(back.photons) and back.drift_se == 0.004
    # No drift measured: drift_se = inf goes to JSON as null and back.
    none = ImagingConditions((1.0,) * 3, (0.0,) * 3, 1.0, 3.0, 100.0, 0.0, (60,) * 3,
                             drift_se=math.inf)
    data = json.loads(json.dumps(none.to_dict(), allow_nan=False))
    assert data["drift_se"] is None
    assert math.isinf(ImagingConditions.from_dict(data).drift_se)
    # Records written before drift_se existed read back with its default, 0.
    del data["drift_se"]
    assert ImagingConditions.from_dict(data).drift_se == 0.0
    with pytest.raises(VolumeError, match="psf_sigma"):
        ImagingConditions((1.0, 1.0), (0.0, 0.0, 0.0), 0.0, 0.0, 1.0, 0.0, (1, 1, 1))


def test_docstring_examples_run():
    # uqtwin.segment.imaging is a package: its examples live in its modules.
    attempted = 0
    for info in pkgutil.iter_modules(imaging.__path__):
        module = importlib.import_module(f"{imaging.__name__}.{info.name}")
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, info.name
        attempted += result.attempted
    assert attempted > 0


# ---------------------------------------------------------------- real morphology


@pytest.mark.skipif(not TF.exists(), reason=f"shared data not found at {TF}")
def test_tf_electrode_crop_and_its_binder_bias():
    import tifffile

    tf = tifffile.imread(TF)[64:128, 64:128, 64:128]
    lab = np.select([tf == 0, tf == 170, tf == 85], [0, 1, 2]).astype(np.uint8)
    # Binder relabelled as pore: the particle shapes alone are measured within tolerance.
    two = _estimate(np.where(lab == 1, 0, lab).astype(np.uint8), blur_sigma=1.0,
                    photons=300, read_noise=3, seed=11)
    assert np.all(np.abs(np.array(two.psf_sigma) - 1.0) <= 0.1), two.psf_sigma
    # With its one-voxel binder texture on the pore/active contacts the edges are wider
    # than the PSF: the estimate is an upper bound, 10-45 % high (module docstring).
    three = _estimate(lab, blur_sigma=1.0, photons=300, read_noise=3, seed=11)
    assert np.all(np.array(three.psf_sigma) > 1.05), three.psf_sigma
    assert np.all(np.array(three.psf_sigma) < 1.5), three.psf_sigma
    assert abs(three.photons / 300 - 1) < 0.2 and abs(three.drift) < 0.01


# ---------------------------------------------------------------- small volumes (32³)


def test_drift_is_significant_needs_size_and_three_standard_errors():
    base = ImagingConditions((1.0,) * 3, (0.0,) * 3, 1.0, 3.0, 100.0, 0.05, (60,) * 3,
                             drift_se=0.01)
    assert drift_is_significant(base)
    assert not drift_is_significant(ImagingConditions(**{**base.__dict__, "drift_se": 0.02}))
    assert drift_is_significant(ImagingConditions(**{**base.__dict__, "drift": -0.05}))
    small = ImagingConditions(**{**base.__dict__, "drift": 0.004, "drift_se": 0.0})
    assert not drift_is_significant(small)
    assert drift_is_significant(small, min_drift=0.002)
    assert not drift_is_significant(ImagingConditions(**{**base.__dict__,
                                                         "drift_se": math.inf}))


@pytest.fixture(scope="module")
def small_film() -> list[np.ndarray]:
    """32³ packed spheres with the default one-voxel binder film, two packings."""
    return [spheres_with_binder((32, 32, 32), seed=s) for s in range(2)]


@pytest.fixture(scope="module")
def small_necks() -> list[np.ndarray]:
    """32³ packed spheres with binder in the necks, five packings."""
    return [spheres_with_binder((32, 32, 32), binder_thickness=0, neck_radius=2, seed=s)
            for s in range(5)]


@pytest.mark.parametrize(
    ("packing", "seed", "blur"),
    [
        # The standard plateau rule alone found too few edges along z (and y for the
        # third) and reported the default 0.8 there.
        ("film", 0, 1.86),
        ("film", 1, (2.12, 1.33, 1.33)),
        ("necks", 2, 1.86),
        ("necks", 0, (2.12, 1.33, 1.33)),
    ],
)
def test_psf_on_32_cubed_spheres_degrades_gracefully(small_film, small_necks, packing,
                                                     seed, blur):
    lab = (small_film if packing == "film" else small_necks)[seed]
    grey = image_phantom(lab, MEANS, blur_sigma=blur, photons=300, read_noise=3,
                         drift=0.05, seed=7)
    c = estimate_imaging(grey, MEANS)
    true = np.broadcast_to(np.asarray(blur, dtype=float), (3,))
    err = np.abs(np.array(c.psf_sigma) - true)
    assert np.all(err <= np.maximum(0.2 * true, 0.15)), (c.psf_sigma, true)
    # Measured by the edges under shorter plateaus, with a real standard error.
    assert any("relaxed" in n for n in c.notes)
    assert not any("(default)" in n or "model-based" in n or "pooled" in n
                   for n in c.notes)
    assert np.all(np.array(c.psf_sigma_se) > 0)
    assert np.all(np.array(c.psf_sigma_se) < 0.1 * true + 0.05)


@pytest.fixture(scope="module")
def flakes() -> np.ndarray:
    """32³ graphite flakes (3-5 voxels thick) with binder bridges: no plateaus at all."""
    return binder_bridges(graphite_flakes((32, 32, 32), seed=0), seed=0)


@pytest.mark.parametrize(("blur", "photons"), [(1.5, 300), (2.0, 100)])
def test_psf_of_thin_flakes_is_model_based(flakes, blur, photons):
    grey = image_phantom(flakes, MEANS, blur_sigma=blur, photons=photons, read_noise=3,
                         seed=7)
    with pytest.warns(ImagingWarning, match="model-based"):
        c = estimate_imaging(grey, MEANS)
    assert max(c.n_edges) < 20
    assert c.psf_sigma[0] == c.psf_sigma[1] == c.psf_sigma[2]
    assert abs(c.psf_sigma[0] / blur - 1) <= 0.2, c.psf_sigma
    # The standard error covers the error here.
    assert abs(c.psf_sigma[0] - blur) <= 2 * c.psf_sigma_se[0]


def test_drift_on_32_cubed_is_within_its_standard_error(small_necks):
    zero, ramp = [], []
    for seed, lab in enumerate(small_necks):
        kwargs = dict(blur_sigma=1.0, photons=300, read_noise=3, seed=seed + 7)
        zero.append(estimate_imaging(image_phantom(lab, MEANS, **kwargs), MEANS))
        ramp.append(estimate_imaging(image_phantom(lab, MEANS, drift=0.05, **kwargs), MEANS))
    # No drift: within 2 standard errors, and not corrected.
    assert sum(abs(c.drift) < 2 * c.drift_se for c in zero) >= 4, [
        (c.drift, c.drift_se) for c in zero]
    assert not any(drift_is_significant(c) for c in zero)
    # A drift of 0.05: recovered within 0.015, clearly above its standard error.
    for c in ramp:
        assert abs(c.drift - 0.05) < 0.015, (c.drift, c.drift_se)
        assert c.drift > 3 * c.drift_se and drift_is_significant(c)
    # The standard errors are those of a few-per-cent measurement, not inflated.
    assert all(0.001 < c.drift_se < 0.01 for c in zero + ramp)


@pytest.mark.slow
def test_drift_on_32_cubed_flakes_at_sigma_2():
    # At sigma 2 the deep voxels of 3-5 voxel flakes carry the structure: errors of a
    # few per cent, which the standard error must mostly show. The "deep binder" there
    # is mostly blurred pore/active mixture: its trend (+0.5 for seed 4) is left out.
    results = []
    for seed in range(6):
        lab = binder_bridges(graphite_flakes((32, 32, 32), seed=seed), seed=seed)
        grey = image_phantom(lab, MEANS, blur_sigma=2.0, photons=1000, read_noise=3,
                             seed=seed + 100)
        with pytest.warns(ImagingWarning):
            results.append(estimate_imaging(grey, MEANS))
    assert any("middle phase's trend disagrees" in n for n in results[4].notes)
    assert abs(results[4].drift) < 2 * results[4].drift_se
    assert sum(abs(c.drift) < 2 * c.drift_se for c in results) >= 5
    # The known limit (module docstring): seed 2's active phase trends by -0.055 with
    # its structure, 3.5 standard errors, and would be corrected.
    assert sum(drift_is_significant(c) for c in results) <= 1

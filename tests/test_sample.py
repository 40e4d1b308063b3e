"""Samplers: marginals kept, correlation structure, determinism, input validation."""

from __future__ import annotations

import numpy as np
import pytest

from uqtwin.errors import VolumeError
from uqtwin.sample import (
    categorical_from_uniform,
    gaussian_random_field,
    sample_correlated,
    sample_independent,
)


def _varying_posteriors(shape=(8, 8, 8)):
    """Three-phase posteriors that vary across the volume (including 0 and 1 entries)."""
    z, y, x = np.meshgrid(*(np.linspace(0, 1, n) for n in shape), indexing="ij")
    raw = np.stack([1.0 - x, x * (1 - y), 0.5 * z * y + 0.2 * x * y])
    return (raw / raw.sum(axis=0)).astype(np.float32)


def test_categorical_from_uniform_inverts_the_cdf():
    p = np.zeros((3, 1, 1, 4), dtype=np.float32)
    p[:, 0, 0, :] = np.array([0.2, 0.5, 0.3])[:, None]
    u = np.array([0.0, 0.1999, 0.2001, 0.9999]).reshape(1, 1, 4)
    np.testing.assert_array_equal(categorical_from_uniform(p, u)[0, 0], [0, 0, 1, 2])
    # A zero-probability phase is never drawn, even at the CDF steps.
    q = np.zeros((3, 1, 1, 2))
    q[0], q[2] = 0.5, 0.5
    assert 1 not in categorical_from_uniform(q, np.array([0.5, 0.5]).reshape(1, 1, 2))


@pytest.mark.parametrize(
    "sampler",
    [
        lambda p, s: sample_independent(p, s),
        lambda p, s: sample_correlated(p, s, correlation_length=(2.0, 3.0, 1.5)),
    ],
    ids=["independent", "correlated"],
)
def test_samplers_keep_each_voxel_marginal(sampler):
    p = _varying_posteriors()
    n = 400
    counts = np.zeros(p.shape, dtype=np.int64)
    for s in range(n):
        lab = sampler(p, s)
        for k in range(3):
            counts[k] += lab == k
    freq = counts / n
    se = np.sqrt(p * (1 - p) / n)
    # Deviation in standard errors: each voxel is Binomial(n, p) across seeds.
    z = np.abs(freq - p) / np.maximum(se, 1e-12)
    assert np.all(freq[p == 0] == 0) and np.all(freq[p == 1] == 1)
    assert np.percentile(z[se > 0], 99) < 3.5 and z[se > 0].max() < 5.5
    # Pooled check: the mean squared z is ~1 when the marginals are right.
    assert np.mean(z[se > 0] ** 2) == pytest.approx(1.0, abs=0.15)


def _indicator_correlation(labels, lag, axis):
    ind = (labels == 1).astype(float)
    ind -= ind.mean()
    a = np.take(ind, np.arange(ind.shape[axis] - lag), axis=axis)
    b = np.take(ind, np.arange(lag, ind.shape[axis]), axis=axis)
    return float(np.mean(a * b) / ind.var())


def test_two_point_correlation_decays_over_the_configured_length():
    p = np.full((2, 48, 48, 48), 0.5, dtype=np.float32)
    for ell in (2.0, 5.0):
        lab = sample_correlated(p, 7, correlation_length=ell)
        for lag in (1, 2, 4):
            # Known answer for a 50/50 threshold of a Gaussian field of correlation rho:
            # (2 / pi) arcsin(rho), rho = exp(-lag^2 / (2 ell^2)).
            rho = np.exp(-(lag**2) / (2 * ell**2))
            expect = 2 / np.pi * np.arcsin(rho)
            assert _indicator_correlation(lab, lag, 2) == pytest.approx(expect, abs=0.04)
    short = sample_correlated(p, 1, correlation_length=2.0)
    long = sample_correlated(p, 1, correlation_length=5.0)
    assert _indicator_correlation(long, 4, 0) > _indicator_correlation(short, 4, 0) + 0.25
    indep = sample_independent(p, 1)
    assert abs(_indicator_correlation(indep, 1, 1)) < 0.02


def test_per_axis_correlation_length():
    p = np.full((2, 32, 48, 48), 0.5, dtype=np.float32)
    lab = sample_correlated(p, 3, correlation_length=(4.0, 0.0, 1.5))
    c_z, c_y, c_x = (_indicator_correlation(lab, 2, ax) for ax in range(3))
    # Expected (2/pi) arcsin(rho) at lag 2: 0.69 along z, 0.27 along x, 0 along y; the
    # estimate's sd is ~0.02 (about 2000 independent blobs in the box).
    assert c_z == pytest.approx(0.69, abs=0.08)
    assert c_x == pytest.approx(0.27, abs=0.08)
    assert abs(c_y) < 0.08


def test_random_field_has_unit_variance():
    g = np.stack([gaussian_random_field((12, 12, 12), 3.0, s) for s in range(200)])
    assert np.mean(g.var(axis=0)) == pytest.approx(1.0, abs=0.03)
    assert abs(g.mean()) < 0.05


@pytest.mark.parametrize("correlation_length", [None, 2.5])
def test_same_seed_same_sample(correlation_length):
    p = _varying_posteriors((10, 9, 8))

    def draw(seed):
        if correlation_length is None:
            return sample_independent(p, seed)
        return sample_correlated(p, seed, correlation_length=correlation_length)

    a, b, c = draw(11), draw(11), draw(12)
    assert a.dtype == np.uint8 and a.shape == (10, 9, 8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    gen = np.random.default_rng(11)
    np.testing.assert_array_equal(
        sample_independent(p, gen) if correlation_length is None
        else sample_correlated(p, gen, correlation_length=correlation_length),
        a,
    )


def test_bad_posteriors_raise():
    p = _varying_posteriors((4, 4, 4))
    bad = p.copy()
    bad[0, 1, 2, 3] += 0.1
    with pytest.raises(VolumeError, match=r"sum to 1.*\(z, y, x\) = \(1, 2, 3\)"):
        sample_independent(bad, 0)
    nan = p.copy()
    nan[1, 0, 0, 0] = np.nan
    with pytest.raises(VolumeError, match="NaN"):
        sample_correlated(nan, 0, correlation_length=1.0)
    with pytest.raises(ValueError, match="4-D"):
        sample_independent(p[0], 0)
    with pytest.raises(VolumeError, match="correlation_length"):
        sample_correlated(p, 0, correlation_length=-1.0)
    neg = np.stack([p[0] + 0.5, p[1] - 0.5, p[2]])
    with pytest.raises(VolumeError, match=">= 0"):
        sample_independent(neg, 0)


# ---------------------------------------------------------------- registry of sampler kinds


def test_sampler_registry_lists_every_kind_with_one_options_class():
    import dataclasses

    from uqtwin.engine.sections import SamplerConfig
    from uqtwin.sample.kinds import DEFAULT_SAMPLER, SAMPLER_KINDS, get_sampler

    assert SAMPLER_KINDS == ("independent", "correlated", "parametric", "ambiguity")
    assert DEFAULT_SAMPLER in SAMPLER_KINDS
    keys = {f.name for f in dataclasses.fields(SamplerConfig)}
    for name in SAMPLER_KINDS:
        kind = get_sampler(name)
        assert kind.name == name
        options = kind.options()  # every option has a default
        assert dataclasses.is_dataclass(options)
        # Options are [sampler] keys, but for the Potts settings that no config sets.
        fields = {f.name for f in dataclasses.fields(options)}
        assert fields - keys <= {"beta", "n_iter"}, name


def test_sampler_config_keys_and_defaults_do_not_change():
    import dataclasses

    from uqtwin.engine.sections import SamplerConfig

    defaults = {f.name: f.default for f in dataclasses.fields(SamplerConfig)}
    assert defaults == {
        "kind": "ambiguity", "n_samples": 32, "seed": 0, "correlation_length": 1.0,
        "share_prior": defaults["share_prior"], "binder": None, "solid_prior": None,
        "texture_length": defaults["texture_length"], "psf_sigma": None,
        "correlation_scale": 10.0, "n_draws": 24, "effective_voxels": 400.0,
        "discrepancy": True,
    }


def test_sampler_options_come_from_the_config_once():
    from uqtwin.engine.config import config_from_dict, sampler_options
    from uqtwin.errors import ConfigError
    from uqtwin.sample.kinds import get_sampler

    cfg = config_from_dict({"input": {"path": "a.tif"},
                            "sampler": {"kind": "parametric", "correlation_length": 2.5,
                                        "effective_voxels": 300.0, "n_draws": 7}})
    opts = sampler_options(cfg)
    assert (opts.correlation_length, opts.effective_voxels) == (2.5, 300.0)
    amb = sampler_options(cfg, (1.0, 1.0, 2.0), kind="ambiguity")
    assert amb.n_draws == 7 and amb.psf_sigma == (1.0, 1.0, 2.0)
    # unset (None) keys keep the option's default; unrelated keys are not the kind's
    assert get_sampler("correlated").options_from({"correlation_length": None}) \
        == get_sampler("correlated").options()
    with pytest.raises(ConfigError, match="correlation_length must be > 0"):
        config_from_dict({"input": {"path": "a.tif"},
                          "sampler": {"kind": "correlated", "correlation_length": 0.0}})
    with pytest.raises(ConfigError, match="effective_voxels"):
        config_from_dict({"input": {"path": "a.tif"}, "sampler": {"effective_voxels": 0.0}})
    with pytest.raises(ConfigError, match="unknown sampler kind 'magic'"):
        get_sampler("magic")


def test_build_sampler_looks_the_kind_up():
    from uqtwin.sample.kinds import build_sampler, get_sampler
    from uqtwin.sample.model import PosteriorSampler

    rng = np.random.default_rng(0)
    grey = np.where(np.arange(12) < 6, 50.0, 150.0)[None, None, :] + rng.normal(
        0, 8, (12, 12, 12))
    opts = get_sampler("correlated").options_from({"correlation_length": 1.5})
    sampler, mixture = build_sampler(grey, ("pore", "active"), "correlated", opts, seed=0)
    assert isinstance(sampler, PosteriorSampler) and sampler.correlation_length == 1.5
    assert {"means", "sds", "weights"} <= set(mixture)
    labels = sampler.sample(3)
    np.testing.assert_array_equal(labels, sampler.sample(3))
    assert labels.dtype == np.uint8 and abs(labels.mean() - 0.5) < 0.1


def test_sample_docstring_examples_run():
    import doctest

    from uqtwin.sample import correlated, independent, kinds
    from uqtwin.segment import mixture

    for module in (kinds, correlated, independent, mixture):
        result = doctest.testmod(module)
        assert result.failed == 0, module.__name__
        assert result.attempted > 0, module.__name__


def test_lattice_field_has_unit_variance_and_the_gaussian_correlation():
    from uqtwin.sample.fields import local_gaussian_field

    g = np.stack([local_gaussian_field((10, 10, 10), 3.0, s) for s in range(150)])
    assert np.mean(g.var(axis=0)) == pytest.approx(1.0, abs=0.03)
    big = local_gaussian_field((64, 64, 64), 3.0, 11).astype(float)
    for lag in (2, 3, 5):
        rho = np.mean(big[:, :, :-lag] * big[:, :, lag:]) / big.var()
        assert rho == pytest.approx(np.exp(-(lag**2) / (2 * 3.0**2)), abs=0.06)


def test_a_member_drawn_chunk_by_chunk_is_the_member_drawn_whole():
    from uqtwin.phantoms import image_phantom, spheres_with_binder
    from uqtwin.sample import ambiguity

    truth = spheres_with_binder((24, 40, 72), seed=2)
    vol = image_phantom(truth, (45.0, 105.0, 175.0), blur_sigma=0.8, photons=300.0, seed=3)
    state = ambiguity.create(vol, ("pore", "binder", "active"),
                             ambiguity.AmbiguityOptions(n_draws=2), seed=0)
    member = state.draw_member(np.random.default_rng(5))
    whole = ambiguity.sample_member(state, member, np.random.default_rng(9))
    assert len(np.unique(whole)) == 3
    for chunk in (32, (32, 64, 32), (64, 32, 64)):
        part = ambiguity.sample_member(state, member, np.random.default_rng(9), chunk=chunk)
        np.testing.assert_array_equal(part, whole)
    with pytest.raises(VolumeError, match="multiples of 32"):
        ambiguity.sample_member(state, member, np.random.default_rng(9), chunk=20)


def test_member_law_from_one_table_matches_both_readings_and_the_state_is_lean():
    """A and r interpolated together agree with the two readings evaluated apart; the
    fitted state keeps only the grey volume (the posteriors are recomputed per box)."""
    import pickle

    from uqtwin.phantoms import image_phantom, spheres_with_binder
    from uqtwin.sample import ambiguity

    truth = spheres_with_binder((32, 40, 40), seed=4)
    vol = image_phantom(truth, (45.0, 105.0, 175.0), blur_sigma=0.8, photons=300.0, seed=1)
    state = ambiguity.create(vol, ("pore", "binder", "active"),
                             ambiguity.AmbiguityOptions(n_draws=2), seed=0)
    assert state.plain is None and state.grey_range is not None  # 51 200 voxels: tabulated
    for draw, share in ((None, 0.3), (1, 0.8)):
        a, ratios = state.member_law((), draw, share)
        np.testing.assert_allclose(a, state.active_probability(draw, share), atol=2e-6)
        np.testing.assert_allclose(ratios, state.middle_ratios(), atol=2e-6)
        box = (slice(5, 20), slice(0, 40), slice(33, 40))
        part_a, part_r = state.member_law(box, draw, share)
        np.testing.assert_array_equal(part_a, a[box])
        np.testing.assert_array_equal(part_r, ratios[(slice(None), *box)])
    np.testing.assert_array_equal(state.plain_posteriors()[:, 3:9],
                                  state.plain_posteriors((slice(3, 9),)))
    # pickled for the workers: the float32 volume plus small change, no posteriors
    assert len(pickle.dumps(state)) < 1.2 * state.volume.nbytes + 200_000


def test_large_volumes_are_drawn_chunk_by_chunk_with_the_same_labels(monkeypatch):
    from uqtwin.phantoms import image_phantom, spheres_with_binder
    from uqtwin.sample import ambiguity

    truth = spheres_with_binder((40, 40, 72), seed=5)
    vol = image_phantom(truth, (45.0, 105.0, 175.0), blur_sigma=0.8, photons=300.0, seed=2)
    state = ambiguity.create(vol, ("pore", "binder", "active"),
                             ambiguity.AmbiguityOptions(n_draws=2), seed=0)
    whole = state.sample(11)
    calls = []
    original = ambiguity.sample_member

    def spy(*args, **kwargs):
        calls.append(kwargs.get("chunk"))
        return original(*args, **kwargs)

    monkeypatch.setattr(ambiguity, "sample_member", spy)
    monkeypatch.setattr(ambiguity, "CHUNKED_DRAW_VOXELS", 10_000)
    monkeypatch.setattr(ambiguity, "DRAW_CHUNK", 32)
    np.testing.assert_array_equal(state.sample(11), whole)
    assert calls == [32]

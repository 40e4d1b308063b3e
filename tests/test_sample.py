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

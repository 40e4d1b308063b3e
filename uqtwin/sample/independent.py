"""Voxel-wise independent sampling of microstructures from phase posteriors.

Both samplers of :mod:`uqtwin.sample` draw a label per voxel by inverting that voxel's
categorical CDF at a uniform number (:func:`categorical_from_uniform`). Here the uniforms
are independent; :mod:`uqtwin.sample.correlated` feeds spatially correlated ones, so every
voxel keeps exactly the marginal its posterior gives in both cases.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from uqtwin.errors import VolumeError

#: Largest allowed deviation of a voxel's posterior sum from 1 (float32 rounding is ~1e-7).
SUM_TOLERANCE = 1e-4


def check_posteriors(posteriors: Any) -> np.ndarray:
    """Validate phase posteriors and return them as a float array (phase, z, y, x).

    Parameters
    ----------
    posteriors : ndarray or xarray.DataArray, shape (n_phases, nz, ny, nx)
        Probabilities, phase first.

    Returns
    -------
    ndarray
        The probabilities (float32 or float64, not copied when already float).

    Raises
    ------
    VolumeError
        On a wrong shape, NaN/infinite or negative values, more than 255 phases, or
        sums over phases that differ from 1 by more than :data:`SUM_TOLERANCE`.
    """
    p = posteriors.values if isinstance(posteriors, xr.DataArray) else np.asarray(posteriors)
    if p.ndim != 4 or min(p.shape) < 1:
        raise VolumeError(f"posteriors must be 4-D (phase, z, y, x), got shape {p.shape}")
    if p.dtype.kind != "f":
        p = p.astype(np.float64)
    if p.shape[0] > 255:
        raise VolumeError(f"at most 255 phases fit in uint8 labels, got {p.shape[0]}")
    if not np.all(np.isfinite(p)):
        bad = np.argwhere(~np.isfinite(p))[0]
        raise VolumeError(
            f"posteriors contain NaN or infinite values, first at (phase, z, y, x) = "
            f"{tuple(int(i) for i in bad)}"
        )
    if p.min() < 0:
        raise VolumeError(f"posteriors must be >= 0, got a minimum of {float(p.min()):.3g}")
    dev = np.abs(p.sum(axis=0, dtype=np.float64) - 1.0)
    if dev.max() > SUM_TOLERANCE:
        idx = tuple(int(i) for i in np.unravel_index(np.argmax(dev), dev.shape))
        raise VolumeError(
            f"posteriors must sum to 1 over phases; off by {float(dev.max()):.3g} at "
            f"(z, y, x) = {idx}"
        )
    return p


def categorical_from_uniform(posteriors: Any, u: np.ndarray) -> np.ndarray:
    """Label per voxel by inverting its categorical CDF at a uniform number.

    Voxel ``v`` gets the smallest ``k`` with ``u[v] < P_0(v) + ... + P_k(v)``. With ``u``
    uniform on [0, 1) at a voxel, the label there is distributed exactly as the
    posterior, whatever the joint law of ``u`` across voxels; that is what lets the
    correlated sampler keep the marginals. Only the first ``n_phases - 1`` partial sums
    are compared, so float rounding of the total can never produce a label out of range.

    Parameters
    ----------
    posteriors : ndarray or xarray.DataArray, shape (n_phases, nz, ny, nx)
        Phase probabilities (validated by :func:`check_posteriors`).
    u : ndarray, shape (nz, ny, nx)
        Uniform numbers in [0, 1).

    Returns
    -------
    ndarray of uint8, shape (nz, ny, nx)
        Phase index per voxel.
    """
    p = check_posteriors(posteriors)
    u = np.asarray(u)
    if u.shape != p.shape[1:]:
        raise VolumeError(f"u has shape {u.shape}, posteriors have voxel shape {p.shape[1:]}")
    labels = np.zeros(u.shape, dtype=np.uint8)
    # Accumulate in float64 one phase at a time: no (phase, ...) cumsum temporary.
    cdf = np.zeros(u.shape, dtype=np.float64)
    for k in range(p.shape[0] - 1):
        cdf += p[k]
        labels += u >= cdf
    return labels


def as_generator(seed: int | np.random.Generator) -> np.random.Generator:
    """``seed`` itself if it is a Generator (its stream continues), else a new one from it.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> as_generator(rng) is rng
    True
    """
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def sample_independent(posteriors: Any, seed: int | np.random.Generator) -> np.ndarray:
    """Draw one microstructure with every voxel sampled independently from its posterior.

    Parameters
    ----------
    posteriors : ndarray or xarray.DataArray, shape (n_phases, nz, ny, nx)
        Phase probabilities per voxel, summing to 1 over phases.
    seed : int or numpy.random.Generator
        Seed (same seed, same sample) or a generator to draw from.

    Returns
    -------
    ndarray of uint8, shape (nz, ny, nx)
        Phase index per voxel.
    """
    p = check_posteriors(posteriors)
    u = as_generator(seed).random(p.shape[1:])
    return categorical_from_uniform(p, u)

"""The ``independent`` sampler kind: per-voxel categorical draws from the mixture posteriors
(:func:`uqtwin.sample.independent.sample_independent`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from uqtwin.sample.kinds import SamplerKind
from uqtwin.sample.model import PosteriorSampler


@dataclass(frozen=True)
class IndependentOptions:
    """The ``independent`` kind has no options."""


def fit(volume: Any, phases: Sequence[str], options: IndependentOptions, *, seed: int,
        em: Any) -> PosteriorSampler:
    """The plain mixture's phase posteriors, drawn voxel by voxel.

    Parameters
    ----------
    volume : xarray.DataArray or ndarray, shape (nz, ny, nx)
        The (denoised) grey volume.
    phases : sequence of str
        Phase names in increasing grey order.
    options : IndependentOptions
        The kind's options.
    seed : int, keyword-only
        Seed of the fit.
    em : MixtureModel
        The plain Gaussian mixture already fitted to the volume
        (:func:`~uqtwin.sample.kinds.build_sampler` fits it once for every kind).
        ``seed`` and ``options`` are unused: the posteriors are a closed-form function of
        ``em``.

    Returns
    -------
    PosteriorSampler
        Per-voxel phase posteriors (float32), sampled independently per voxel.
    """
    from uqtwin.segment.mixture import phase_posteriors

    post = np.asarray(phase_posteriors(volume, em, phases=phases).values, np.float32)
    return PosteriorSampler(post, None)


KIND = SamplerKind("independent", IndependentOptions, fit)

"""The ``correlated`` sampler kind: the mixture posteriors' marginals, drawn with spatially
correlated uniforms (:func:`uqtwin.sample.correlated.sample_correlated`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from uqtwin.sample.kinds import SamplerKind, check_positive
from uqtwin.sample.model import PosteriorSampler


@dataclass(frozen=True)
class CorrelatedOptions:
    """Options of the ``correlated`` kind.

    Parameters
    ----------
    correlation_length : float
        Correlation length of the uniforms, voxels (> 0).
    """

    correlation_length: float = 1.0

    def __post_init__(self) -> None:
        check_positive("correlation_length", self.correlation_length)


def fit(volume: Any, phases: Sequence[str], options: CorrelatedOptions, *, seed: int,
        em: Any) -> PosteriorSampler:
    """The plain mixture's phase posteriors, drawn with correlated uniforms.

    Parameters
    ----------
    volume : xarray.DataArray or ndarray, shape (nz, ny, nx)
        The (denoised) grey volume.
    phases : sequence of str
        Phase names in increasing grey order.
    options : CorrelatedOptions
        The kind's options.
    seed : int, keyword-only
        Seed of the fit.
    em : MixtureModel
        The plain Gaussian mixture already fitted to the volume
        (:func:`~uqtwin.sample.kinds.build_sampler` fits it once for every kind).
        ``seed`` is unused: the posteriors are a closed-form function of ``em``.

    Returns
    -------
    PosteriorSampler
        Per-voxel phase posteriors (float32) sampled with uniforms correlated over
        ``options.correlation_length`` voxels.
    """
    from uqtwin.segment.mixture import phase_posteriors

    post = np.asarray(phase_posteriors(volume, em, phases=phases).values, np.float32)
    return PosteriorSampler(post, options.correlation_length)


KIND = SamplerKind("correlated", CorrelatedOptions, fit)

"""The ensemble model: what the engine fits once per run and draws every sample from.

Every sampler kind builds an object with two methods, ``sample(seed) -> labels`` (one
microstructure, phase index per voxel; the same seed gives the same sample) and
``point_posteriors() -> (phase, z, y, x)`` (the per-voxel phase probabilities for the
maps). The engine fits it once (:func:`build_sampler`), persists it with the run, and
calls ``sample`` on every worker:

``independent``
    per-voxel categorical draws from the mixture posteriors
    (:func:`uqtwin.sample.independent.sample_independent`);
``correlated``
    the same marginals with spatially correlated uniforms
    (:func:`uqtwin.sample.correlated.sample_correlated`);
``parametric``
    mixture parameters drawn from their Bayesian (NUTS, coarsened) posterior, partial-volume
    posteriors recomputed per member, correlated draws
    (:class:`uqtwin.sample.parametric.ParametricSampler`);
``ambiguity``
    as ``parametric`` (bootstrap of the coarsened posterior), plus what the grey values
    cannot decide, drawn per member from calibrated priors: where the active phase ends
    (partial-volume edge or not), the solid share of the middle-grey (carbon-binder) domain
    and its texture length (:mod:`uqtwin.sample.ambiguity`). The calibration study in
    ``benchmarks/`` shows it is the only kind whose 90 % intervals of volume fractions and
    surface areas cover the truth near the nominal rate, so it is the default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import xarray as xr

from uqtwin.sample.correlated import sample_correlated
from uqtwin.sample.independent import sample_independent
from uqtwin.sample.priors import (
    BINDER_PRIORS,
    DEFAULT_SHARE_PRIOR,
    DEFAULT_TEXTURE_LENGTH,
    BetaMixture,
)

#: Sampler kinds, in the order of the calibration table.
SAMPLER_KINDS = ("independent", "correlated", "parametric", "ambiguity")


class EnsembleSampler(Protocol):
    """What the engine needs of a fitted sampler."""

    def sample(self, seed: int | np.random.Generator) -> np.ndarray: ...

    def point_posteriors(self) -> np.ndarray: ...


def member_nuisances(sampler: EnsembleSampler, seed: int) -> dict[str, float]:
    """The nuisance values member ``seed`` draws (results variable name -> value).

    Samplers that draw no nuisance (every kind but ``ambiguity``) give an empty dict.
    """
    nuisances = getattr(sampler, "nuisances", None)
    return dict(nuisances(seed)) if nuisances is not None else {}


@dataclass(frozen=True, eq=False)
class PosteriorSampler:
    """Draws from fixed per-voxel posteriors, independently or spatially correlated.

    Parameters
    ----------
    posteriors : ndarray of float32, shape (phase, z, y, x)
        Phase probabilities per voxel.
    correlation_length : float or None
        Correlation length of the uniforms in voxels; ``None`` for independent voxels.
    """

    posteriors: np.ndarray
    correlation_length: float | None = None

    def sample(self, seed: int | np.random.Generator) -> np.ndarray:
        if self.correlation_length is None:
            return sample_independent(self.posteriors, seed)
        return sample_correlated(self.posteriors, seed,
                                 correlation_length=self.correlation_length)

    def point_posteriors(self) -> np.ndarray:
        return self.posteriors


@dataclass(frozen=True)
class SamplerSettings:
    """Everything :func:`build_sampler` needs to know (mirrors ``[sampler]``)."""

    kind: str = "ambiguity"
    correlation_length: float = 1.0
    share_prior: tuple[float, float] = DEFAULT_SHARE_PRIOR
    solid_prior: BetaMixture | tuple[float, float] = BINDER_PRIORS["unknown"]
    texture_length: tuple[float, float] = DEFAULT_TEXTURE_LENGTH
    psf_sigma: tuple[float, float, float] = (0.8, 0.8, 0.8)
    correlation_scale: float = 10.0
    n_draws: int = 24
    effective_voxels: float = 400.0
    max_fit_voxels: int = 200_000


def build_sampler(
    volume: xr.DataArray, phases: tuple[str, ...], settings: SamplerSettings, *, seed: int
) -> tuple[EnsembleSampler, dict[str, Any]]:
    """Fit the ensemble model of ``settings.kind`` to a (denoised) grey volume.

    Returns
    -------
    sampler : EnsembleSampler
    mixture : dict
        The plain Gaussian mixture (means, sds, weights), for the results' provenance.
    """
    from uqtwin.segment.mixture import fit_mixture, phase_posteriors

    em = fit_mixture(volume, len(phases), seed=seed, max_samples=settings.max_fit_voxels,
                     phases=phases)
    kind = settings.kind
    if kind in ("independent", "correlated"):
        post = np.asarray(phase_posteriors(volume, em, phases=phases).values, np.float32)
        length = settings.correlation_length if kind == "correlated" else None
        return PosteriorSampler(post, length), em.to_dict()
    if kind == "parametric":
        from uqtwin.sample.parametric import ParametricOptions, ParametricSampler
        from uqtwin.segment.bayes import BayesOptions, fit_bayesian_mixture

        posterior = fit_bayesian_mixture(
            volume, len(phases), BayesOptions(effective_voxels=settings.effective_voxels),
            seed=seed, init=em, phases=phases)
        options = ParametricOptions(correlation_length=settings.correlation_length)
        return ParametricSampler.create(volume, posterior, phases, options), em.to_dict()
    if kind == "ambiguity":
        from uqtwin.sample import ambiguity

        options = ambiguity.AmbiguityOptions(
            share_prior=tuple(settings.share_prior), solid_prior=settings.solid_prior,
            texture_length=tuple(settings.texture_length),
            effective_voxels=settings.effective_voxels,
            n_draws=settings.n_draws, psf_sigma=tuple(settings.psf_sigma),
            correlation_scale=settings.correlation_scale)
        return ambiguity.create(volume, phases, options, seed=seed, em=em), em.to_dict()
    raise ValueError(f"unknown sampler kind {kind!r}; choose one of {SAMPLER_KINDS}")

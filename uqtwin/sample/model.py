"""The ensemble model: what the engine fits once per run and draws every sample from.

Every sampler kind builds an object with two methods, ``sample(seed) -> labels`` (one
microstructure, phase index per voxel; the same seed gives the same sample) and
``point_posteriors() -> (phase, z, y, x)`` (the per-voxel phase probabilities for the
maps). The engine fits it once (:func:`uqtwin.sample.kinds.build_sampler`, which looks the
kind up in the registry :mod:`uqtwin.sample.kinds`), persists it with the run, and calls
``sample`` on every worker:

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
from typing import Protocol

import numpy as np

from uqtwin.sample.correlated import sample_correlated
from uqtwin.sample.independent import sample_independent


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

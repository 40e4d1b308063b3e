"""The parametric sampler: mixture parameters drawn per member, Potts-regularised, correlated.

Each ensemble member (one seed)

1. picks its own mixture parameters from the coarsened posterior of
   :func:`uqtwin.segment.bayes.fit_bayesian_mixture` (model-form and parameter
   uncertainty: where the thresholds between phases lie, how much of the intermediate grey
   is binder and how much is blurred pore–active interface);
2. recomputes the partial-volume phase posteriors with them
   (:func:`uqtwin.segment.partial_volume.pv_phase_posteriors`);
3. regularises them with a mean-field Potts prior (:func:`uqtwin.sample.mrf.potts_mean_field`),
   so misclassifications come in blobs along interfaces rather than as speckle;
4. draws the labels with spatially correlated uniforms
   (:func:`uqtwin.sample.correlated.sample_correlated`).

Step 1 moves every voxel's probabilities together, so the spread of the volume fractions
no longer collapses with the number of voxels; steps 3–4 keep the surfaces as smooth as
the data allow, so the surface areas are not inflated by speckle.

It always reads intermediate grey as partial volume, so where thin binder films are
blurred it reports too little binder with a narrow interval (12-15 % coverage of the
nominal 90 % in benchmarks/README.md, "Calibration"); :mod:`uqtwin.sample.ambiguity`
spans both readings and is the recommended sampler.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from uqtwin.errors import VolumeError
from uqtwin.sample.correlated import correlation_lengths, sample_correlated
from uqtwin.sample.mrf import potts_mean_field
from uqtwin.segment.bayes import DEFAULT_EFFECTIVE_VOXELS, MixturePosterior
from uqtwin.segment.mixture import grey_values
from uqtwin.segment.partial_volume import pv_phase_posteriors


@dataclass(frozen=True)
class ParametricOptions:
    """Options of the per-member posterior and draw.

    Parameters
    ----------
    beta : float
        Potts coupling per agreeing face-neighbour pair, nats. Default 0: in the
        calibration study any beta >= 0.3 erased the one-voxel binder films of the
        phantoms (their posteriors are too uncertain to resist the prior), see
        benchmarks/README.md.
    n_iter : int
        Mean-field sweeps of the Potts regularisation.
    correlation_length : float or tuple of 3 floats
        Correlation length of the Gaussian field behind the uniforms, voxels (z, y, x).
    effective_voxels : float
        ``n_eff`` of the coarsened posterior of the mixture parameters (see
        :mod:`uqtwin.segment.bayes`), used by the kind's fit
        (:mod:`uqtwin.sample.kinds.parametric`).
    """

    beta: float = 0.0
    n_iter: int = 10
    correlation_length: float | tuple[float, float, float] = 1.0
    effective_voxels: float = DEFAULT_EFFECTIVE_VOXELS

    def __post_init__(self) -> None:
        if not (np.isfinite(self.beta) and self.beta >= 0) or int(self.n_iter) < 0:
            raise VolumeError(f"beta must be >= 0 and n_iter >= 0, got {self.beta!r}, "
                              f"{self.n_iter!r}")
        if np.any(correlation_lengths(self.correlation_length) <= 0):
            raise VolumeError("correlation_length must be > 0, got "
                              f"{self.correlation_length!r}")
        if not (np.isfinite(self.effective_voxels) and self.effective_voxels > 0):
            raise VolumeError(f"effective_voxels must be > 0, got {self.effective_voxels!r}")


@dataclass(frozen=True, eq=False)
class ParametricSampler:
    """Everything a member needs: the grey volume and the parameter draws. Picklable.

    Parameters
    ----------
    volume : ndarray of float32, shape (nz, ny, nx)
        The grey volume that was segmented (after denoising, if any).
    posterior : MixturePosterior
        Parameter draws.
    phases : tuple of str
        Phase names in increasing grey order.
    options : ParametricOptions
        Potts and correlation settings.
    """

    volume: np.ndarray
    posterior: MixturePosterior
    phases: tuple[str, ...]
    options: ParametricOptions = ParametricOptions()

    @classmethod
    def create(cls, volume: Any, posterior: MixturePosterior, phases: Sequence[str],
               options: ParametricOptions = ParametricOptions()) -> ParametricSampler:
        """Build from a DataArray or ndarray volume (stored as float32)."""
        arr = np.asarray(grey_values(volume), dtype=np.float32)
        if posterior.means.shape[1] != len(phases):
            raise VolumeError(
                f"{len(phases)} phases for a posterior of {posterior.means.shape[1]}"
            )
        return cls(arr, posterior, tuple(str(p) for p in phases), options)

    def posteriors(self, draw: int) -> np.ndarray:
        """Regularised phase posteriors of parameter draw ``draw``, float32 (phase, z, y, x)."""
        p = pv_phase_posteriors(self.volume, self.posterior.draw(draw),
                                phases=self.phases).values
        return potts_mean_field(p, self.options.beta, self.options.n_iter)

    def point_posteriors(self) -> np.ndarray:
        """Regularised posteriors of the posterior-median parameters (for the maps)."""
        p = pv_phase_posteriors(self.volume, self.posterior.point(), phases=self.phases).values
        return potts_mean_field(p, self.options.beta, self.options.n_iter)

    def sample(self, seed: int | np.random.Generator) -> np.ndarray:
        """One member: a parameter draw and a correlated label draw, both from ``seed``.

        Parameters
        ----------
        seed : int or numpy.random.Generator
            Same seed, same sample.

        Returns
        -------
        ndarray of uint8, shape (nz, ny, nx)
            Phase index per voxel.
        """
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        draw = int(rng.integers(self.posterior.n_draws))
        return sample_correlated(self.posteriors(draw), rng,
                                 correlation_length=self.options.correlation_length)


def sample_parametric(sampler: ParametricSampler, seed: int | np.random.Generator) -> np.ndarray:
    """Draw one microstructure with :meth:`ParametricSampler.sample` (engine entry point).

    Parameters
    ----------
    sampler : ParametricSampler
        Volume, parameter draws and options.
    seed : int or numpy.random.Generator
        Seed of this member.

    Returns
    -------
    ndarray of uint8, shape (nz, ny, nx)
    """
    return sampler.sample(seed)

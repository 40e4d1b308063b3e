"""The ambiguity sampler: every member draws how much of the intermediate grey is a phase.

Why
---
After the scanner's blur, every pore–active interface passes through the grey value of
the middle phase (binder). Two readings of those intermediate-grey voxels explain the
data almost equally well (the full blurred-label likelihood differs by ~0.005 nats per
voxel between them on tf_electrode crops at blur 0.8):

* **partial volume**: they are pore–active edge voxels
  (:func:`uqtwin.segment.partial_volume.pv_phase_posteriors`; too little binder where
  films are thinner than the point spread);
* **phase**: they are binder (the plain Gaussian mixture,
  :func:`uqtwin.segment.mixture.phase_posteriors`; a false binder shell around every
  particle).

The binder fraction of interface voxels is not identifiable from the grey values, so an
honest ensemble must span both readings rather than pick one. Each member therefore

1. draws ``q`` ~ Beta(a, b), the share of the ambiguous voxels read as the middle phase
   (the nuisance that the data cannot fix; the prior is calibrated on phantoms, see
   benchmarks/README.md, "Calibration");
2. draws mixture parameters from the coarsened posterior
   (:func:`uqtwin.segment.bayes.fit_bootstrap_mixture`) and computes the
   partial-volume posteriors ``P_pv`` with them;
3. uses ``P = (1 - q) P_pv + q P_plain`` per voxel: the law of a voxel's phase given
   ``q``, as the two readings are the two ends of the unidentified direction;
4. draws labels with spatially correlated uniforms
   (:func:`uqtwin.sample.correlated.sample_correlated`), correlation length a multiple
   of the point spread: the data cannot place an interface more finely than the blur, so
   the uncertain voxels along a boundary must move together (coherent boundary shifts).
   A short length (~1-3 psf) makes the boundaries of uncertain voxels speckle and
   inflates the surface areas (+10-20 % on the active phase in the calibration study);
   a long one makes each member a smooth level set of the posteriors.

Because ``q`` is shared by all voxels of a member, the spread of the volume fractions does
not collapse with the number of voxels: it is the spread of the unidentified share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from uqtwin.errors import VolumeError
from uqtwin.sample.correlated import _lengths, sample_correlated
from uqtwin.segment.bayes import (
    DEFAULT_EFFECTIVE_VOXELS,
    BayesOptions,
    MixturePosterior,
    fit_bootstrap_mixture,
)
from uqtwin.segment.mixture import MixtureModel, _values, fit_mixture, phase_posteriors
from uqtwin.segment.partial_volume import pv_phase_posteriors

#: Beta prior of the middle-phase share ``q``, calibrated on the training half of the
#: phantoms of benchmarks/calibration.py (method of moments on the share that reproduces
#: each training phantom's true binder fraction; see benchmarks/README.md).
DEFAULT_SHARE_PRIOR = (2.0, 9.2)


@dataclass(frozen=True)
class AmbiguityOptions:
    """Options of the ambiguity sampler.

    Parameters
    ----------
    share_prior : (float, float)
        Beta(a, b) prior of ``q``, the share of the ambiguous intermediate-grey voxels
        read as the middle phase (0: all partial-volume edges, 1: all middle phase).
        Default :data:`DEFAULT_SHARE_PRIOR` (calibrated; ``(1, 1)`` is the uninformed
        uniform choice, wider).
    effective_voxels : float
        ``n_eff`` of the coarsened posterior of the mixture parameters (see
        :mod:`uqtwin.segment.bayes`).
    n_draws : int
        Parameter draws fitted once at :func:`create`; members pick one at random.
    psf_sigma : float or tuple of 3 floats
        Standard deviation of the scanner's point spread, voxels (z, y, x); sets the
        correlation length of the label draws. Default 0.8 (typical micro-CT).
    correlation_scale : float
        Correlation length of the Gaussian field = ``correlation_scale * psf_sigma``.
        Default 10 (8 voxels at psf 0.8), chosen on the calibration phantoms (32³): 90 %
        coverage rose from 65 % (scale 3) to 80 % (scale 30) on the calibration half
        while the widths tripled; beyond ~10 the field is nearly constant over a 32³
        volume, a setting that would not transfer to larger volumes (see
        benchmarks/README.md, "Calibration").
    """

    share_prior: tuple[float, float] = DEFAULT_SHARE_PRIOR
    effective_voxels: float = DEFAULT_EFFECTIVE_VOXELS
    n_draws: int = 24
    psf_sigma: float | tuple[float, float, float] = 0.8
    correlation_scale: float = 10.0

    def __post_init__(self) -> None:
        a, b = (float(v) for v in self.share_prior)
        if not (np.isfinite(a) and np.isfinite(b) and a > 0 and b > 0):
            raise VolumeError(f"share_prior must be two numbers > 0, got {self.share_prior!r}")
        if int(self.n_draws) < 1:
            raise VolumeError(f"n_draws must be >= 1, got {self.n_draws!r}")
        if not (np.isfinite(self.correlation_scale) and self.correlation_scale >= 0):
            raise VolumeError(f"correlation_scale must be >= 0, got {self.correlation_scale!r}")
        _lengths(self.psf_sigma)

    @property
    def correlation_length(self) -> np.ndarray:
        """Correlation length of the label field per axis (z, y, x), voxels."""
        return self.correlation_scale * _lengths(self.psf_sigma)


@dataclass(frozen=True, eq=False)
class AmbiguityState:
    """Everything a member needs, fitted once by :func:`create`. Picklable.

    Parameters
    ----------
    volume : ndarray of float32, shape (nz, ny, nx)
        The grey volume that was segmented (after denoising).
    phases : tuple of str
        Phase names in increasing grey order.
    options : AmbiguityOptions
        The options used.
    em : MixtureModel
        Plain Gaussian mixture (the "phase" reading).
    plain : ndarray of float32, shape (phase, z, y, x)
        Its phase posteriors.
    posterior : MixturePosterior
        Draws of the partial-volume mixture parameters (the "partial volume" reading).
    """

    volume: np.ndarray
    phases: tuple[str, ...]
    options: AmbiguityOptions
    em: MixtureModel
    plain: np.ndarray
    posterior: MixturePosterior

    def pv_posteriors(self, draw: int | None = None) -> np.ndarray:
        """Partial-volume posteriors of parameter draw ``draw`` (None: posterior medians)."""
        model = self.posterior.point() if draw is None else self.posterior.draw(draw)
        return pv_phase_posteriors(self.volume, model, phases=self.phases).values

    def member_posteriors(self, draw: int | None, share: float) -> np.ndarray:
        """``(1 - share) P_pv(draw) + share P_plain``, float32 (phase, z, y, x)."""
        p = (1.0 - share) * self.pv_posteriors(draw) + share * self.plain
        # Renormalise away float32 rounding so check_posteriors' 1e-4 tolerance holds.
        return (p / p.sum(axis=0, keepdims=True)).astype(np.float32)

    def point_posteriors(self) -> np.ndarray:
        """Ensemble-marginal phase probabilities for the maps, float32 (phase, z, y, x).

        The mixture of the two readings is linear in ``q``, so the prior mean of ``q``
        gives the exact marginal over ``q`` (at the posterior-median parameters).
        """
        a, b = self.options.share_prior
        return self.member_posteriors(None, a / (a + b))

    def sample(self, seed: int | np.random.Generator) -> np.ndarray:
        """One member; see :func:`sample`."""
        return sample(self, seed)


def create(
    volume: Any,
    phases: Sequence[str],
    options: AmbiguityOptions = AmbiguityOptions(),
    *,
    seed: int = 0,
    em: MixtureModel | None = None,
    posterior: MixturePosterior | None = None,
) -> AmbiguityState:
    """Fit both readings once (~2-6 s for 32-64³).

    Parameters
    ----------
    volume : xarray.DataArray or ndarray, shape (nz, ny, nx)
        Grey volume as segmented (denoise it first, as the pipeline does).
    phases : sequence of str
        Phase names in increasing grey order.
    options : AmbiguityOptions
        Prior of ``q``, coarsening, point spread.
    seed : int
        Seed of the fits (same seed, same state).
    em : MixtureModel, optional
        A plain mixture already fitted to ``volume`` (default: :func:`fit_mixture`).
    posterior : MixturePosterior, optional
        Partial-volume parameter draws already fitted to ``volume`` (default:
        :func:`fit_bootstrap_mixture`; a NUTS posterior from
        :func:`uqtwin.segment.bayes.fit_bayesian_mixture` also works).

    Returns
    -------
    AmbiguityState
    """
    names = tuple(str(p) for p in phases)
    arr = np.asarray(_values(volume), dtype=np.float32)
    if arr.ndim != 3:
        raise VolumeError(f"volume must be 3-D, got shape {arr.shape}")
    if em is None:
        em = fit_mixture(arr, len(names), seed=seed, phases=names)
    plain = phase_posteriors(arr, em, phases=names).values.astype(np.float32)
    if posterior is None:
        bayes = BayesOptions(effective_voxels=options.effective_voxels,
                             n_draws=int(options.n_draws))
        posterior = fit_bootstrap_mixture(arr, len(names), bayes, seed=seed, init=em,
                                          phases=names)
    if posterior.means.shape[1] != len(names):
        raise VolumeError(f"{len(names)} phases for a posterior of {posterior.means.shape[1]}")
    return AmbiguityState(arr, names, options, em, plain, posterior)


def sample(state: AmbiguityState, seed: int | np.random.Generator) -> np.ndarray:
    """Draw one microstructure (engine entry point).

    Parameters
    ----------
    state : AmbiguityState
        From :func:`create`.
    seed : int or numpy.random.Generator
        Seed of this member: picks the parameter draw, the share ``q`` and the
        correlated uniforms (same seed, same sample).

    Returns
    -------
    ndarray of uint8, shape (nz, ny, nx)
        Phase index per voxel.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    draw = int(rng.integers(state.posterior.n_draws))
    a, b = state.options.share_prior
    share = float(stats.beta.ppf(rng.random(), a, b))
    return sample_correlated(state.member_posteriors(draw, share), rng,
                             correlation_length=state.options.correlation_length)


def fit_share_prior(shares: Sequence[float], *, floor: float = 1.0) -> tuple[float, float]:
    """Beta(a, b) by the method of moments from the shares that reproduce known truths.

    Parameters
    ----------
    shares : sequence of float
        For each training phantom, the ``q`` at which the point posteriors' mean
        middle-phase probability equals its true volume fraction (clipped to [0.01, 0.99]).
    floor : float
        Lower bound of ``a`` and ``b``: at >= 1 the prior never has a pole at 0 or 1
        (which would put members at the two implausible extremes).

    Returns
    -------
    (float, float)
    """
    q = np.clip(np.asarray(shares, dtype=float), 0.01, 0.99)
    m, v = float(q.mean()), float(q.var(ddof=1)) if q.size > 1 else 0.0
    # A variance at least that of the sample mean's own uncertainty: a handful of
    # training phantoms must not yield an overconfident prior.
    v = max(v, 0.01)
    nu = max(m * (1 - m) / v - 1.0, 2 * floor)
    return max(m * nu, floor), max((1 - m) * nu, floor)

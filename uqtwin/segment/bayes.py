"""Bayesian partial-volume mixture of the grey histogram, sampled by NUTS (numpyro).

The mixture of :mod:`uqtwin.segment.partial_volume` (pure phases plus a uniform-mixing
class between the lowest and highest grey phases) gets priors on its means, noise levels
and weights, and NUTS draws its parameters from the posterior given a random subsample
of voxels. Each ensemble member of the parametric sampler then uses its own draw.

Honest width: a coarsened (power) posterior
--------------------------------------------
With ``N`` voxels the exact posterior of a correctly specified mixture shrinks like
``1/sqrt(N)``: for a 64³ volume the porosity it implies is pinned to ~0.001, while the
error against the truth is 0.01-0.03, caused by what the model leaves out (the
non-uniform mixing fractions of real interfaces, thin binder films that no point-wise
model can tell from a blurred edge, signal-dependent noise, denoiser smoothing). Voxels
are also far from independent after the point spread and denoising. The likelihood is
therefore raised to the power ``n_eff / n`` (Miller and Dunson's coarsened posterior,
JASA 2019): the parameters are as uncertain as if only ``n_eff`` independent voxels had
been seen. ``n_eff`` is the one calibrated constant; ``benchmarks/calibration.py`` sets it
on training phantoms and validates it on held-out ones. It does not depend on the volume
size, because the model-form error does not average away with more voxels.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from uqtwin.errors import PhaseError
from uqtwin.segment.mixture import MixtureModel, fit_mixture, grey_values
from uqtwin.segment.partial_volume import PartialVolumeMixture, class_log_densities

#: Calibrated effective number of independent voxels of the coarsened posterior (see the
#: module docstring and benchmarks/README.md, "Calibration").
DEFAULT_EFFECTIVE_VOXELS = 400.0


@dataclass(frozen=True)
class BayesOptions:
    """Options of the Bayesian mixture fit.

    Parameters
    ----------
    n_fit : int
        Voxels subsampled for the fit (the likelihood is tempered to ``effective_voxels``
        anyway, so more only costs time).
    effective_voxels : float
        ``n_eff`` of the coarsened posterior (likelihood power ``n_eff / n_fit``).
    n_warmup, n_draws : int
        NUTS warm-up iterations and kept draws (one chain).
    partial_volume : bool
        Include the mixed pore–active class (``False``: plain Gaussian mixture).
    mean_prior_sd : float
        Prior standard deviation of each mean around the EM estimate, as a fraction of the
        grey range spanned by the EM means (weakly informative; the tight noise-level
        prior is what keeps the middle phase from melting into the mixed plateau).
    """

    n_fit: int = 1500
    effective_voxels: float = DEFAULT_EFFECTIVE_VOXELS
    n_warmup: int = 120
    n_draws: int = 80
    partial_volume: bool = True
    mean_prior_sd: float = 0.25

    def __post_init__(self) -> None:
        if int(self.n_fit) < 100 or int(self.n_draws) < 1 or int(self.n_warmup) < 1:
            raise PhaseError("n_fit must be >= 100 and n_warmup, n_draws >= 1")
        if not (np.isfinite(self.effective_voxels) and self.effective_voxels > 0):
            raise PhaseError(f"effective_voxels must be > 0, got {self.effective_voxels!r}")
        if not self.mean_prior_sd > 0:
            raise PhaseError(f"mean_prior_sd must be > 0, got {self.mean_prior_sd!r}")


@dataclass(frozen=True, eq=False)
class MixturePosterior:
    """Draws of the mixture parameters from the (coarsened) posterior.

    Parameters
    ----------
    means, sds, weights : ndarray, shape (n_draws, n_phases)
        Pure-phase means and noise standard deviations (grey units) and pure weights.
    pair_weights : ndarray, shape (n_draws, n_pairs)
        Weights of the mixed classes.
    pairs : tuple of (int, int)
        Phase pairs with a mixed class.
    power : float
        Likelihood power used (``effective_voxels / n_fit``).
    """

    means: np.ndarray
    sds: np.ndarray
    weights: np.ndarray
    pair_weights: np.ndarray
    pairs: tuple[tuple[int, int], ...]
    power: float

    @property
    def n_draws(self) -> int:
        return int(self.means.shape[0])

    def draw(self, index: int) -> PartialVolumeMixture:
        """Draw ``index`` as a mixture."""
        i = int(index) % self.n_draws
        return PartialVolumeMixture(tuple(self.means[i]), tuple(self.sds[i]),
                                    tuple(self.weights[i]), self.pairs,
                                    tuple(self.pair_weights[i]))

    def point(self) -> PartialVolumeMixture:
        """Posterior medians (weights renormalised): the point estimate."""
        w = np.concatenate([np.median(self.weights, 0), np.median(self.pair_weights, 0)])
        w /= w.sum()
        k = self.means.shape[1]
        return PartialVolumeMixture(tuple(np.median(self.means, 0)),
                                    tuple(np.median(self.sds, 0)), tuple(w[:k]),
                                    self.pairs, tuple(w[k:]))

    def interval(self, name: str, prob: float = 0.9) -> np.ndarray:
        """Equal-tailed credible interval of a parameter array, shape (2, n)."""
        a = getattr(self, name)
        return np.quantile(a, [(1 - prob) / 2, (1 + prob) / 2], axis=0)


def _numpyro_model(z, prior_mu, prior_sd, mu_scale, power, pairs=()):
    # Imported here so that importing uqtwin.segment does not start JAX.
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    from jax.scipy.special import log_ndtr, logsumexp

    k = prior_mu.shape[0]
    mu0 = numpyro.sample("mu0", dist.Normal(prior_mu[0], mu_scale))
    # Positive increments keep the means in grey order (the phase names depend on it).
    gaps = jnp.maximum(jnp.diff(prior_mu), 1e-3)
    inc = numpyro.sample("inc", dist.LogNormal(jnp.log(gaps), 0.5).to_event(1))
    mu = jnp.concatenate([mu0[None], mu0 + jnp.cumsum(inc)])
    # Noise levels near the measured noise (photon noise differs between phases by a
    # factor ~sqrt(contrast)): a pure phase cannot turn into a broad bump standing in for
    # partial volume.
    sd = numpyro.sample("sd", dist.LogNormal(jnp.log(prior_sd), 0.4).to_event(1))
    w = numpyro.sample("w", dist.Dirichlet(jnp.ones(k + len(pairs))))
    comps = [jnp.log(w[i]) + dist.Normal(mu[i], sd[i]).log_prob(z) for i in range(k)]
    for j, (a, b) in enumerate(pairs):
        s = 0.5 * (sd[a] + sd[b])
        za, zb = (z - mu[a]) / s, (z - mu[b]) / s
        lo = log_ndtr(za) + jnp.log1p(-jnp.exp(jnp.minimum(log_ndtr(zb) - log_ndtr(za), -1e-7)))
        hi = log_ndtr(-zb) + jnp.log1p(-jnp.exp(jnp.minimum(log_ndtr(-za) - log_ndtr(-zb),
                                                              -1e-7)))
        log_mass = jnp.where(z > mu[b], hi, lo)
        comps.append(jnp.log(w[k + j]) + log_mass - jnp.log(mu[b] - mu[a]))
    numpyro.deterministic("mu", mu)
    numpyro.factor("loglik", power * jnp.sum(logsumexp(jnp.stack(comps), axis=0)))


_MODELS: dict = {}


def _model_for(pairs):
    # ``pairs`` drives Python control flow, so it must stay static (not a traced argument).
    if pairs not in _MODELS:
        _MODELS[pairs] = functools.partial(_numpyro_model, pairs=pairs)
    return _MODELS[pairs]


def fit_bayesian_mixture(
    volume: xr.DataArray | np.ndarray,
    n_phases: int,
    options: BayesOptions = BayesOptions(),
    *,
    seed: int = 0,
    init: MixtureModel | None = None,
    phases: Sequence[str] | None = None,
) -> MixturePosterior:
    """Draw mixture parameters from their coarsened posterior by NUTS.

    Parameters
    ----------
    volume : xarray.DataArray or ndarray, shape (nz, ny, nx)
        Grey volume (as segmented: raw or denoised).
    n_phases : int
        Number of pure phases.
    options : BayesOptions
        Subsample size, coarsening, NUTS lengths, mixed class on/off.
    seed : int
        Seed of the subsample and of NUTS (same seed, same draws).
    init : MixtureModel, optional
        EM fit giving the prior centres; default :func:`fit_mixture` on the volume.
    phases : sequence of str, optional
        Phase names, for error messages.

    Returns
    -------
    MixturePosterior
        ``options.n_draws`` draws, grey units. Takes ~5-15 s (JIT compilation included).
    """
    import jax
    from numpyro.infer import MCMC, NUTS, init_to_median

    arr = grey_values(volume).reshape(-1)
    rng = np.random.default_rng(seed)
    x = arr[rng.choice(arr.size, size=min(arr.size, int(options.n_fit)), replace=False)]
    x = x.astype(np.float64)
    if init is None:
        init = fit_mixture(volume, n_phases, seed=seed, phases=phases)
    if init.n_components != n_phases:
        raise PhaseError(f"init has {init.n_components} components, expected {n_phases}")
    # Standardise so that NUTS adapts one step size for all parameters.
    centre, scale = float(np.mean(x)), float(np.std(x)) or 1.0
    z = (x - centre) / scale
    prior_mu = (np.asarray(init.means) - centre) / scale
    spread = max(float(prior_mu[-1] - prior_mu[0]), 1e-3)
    # The EM sds of the outer phases are close to the noise; the middle phase's EM sd is
    # inflated by the partial-volume plateau, so centre every prior on the outer ones.
    em_sd = np.asarray(init.sds)
    base = float(np.exp(np.mean(np.log(em_sd[[0, -1]])))) if n_phases > 1 else em_sd[0]
    prior_sd = (np.full(n_phases, base) if options.partial_volume else em_sd) / scale
    pairs = ((0, n_phases - 1),) if options.partial_volume and n_phases > 1 else ()
    power = min(1.0, float(options.effective_voxels) / z.size)
    # Each fit compiles its sampler (a few seconds; reusing the MCMC object across fits
    # was measured and saves nothing): the engine fits once per run, not per member.
    # Always in 32-bit JAX: other libraries switch jax_enable_x64 on for the whole process
    # when imported (PyBaMM does), which changed every draw (the demo's volume fractions
    # moved by up to 0.05); the same seed must give the same numbers whatever was imported.
    with jax.enable_x64(False):
        mcmc = MCMC(NUTS(_model_for(pairs), init_strategy=init_to_median,
                         target_accept_prob=0.85),
                    num_warmup=int(options.n_warmup), num_samples=int(options.n_draws),
                    num_chains=1, progress_bar=False, jit_model_args=True)
        mcmc.run(jax.random.PRNGKey(int(rng.integers(2**31 - 1))), z, prior_mu, prior_sd,
                 options.mean_prior_sd * spread, power)
        s = {k: np.asarray(v, dtype=np.float64) for k, v in mcmc.get_samples().items()}
    w = s["w"] / s["w"].sum(axis=1, keepdims=True)
    return MixturePosterior(
        means=centre + scale * s["mu"], sds=scale * s["sd"], weights=w[:, :n_phases],
        pair_weights=w[:, n_phases:], pairs=pairs, power=power,
    )


def _neg_log_post(theta, z, counts, prior_mu, prior_sd, mu_scale, gaps, pairs):
    """Negative log posterior of the standardised partial-volume mixture (numpy).

    ``theta`` = (mu0, log increments, log sds, free weight logits); the same priors as
    :func:`_numpyro_model` (the flat Dirichlet becomes ``sum(log w)`` through the softmax
    Jacobian, which also keeps every weight off zero).
    """
    k = prior_mu.size
    m = k + len(pairs)
    mu0, linc, lsd = theta[0], theta[1:k], theta[k:2 * k]
    logits = np.concatenate([[0.0], theta[2 * k:2 * k + m - 1]])
    mu = mu0 + np.concatenate([[0.0], np.cumsum(np.exp(linc))])
    sd = np.exp(lsd)
    lw = logits - np.logaddexp.reduce(logits)
    model = PartialVolumeMixture(tuple(mu), tuple(sd), tuple(np.exp(lw[:k])), pairs,
                                 tuple(np.exp(lw[k:])))
    lp = class_log_densities(z, model)
    top = lp.max(axis=0)
    loglik = np.sum(counts * (top + np.log(np.sum(np.exp(lp - top), axis=0))))
    prior = (-0.5 * ((mu0 - prior_mu[0]) / mu_scale) ** 2
             - 0.5 * np.sum(((linc - np.log(gaps)) / 0.5) ** 2)
             - 0.5 * np.sum(((lsd - np.log(prior_sd)) / 0.4) ** 2) + np.sum(lw))
    return -(loglik + prior)


def fit_bootstrap_mixture(
    volume: xr.DataArray | np.ndarray,
    n_phases: int,
    options: BayesOptions = BayesOptions(),
    *,
    seed: int = 0,
    init: MixtureModel | None = None,
    phases: Sequence[str] | None = None,
) -> MixturePosterior:
    """Fast stand-in for :func:`fit_bayesian_mixture`: an n_eff-out-of-n bootstrap.

    Each draw is the posterior mode (same priors as the NUTS model) given
    ``options.effective_voxels`` voxels drawn at random from the volume. The spread of
    such modes approximates the coarsened posterior whose likelihood counts as
    ``n_eff`` independent voxels (the weighted-likelihood bootstrap of Newton and
    Raftery, JRSS-B 1994, at sample size ``n_eff``), at ~0.05 s per draw instead of the
    10-30 s of a NUTS run, with no JAX compilation.

    Parameters
    ----------
    volume : xarray.DataArray or ndarray, shape (nz, ny, nx)
        Grey volume (as segmented).
    n_phases : int
        Number of pure phases.
    options : BayesOptions
        ``effective_voxels`` (bootstrap size), ``n_draws`` (number of draws),
        ``n_fit`` (voxels for the starting fit), ``mean_prior_sd``, ``partial_volume``.
    seed : int
        Seed of the voxel draws (same seed, same posterior).
    init : MixtureModel, optional
        EM fit giving the prior centres; default :func:`fit_mixture` on the volume.
    phases : sequence of str, optional
        Phase names, for error messages.

    Returns
    -------
    MixturePosterior
        ``options.n_draws`` draws, grey units, ``power = n_eff / n_fit``.
    """
    from scipy.optimize import minimize

    arr = grey_values(volume).reshape(-1).astype(np.float64)
    rng = np.random.default_rng(seed)
    if init is None:
        init = fit_mixture(volume, n_phases, seed=seed, phases=phases)
    if init.n_components != n_phases:
        raise PhaseError(f"init has {init.n_components} components, expected {n_phases}")
    centre, scale = float(np.mean(arr)), float(np.std(arr)) or 1.0
    prior_mu = (np.asarray(init.means) - centre) / scale
    spread = max(float(prior_mu[-1] - prior_mu[0]), 1e-3)
    gaps = np.maximum(np.diff(prior_mu), 1e-3)
    em_sd = np.asarray(init.sds)
    base = float(np.exp(np.mean(np.log(em_sd[[0, -1]])))) if n_phases > 1 else em_sd[0]
    prior_sd = (np.full(n_phases, base) if options.partial_volume else em_sd) / scale
    pairs = ((0, n_phases - 1),) if options.partial_volume and n_phases > 1 else ()
    args = (prior_mu, prior_sd, options.mean_prior_sd * spread, gaps, pairs)
    m = n_phases + len(pairs)
    w0 = np.concatenate([np.asarray(init.weights) * 0.8, np.full(len(pairs), 0.2)])
    theta0 = np.concatenate([[prior_mu[0]], np.log(gaps), np.log(prior_sd),
                             np.log(w0[1:] / w0[0])])
    # The likelihood is evaluated on a fine histogram (bins of ~1/20 of the smallest
    # noise level) so one evaluation costs ~400 points whatever the volume size.
    z_all = (arr - centre) / scale
    n_bins = int(np.clip(20 * np.ptp(z_all) / max(prior_sd.min(), 1e-6), 64, 400))
    hist, edges = np.histogram(z_all, bins=n_bins)
    z = 0.5 * (edges[1:] + edges[:-1])
    p_bin = hist / hist.sum()
    # Start every bootstrap fit from the mode given ``n_fit`` voxels' worth of the
    # histogram: the draws then only move as far as the resampling pushes them (and do
    # not fall into label swaps).
    n_eff = int(max(10, round(options.effective_voxels)))
    draws = np.empty((int(options.n_draws), theta0.size))
    # Trial steps of the optimiser far into the tails underflow a log-density to -inf
    # harmlessly (the step is rejected); keep numpy from printing it.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        theta0 = minimize(_neg_log_post, theta0, args=(z, p_bin * int(options.n_fit)) + args,
                          method="L-BFGS-B").x
        for i in range(int(options.n_draws)):
            counts = rng.multinomial(n_eff, p_bin).astype(np.float64)
            # 40 iterations from the common mode suffice: the draws are small moves.
            draws[i] = minimize(_neg_log_post, theta0, args=(z, counts) + args,
                                method="L-BFGS-B", options={"maxiter": 40}).x
    k = n_phases
    mu = draws[:, :1] + np.concatenate([np.zeros((len(draws), 1)),
                                        np.cumsum(np.exp(draws[:, 1:k]), axis=1)], axis=1)
    logits = np.concatenate([np.zeros((len(draws), 1)), draws[:, 2 * k:2 * k + m - 1]], axis=1)
    w = np.exp(logits - logits.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    return MixturePosterior(
        means=centre + scale * mu, sds=scale * np.exp(draws[:, k:2 * k]),
        weights=w[:, :k], pair_weights=w[:, k:], pairs=pairs,
        power=n_eff / max(int(options.n_fit), 1),
    )

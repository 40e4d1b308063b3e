"""The ``parametric`` sampler kind: mixture parameters drawn per member from their
coarsened Bayesian (NUTS) posterior (:class:`uqtwin.sample.parametric.ParametricSampler`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from uqtwin.sample.kinds import SamplerKind
from uqtwin.sample.parametric import ParametricOptions, ParametricSampler


def fit(volume: Any, phases: Sequence[str], options: ParametricOptions, *, seed: int,
        em: Any) -> ParametricSampler:
    """Fit the coarsened posterior of the partial-volume mixture (NUTS), started at ``em``.

    Parameters
    ----------
    volume : xarray.DataArray or ndarray, shape (nz, ny, nx)
        The (denoised) grey volume.
    phases : sequence of str
        Phase names in increasing grey order.
    options : ParametricOptions
        The kind's options.
    seed : int, keyword-only
        Seed of the fit.
    em : MixtureModel
        The plain Gaussian mixture already fitted to the volume
        (:func:`~uqtwin.sample.kinds.build_sampler` fits it once for every kind).

    Returns
    -------
    ParametricSampler
        Each member picks one of the posterior's parameter draws, then draws its labels
        (correlated), both from its seed. The likelihood is tempered to
        ``options.effective_voxels`` so that the posterior is not overconfident from
        millions of correlated voxels.
    """
    from uqtwin.segment.bayes import BayesOptions, fit_bayesian_mixture

    posterior = fit_bayesian_mixture(
        volume, len(phases), BayesOptions(effective_voxels=options.effective_voxels),
        seed=seed, init=em, phases=phases)
    return ParametricSampler.create(volume, posterior, phases, options)


KIND = SamplerKind("parametric", ParametricOptions, fit)

"""The ``ambiguity`` sampler kind (the default): members draw what the grey values cannot
decide from calibrated priors (:mod:`uqtwin.sample.ambiguity`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from uqtwin.sample import ambiguity
from uqtwin.sample.ambiguity import AmbiguityOptions, AmbiguityState
from uqtwin.sample.kinds import SamplerKind


def fit(volume: Any, phases: Sequence[str], options: AmbiguityOptions, *, seed: int,
        em: Any) -> AmbiguityState:
    """Fit both readings of the grey values once (:func:`uqtwin.sample.ambiguity.create`).

    Parameters
    ----------
    volume : xarray.DataArray or ndarray, shape (nz, ny, nx)
        The (denoised) grey volume.
    phases : sequence of str
        Phase names in increasing grey order.
    options : AmbiguityOptions
        The kind's options.
    seed : int, keyword-only
        Seed of the fit.
    em : MixtureModel
        The plain Gaussian mixture already fitted to the volume
        (:func:`~uqtwin.sample.kinds.build_sampler` fits it once for every kind).

    Returns
    -------
    AmbiguityState
        The fitted state; each member's ``sample(seed)`` draws its nuisances and then its
        microstructure.
    """
    return ambiguity.create(volume, phases, options, seed=seed, em=em)


KIND = SamplerKind("ambiguity", AmbiguityOptions, fit)

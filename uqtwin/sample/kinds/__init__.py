"""The registry of sampler kinds: one module per kind, one entry per module.

A kind module defines ``KIND``, a :class:`SamplerKind`: its name, its options (ONE frozen
dataclass whose fields are named like the ``[sampler]`` keys it reads and which validates
itself in ``__post_init__``) and its ``fit`` (the fitted :class:`EnsembleSampler`). Adding
a sampler is one module plus one line in ``_MODULES`` below; the config check, the engine
and ``uqtwin run`` pick it up. Kind modules load on first use, so listing the kinds does
not import scikit-learn or JAX.

Examples
--------
>>> list(SAMPLER_KINDS)
['independent', 'correlated', 'parametric', 'ambiguity']
>>> get_sampler("correlated").options_from({"correlation_length": 2.0, "n_draws": 5})
CorrelatedOptions(correlation_length=2.0)
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from uqtwin.errors import ConfigError

#: Kind name -> module defining ``KIND``, in the order of the calibration table.
_MODULES = {
    "independent": "uqtwin.sample.kinds.independent",
    "correlated": "uqtwin.sample.kinds.correlated",
    "parametric": "uqtwin.sample.kinds.parametric",
    "ambiguity": "uqtwin.sample.kinds.ambiguity",
}
SAMPLER_KINDS: tuple[str, ...] = tuple(_MODULES)
#: The best sampler the project has (by the calibration study in benchmarks/README.md);
#: used when ``[sampler] kind`` is not given.
DEFAULT_SAMPLER = "ambiguity"


@dataclass(frozen=True)
class SamplerKind:
    """One registered sampler kind.

    Parameters
    ----------
    name : str
        The ``[sampler] kind`` value.
    options : type
        Frozen dataclass of the kind's options; its fields are ``[sampler]`` keys and its
        ``__post_init__`` validates them.
    fit : callable
        ``fit(volume, phases, options, *, seed, em) -> EnsembleSampler``: fits the kind's
        model to a (denoised) grey volume, given the plain Gaussian mixture ``em``.
    """

    name: str
    options: type
    fit: Callable[..., Any]

    def options_from(self, settings: Mapping[str, Any]) -> Any:
        """The kind's options from the ``[sampler]`` settings (keys it does not use are
        ignored, unset ones (None) keep the option's default)."""
        names = {f.name for f in dataclasses.fields(self.options)}
        return self.options(**{k: v for k, v in settings.items()
                               if k in names and v is not None})


def get_sampler(name: str) -> SamplerKind:
    """The registered kind ``name``; a :class:`~uqtwin.errors.ConfigError` lists the known.

    The kind's module is imported on first use, so unused kinds cost nothing.

    Parameters
    ----------
    name : str
        A sampler kind (one of :data:`SAMPLER_KINDS`).

    Returns
    -------
    SamplerKind
        The kind's ``KIND`` entry (its options class and ``fit``).

    Raises
    ------
    ConfigError
        If ``name`` is not a registered kind.
    """
    if name not in _MODULES:
        raise ConfigError(f"unknown sampler kind {name!r}; choose one of "
                          f"{', '.join(SAMPLER_KINDS)}")
    return importlib.import_module(_MODULES[name]).KIND


def build_sampler(
    volume: Any, phases: tuple[str, ...], kind: str, options: Any, *, seed: int,
    max_fit_voxels: int = 200_000,
) -> tuple[Any, dict[str, Any]]:
    """Fit the ensemble model of sampler ``kind`` to a (denoised) grey volume.

    Parameters
    ----------
    volume : xarray.DataArray or ndarray, shape (nz, ny, nx)
        Grey volume as segmented.
    phases : tuple of str
        Phase names in increasing grey order.
    kind : str
        A registered kind (:data:`SAMPLER_KINDS`).
    options : dataclass
        The kind's options (:meth:`SamplerKind.options_from`).
    seed : int
        Seed of the fits.
    max_fit_voxels : int
        Voxels subsampled for the plain Gaussian mixture every kind starts from.

    Returns
    -------
    sampler : EnsembleSampler
    mixture : dict
        The plain Gaussian mixture (means, sds, weights), for the results' provenance.
    """
    from uqtwin.segment.mixture import fit_mixture

    entry = get_sampler(kind)
    em = fit_mixture(volume, len(phases), seed=seed, max_samples=max_fit_voxels,
                     phases=phases)
    return entry.fit(volume, phases, options, seed=seed, em=em), em.to_dict()


def check_positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is finite and > 0 (>= 0).

    Parameters
    ----------
    name : str
        The option's name, for the message.
    value : float
        The value to check.
    allow_zero : bool, optional, keyword-only
        Accept 0 as well; default False.

    Raises
    ------
    ValueError
        If ``value`` is not finite, or not > 0 (not >= 0 with ``allow_zero``).

    Examples
    --------
    >>> from uqtwin.sample.kinds import check_positive
    >>> check_positive("beta", 0.0, allow_zero=True)
    >>> check_positive("beta", 0.0)
    Traceback (most recent call last):
        ...
    ValueError: beta must be > 0, got 0.0
    """
    ok = np.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")

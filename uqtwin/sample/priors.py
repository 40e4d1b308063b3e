"""Calibrated default priors of the ambiguity sampler (:mod:`uqtwin.sample.ambiguity`).

Kept apart from the sampler so that the configuration can name them without importing
the fitting code. Each was fitted by the leave-one-family-out calibration study
(``benchmarks/calibration.py``; figures and command in ``benchmarks/README.md``,
"Calibration") on every geometry family of phantoms.

What the grey values cannot identify
------------------------------------
Below the scanner's blur, a middle-grey (carbon-binder) domain that is solid and one that
is nanoporous look alike. The solid share ``s`` of that domain therefore has one prior
per binder material (:data:`BINDER_PRIORS`): ``"solid"`` (fitted on the families whose
binder is solid: films, bridges, resolved domains), ``"nanoporous"`` (fitted on the
families whose binder domain holds pores below the resolution) and ``"unknown"``, the
default, an equal mixture of both, because the data cannot choose between them. A user
who knows the binder (from the electrode recipe, BET or porosimetry) sets
``[sampler] binder``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from uqtwin._resources import resource_dir
from uqtwin.errors import VolumeError

#: The calibration card (in ``models/``) that the study writes and this module reads.
CALIBRATION_CARD = "calibration/ambiguity.json"


@functools.cache
def calibration_card() -> dict[str, Any]:
    """The ambiguity sampler's calibration card (priors, discrepancy, calibrated range).

    Written by ``benchmarks/calibration.py``; read-only here (cached, so the file is read
    once per process).
    """
    return json.loads((resource_dir("models") / CALIBRATION_CARD).read_text())


def _pair(key: str) -> tuple[float, float]:
    a, b = calibration_card()[key]
    return float(a), float(b)


#: Beta prior of ``q``, the share of the plain reading of the active phase's boundary
#: (method of moments on the ``q`` that reproduces each training phantom's active
#: fraction; benchmarks/README.md, "Calibration").
DEFAULT_SHARE_PRIOR = _pair("share_prior")
#: Beta prior of ``s`` of a solid binder (the ``s`` that reproduces each solid-binder
#: phantom's middle-phase fraction).
SOLID_BINDER_PRIOR = _pair("solid_binder_prior")
#: Beta prior of ``s`` of a nanoporous binder domain (same, nanoporous-binder phantoms).
NANOPOROUS_BINDER_PRIOR = _pair("nanoporous_binder_prior")
#: LogNormal prior of the texture length of the middle-grey domain: (median in voxels,
#: sd of its logarithm); the lengths that reproduce pore and middle-phase areas.
DEFAULT_TEXTURE_LENGTH = _pair("texture_length")
#: Binder materials a user can state (``[sampler] binder``).
BINDER_KINDS = ("unknown", "solid", "nanoporous")


@dataclass(frozen=True)
class BetaMixture:
    """A finite mixture of Beta laws on (0, 1): the prior of a share.

    Parameters
    ----------
    components : tuple of (weight, a, b)
        Weights (> 0, normalised here) and Beta parameters (> 0).

    Examples
    --------
    >>> prior = BetaMixture(((0.5, 30.0, 30.0), (0.5, 40.0, 4.0)))
    >>> round(prior.mean, 3)
    0.705
    >>> prior.from_uniform(0.25) < 0.6 < prior.from_uniform(0.75)
    True
    """

    components: tuple[tuple[float, float, float], ...]

    def __post_init__(self) -> None:
        comps = tuple(tuple(float(v) for v in c) for c in self.components)
        if not comps or any(len(c) != 3 for c in comps):
            raise VolumeError(f"a share prior needs (weight, a, b) components, got "
                              f"{self.components!r}")
        if not all(np.isfinite(v) and v > 0 for c in comps for v in c):
            raise VolumeError(f"share prior weights and Beta a, b must be > 0, got {comps!r}")
        total = sum(c[0] for c in comps)
        object.__setattr__(self, "components",
                           tuple((w / total, a, b) for w, a, b in comps))

    @classmethod
    def of(cls, value: BetaMixture | Sequence) -> BetaMixture:
        """A mixture from itself, one Beta ``(a, b)``, or ``((w, a, b), ...)``.

        Raises
        ------
        VolumeError
            Naming the value when it is none of these.
        """
        if isinstance(value, BetaMixture):
            return value
        vals = list(value)
        if len(vals) == 2 and all(np.ndim(v) == 0 for v in vals):
            a, b = (float(v) for v in vals)
            if not (np.isfinite(a) and np.isfinite(b) and a > 0 and b > 0):
                raise VolumeError(f"a Beta prior needs two numbers > 0 (a, b), got {value!r}")
            return cls(((1.0, a, b),))
        return cls(tuple(tuple(c) for c in vals))

    @property
    def mean(self) -> float:
        """Prior mean of the share."""
        return float(sum(w * a / (a + b) for w, a, b in self.components))

    @property
    def sd(self) -> float:
        """Prior standard deviation of the share."""
        second = sum(w * a * (a + 1) / ((a + b) * (a + b + 1)) for w, a, b in self.components)
        return float(np.sqrt(max(second - self.mean ** 2, 0.0)))

    def from_uniform(self, u: float) -> float:
        """A draw from the mixture given one uniform ``u`` in [0, 1].

        The component is chosen by where ``u`` falls among the cumulative weights, and the
        rescaled ``u`` is that component's quantile. A uniform ``u`` so gives a draw of the
        mixture with one random number (a one-component mixture gives exactly
        ``scipy.stats.beta.ppf(u, a, b)``, and the random stream is the same either
        way); for several components this is a sampling transform, not the mixture's
        quantile function.
        """
        from scipy import stats

        u = float(np.clip(u, 0.0, 1.0))
        lo = 0.0
        for i, (w, a, b) in enumerate(self.components):
            if u < lo + w or i == len(self.components) - 1:
                return float(stats.beta.ppf(np.clip((u - lo) / w, 0.0, 1.0), a, b))
            lo += w
        raise AssertionError("unreachable")


#: The solid-share prior of each binder material; ``"unknown"`` (the default) spans both.
BINDER_PRIORS: dict[str, BetaMixture] = {
    "solid": BetaMixture(((1.0, *SOLID_BINDER_PRIOR),)),
    "nanoporous": BetaMixture(((1.0, *NANOPOROUS_BINDER_PRIOR),)),
    "unknown": BetaMixture(((0.5, *SOLID_BINDER_PRIOR), (0.5, *NANOPOROUS_BINDER_PRIOR))),
}


def solid_share_prior(binder: str = "unknown") -> BetaMixture:
    """The solid-share prior of a binder material (``unknown``, ``solid``, ``nanoporous``).

    Examples
    --------
    >>> solid_share_prior("unknown").mean == BINDER_PRIORS["unknown"].mean
    True
    """
    if binder not in BINDER_PRIORS:
        raise VolumeError(f"binder must be one of {', '.join(BINDER_KINDS)}, got {binder!r}")
    return BINDER_PRIORS[binder]


def fit_share_prior(shares: Sequence[float], *, floor: float = 1.0) -> tuple[float, float]:
    """Beta(a, b) by the method of moments from shares that reproduce known truths.

    Parameters
    ----------
    shares : sequence of float
        For each training phantom, the share (``q`` or ``s``) at which the point
        posteriors reproduce its true phase fraction (clipped to [0.01, 0.99]).
    floor : float
        Lower bound of ``a`` and ``b``: at >= 1 the prior never has a pole at 0 or 1
        (which would put members at the two implausible extremes).

    Returns
    -------
    (float, float)
    """
    q = np.clip(np.asarray(shares, dtype=float), 0.01, 0.99)
    if q.size < 2:
        raise VolumeError(f"need >= 2 shares to fit a prior, got {list(shares)!r}")
    # The predictive variance of a new case's share: the spread between the training
    # cases plus the uncertainty of their mean (a handful of phantoms must not yield an
    # overconfident prior).
    # (An sd floor of 0.01: identical shares, e.g. all clipped, must not give a point mass.)
    m, v = float(q.mean()), max(float(q.var(ddof=1)) * (1.0 + 1.0 / q.size), 1e-4)
    nu = max(m * (1 - m) / v - 1.0, 2 * floor)
    return max(m * nu, floor), max((1 - m) * nu, floor)


def fit_texture_prior(lengths: Sequence[float]) -> tuple[float, float]:
    """LogNormal (median, log sd) of texture lengths that reproduce known surface areas.

    Parameters
    ----------
    lengths : sequence of float
        Texture lengths (voxels), one per calibration case: at least 2, all finite and > 0,
        else a :class:`VolumeError` is raised.

    Returns
    -------
    median, log_sd : float
        Geometric mean of ``lengths`` (voxels) and the sample sd (ddof 1) of their logs.
    """
    lg = np.log(np.asarray(lengths, dtype=float))
    if lg.size < 2 or not np.all(np.isfinite(lg)):
        raise VolumeError(f"need >= 2 positive texture lengths, got {list(lengths)!r}")
    return float(np.exp(lg.mean())), float(lg.std(ddof=1))

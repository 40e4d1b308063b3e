"""What the ensemble members miss on phantoms of known truth, added to every member.

Why
---
Sampling segmentations puts into an interval only what the sampler's model spans. Two
things it cannot span: the estimators' own error on a voxel grid (a smoothed
marching-cubes area, a local-thickness diameter, a finite-volume tortuosity: a
systematic error that depends on how many voxels a feature spans and on how much the
scanner blurred it, shared by every member), and whatever the nuisance priors, fitted on
other microstructures, do not reproduce for this one (a one-voxel solid film read as
partly pore, say). The calibration study (``benchmarks/calibration.py``) measures both
on phantom families of known truth, running the sampler with its calibrated priors as a
user would: per case, ``d = log(truth / median)`` of the members and the members' own
log spread. For each quantity it fits a linear model of ``d`` in the run's covariates
``x`` (:data:`COVARIATES`: the measured point-spread width, mean over the axes, and the
log mean chord lengths of the pore and active phases of the point segmentation, i.e.
how many voxels a feature spans) with a residual standard deviation *beyond the
members' own spread* (a *discrepancy term*, Kennedy and O'Hagan, JRSS-B 2001): the
members times ``exp(δ)`` then spread as far as the calibration families' errors did, no
further. Each member's value is multiplied by ``exp(δ)``, with
``δ ~ N(μ(x), σ(x)²)`` drawn from the member's own random stream:

* ``μ(x) = intercept + Σ coef_j (x_j - centre_j)``;
* ``σ(x)² = sd² + [1, x - centre] C [1, x - centre]ᵀ`` (``C`` the covariance of the
  coefficients: the trend itself is uncertain);
* **outside the calibrated range** of any covariate (by ``Δ_j``), the trend is
  extrapolated and its whole extrapolated change is added again as uncertainty, plus the
  residual variance once more: ``σ² += Σ (coef_j Δ_j)² + sd²``. The run says so (log,
  summary, report).

**Compositions.** Volume fractions sum to one, so their terms act on log ratios to a
reference phase (Aitchison's additive log-ratio): a term on
``volume_fraction[binder]`` with reference ``pore`` multiplies the binder-to-pore ratio
by ``exp(δ)``, and the fractions are then rescaled to their original sum (the volume a
binder term takes from the pore, say, leaves the total unchanged).

A scaled value is kept within its physical bound (:data:`LOWER_BOUNDS`: a tortuosity
factor stays >= 1). The draws are stored (``estimator_discrepancy``), and the variance
decomposition shows how much of an interval is this calibrated discrepancy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from uqtwin.errors import VolumeError
from uqtwin.sample.priors import calibration_card

#: Physical lower bounds kept after the factor: a tortuosity factor is at least 1
#: (``D_eff <= ε D_bulk``, Wiener's bound), whatever the discrepancy draws.
LOWER_BOUNDS = {"tortuosity_factor": 1.0}

#: Variables that restate an element the terms adjust, and follow it: a run's
#: ``porosity`` (``cell_parameters``) is its pore volume fraction.
RESTATED = {"porosity": ("volume_fraction", (("phase", "pore"),))}

#: Name of the dim of ``estimator_discrepancy`` (one entry per term, e.g.
#: ``specific_surface_area[pore]``).
TERM_DIM = "discrepancy_term"


#: Coordinate along :data:`TERM_DIM`: the variable a term rescales as a whole (a
#: composition, see the module docstring), or ``""``.
CLOSES = "discrepancy_closes"


#: Covariates of the discrepancy terms, measured on every run (see
#: :func:`discrepancy_covariates`).
COVARIATES = ("psf_sigma", "log_chord_pore", "log_chord_active")


def mean_chord_lengths(labels: np.ndarray, n_phases: int) -> np.ndarray:
    """Mean chord length of each phase, voxels (harmonic mean over z, y and x).

    Along one axis the mean chord is the number of voxels of the phase divided by the
    number of its runs (maximal line segments); the harmonic mean over the axes is
    ``3 n / (runs_z + runs_y + runs_x)``: how many voxels a typical feature spans, the
    resolution a scan gives it. NaN for an absent phase.

    Examples
    --------
    >>> lab = np.zeros((8, 8, 8), np.uint8); lab[:, :, 4:] = 1
    >>> mean_chord_lengths(lab, 2).round(2).tolist()   # chords 8, 8, 4
    [6.0, 6.0]
    """
    out = np.zeros(n_phases)
    for k in range(n_phases):
        m = labels == k
        n = int(m.sum())
        runs = 0
        for ax in range(3):
            mm = np.moveaxis(m, ax, -1)
            runs += int(mm[..., 0].sum() + np.sum(mm[..., 1:] & ~mm[..., :-1]))
        out[k] = 3.0 * n / runs if runs else np.nan
    return out


def discrepancy_covariates(labels: np.ndarray, psf: float | Sequence[float]) -> dict[str, float]:
    """The covariates of the discrepancy terms for a run.

    Parameters
    ----------
    labels : ndarray of int, shape (nz, ny, nx)
        The point segmentation (phase index per voxel, darkest phase = pore = 0,
        brightest = active); the engine uses the partial-volume reading at the
        posterior-median mixture parameters, which no prior moves.
    psf : float or sequence of 3 floats
        Measured point-spread width, voxels.

    Returns
    -------
    dict
        ``psf_sigma`` (mean over axes, voxels), ``log_chord_pore`` and
        ``log_chord_active`` (log of the mean chord lengths, voxels).
    """
    lab = np.asarray(labels)
    n = int(lab.max()) + 1 if lab.size else 1
    chords = mean_chord_lengths(lab, max(n, 2))
    b = float(np.mean(np.atleast_1d(np.asarray(psf, dtype=float))))
    return {"psf_sigma": b, "log_chord_pore": float(np.log(max(chords[0], 0.5))),
            "log_chord_active": float(np.log(max(chords[-1], 0.5)))}


@dataclass(frozen=True)
class DiscrepancyTerm:
    """The calibrated discrepancy of one quantity element.

    ``δ ~ N(intercept + Σ coef_j (x_j - centre_j), σ²)`` with ``x`` the run's
    :data:`COVARIATES`.

    Parameters
    ----------
    variable : str
        Results variable, e.g. ``"specific_surface_area"``.
    index : tuple of (dim, value)
        The element, e.g. ``(("phase", "active"),)``; empty: every element of the variable.
    intercept : float
        Mean log ratio truth / estimate at the centre of the covariates.
    coef : tuple of float
        Change of the mean per unit of each covariate (order of :data:`COVARIATES`).
    centre : tuple of float
        Centre of each covariate in the calibration.
    sd : float
        Residual standard deviation of the log ratio beyond the ensemble's spread.
    cov : tuple of tuples
        Covariance of (intercept, *coef).
    reference : tuple of (dim, value)
        For a composition (volume fractions): the element the log ratio is taken to,
        e.g. ``(("phase", "pore"),)``; the variable is rescaled to its original sum
        after the terms. Empty: a plain factor on the element.
    """

    variable: str
    index: tuple[tuple[str, str], ...]
    intercept: float
    coef: tuple[float, ...]
    centre: tuple[float, ...]
    sd: float
    cov: tuple[tuple[float, ...], ...] = ()
    reference: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        """``variable[value, ...]``, as the summary names the element."""
        if not self.index:
            return self.variable
        return f"{self.variable}[{', '.join(v for _, v in self.index)}]"

    def to_card(self) -> dict[str, Any]:
        """The term as a calibration card's JSON entry (what :func:`load_discrepancy` reads)."""
        entry: dict[str, Any] = {
            "variable": self.variable, "index": dict(self.index),
            "intercept": self.intercept, "coef": list(self.coef), "centre": list(self.centre),
            "sd": self.sd, "cov": [list(row) for row in self.cov]}
        if self.reference:
            entry["reference"] = dict(self.reference)
        return entry


@dataclass(frozen=True)
class DiscrepancyModel:
    """Calibrated discrepancy terms and the range of conditions they span.

    Parameters
    ----------
    terms : tuple of DiscrepancyTerm
    ranges : mapping of str to (float, float)
        Calibrated span of every covariate and imaging condition (``psf_sigma``,
        ``log_chord_pore``, ``log_chord_active``, ``photons``, ``drift``).
    """

    terms: tuple[DiscrepancyTerm, ...]
    ranges: Mapping[str, tuple[float, float]]

    def distribution(self, term: DiscrepancyTerm,
                     covariates: Mapping[str, float]) -> tuple[float, float]:
        """Mean and sd of ``δ`` for ``term`` at the run's covariates.

        Examples
        --------
        >>> t = DiscrepancyTerm("a", (), 0.1, (0.05, 0.0, 0.0), (1.0, 1.0, 1.0), 0.02)
        >>> m = DiscrepancyModel((t,), {"psf_sigma": (0.5, 2.0)})
        >>> x = {"psf_sigma": 1.0, "log_chord_pore": 1.0, "log_chord_active": 1.0}
        >>> [round(v, 3) for v in m.distribution(t, x)]
        [0.1, 0.02]
        >>> round(m.distribution(t, {**x, "psf_sigma": 3.0})[1], 3)  # 1 voxel beyond
        0.057
        """
        x = np.array([float(covariates[k]) for k in COVARIATES]) - np.asarray(term.centre)
        vec = np.concatenate([[1.0], x])
        var = term.sd ** 2
        if term.cov:
            var += float(vec @ np.asarray(term.cov) @ vec)
        beyond, outside = 0.0, False
        for name, slope in zip(COVARIATES, term.coef, strict=True):
            lo, hi = self.ranges.get(name, (-np.inf, np.inf))
            value = float(covariates[name])
            excess = max(lo - value, value - hi, 0.0)
            outside |= excess > 1e-9
            beyond += (slope * excess) ** 2
        if outside:
            var += beyond + term.sd ** 2
        return term.intercept + float(np.dot(term.coef, x)), float(np.sqrt(max(var, 0.0)))

    def out_of_range(self, conditions: Mapping[str, Any]) -> list[str]:
        """One sentence per measured condition outside the calibrated span."""
        notes = []
        for key, (lo, hi) in self.ranges.items():
            if key not in conditions or conditions[key] is None:
                continue
            value = np.atleast_1d(np.asarray(conditions[key], dtype=float))
            bad = value[(value < lo - 1e-9) | (value > hi + 1e-9)]
            if bad.size:
                shown = ", ".join(f"{v:.3g}" for v in value)
                notes.append(f"measured {key} {shown} lies outside the calibrated range "
                             f"[{lo:.3g}, {hi:.3g}]: intervals are widened by the "
                             "out-of-range rule of uqtwin.results.discrepancy, not "
                             "validated there")
        return notes


def load_discrepancy(card: Mapping[str, Any] | None = None) -> DiscrepancyModel:
    """The discrepancy model of the calibration card (default: the shipped one).

    Parameters
    ----------
    card : mapping, optional
        A calibration card as written by ``benchmarks/calibration.py`` (keys
        ``calibrated_range`` and, optionally, ``discrepancy``). Default: the shipped card,
        :func:`uqtwin.sample.priors.calibration_card`.

    Returns
    -------
    DiscrepancyModel
        Its discrepancy terms (none if the card has no ``discrepancy``) and the calibrated
        range (low, high) of every condition.

    Raises
    ------
    KeyError
        If the card lacks ``calibrated_range`` or a term lacks a field.
    """
    card = calibration_card() if card is None else card
    ranges = {k: (float(v[0]), float(v[1])) for k, v in card["calibrated_range"].items()}
    terms = tuple(
        DiscrepancyTerm(t["variable"], tuple((str(k), str(v)) for k, v in t["index"].items()),
                        float(t["intercept"]), tuple(float(c) for c in t["coef"]),
                        tuple(float(c) for c in t["centre"]), float(t["sd"]),
                        tuple(tuple(float(c) for c in row) for row in t["cov"]),
                        tuple((str(k), str(v)) for k, v in t.get("reference", {}).items()))
        for t in card.get("discrepancy", [])
    )
    return DiscrepancyModel(terms, ranges)


def discrepancy_rng(seed: int) -> np.random.Generator:
    """The member's stream for its discrepancy draws, independent of its sampling stream.

    The seed sequence is spawned with a fixed key, so the discrepancy draws neither repeat
    nor shift the member's microstructure draws made from the same seed, and are
    reproducible from it.

    Parameters
    ----------
    seed : int
        The member's seed (>= 0).

    Returns
    -------
    numpy.random.Generator
        A generator determined by ``seed`` alone.

    Examples
    --------
    >>> from uqtwin.results.discrepancy import discrepancy_rng
    >>> bool(discrepancy_rng(7).random() == discrepancy_rng(7).random())
    True
    """
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(0xD15C,)))


def _holds(da: xr.DataArray, sel: Mapping[str, str]) -> bool:
    """Whether ``da`` has every ``dim=value`` of ``sel``."""
    return all(d in da.dims and v in da[d].values for d, v in sel.items())


def apply_discrepancy(
    ds: xr.Dataset, model: DiscrepancyModel, covariates: Mapping[str, float], seed: int
) -> xr.Dataset:
    """One member's quantities times ``exp(δ)`` per calibrated term, and the ``δ`` drawn.

    Parameters
    ----------
    ds : xarray.Dataset
        One member's quantities (no ``sample`` dim).
    model : DiscrepancyModel
        From :func:`load_discrepancy`.
    covariates : mapping
        The run's covariates (:func:`discrepancy_covariates`).
    seed : int
        The member's seed (the draws use :func:`discrepancy_rng`).

    Returns
    -------
    xarray.Dataset
        A copy; terms whose variable the member lacks are skipped, and the drawn log
        factors are in ``estimator_discrepancy`` (dim ``discrepancy_term``; NaN where not
        applied).

    Examples
    --------
    >>> t = DiscrepancyTerm("area", (), 0.1, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), 0.0)
    >>> x = {"psf_sigma": 1.0, "log_chord_pore": 1.0, "log_chord_active": 1.0}
    >>> out = apply_discrepancy(xr.Dataset({"area": 2.0}), DiscrepancyModel((t,), {}), x, 0)
    >>> round(float(out["area"]), 4), float(out["estimator_discrepancy"][0])
    (2.2103, 0.1)
    """
    for name in COVARIATES:
        if not np.isfinite(float(covariates.get(name, np.nan))):
            raise VolumeError(f"discrepancy covariate {name} must be a finite number, got "
                              f"{covariates.get(name)!r}")
    out = ds.copy()
    rng = discrepancy_rng(seed)
    deltas = []
    closed: dict[str, tuple[str, xr.DataArray]] = {}  # variable -> (dim, sum before)
    for term in model.terms:
        mean, sd = model.distribution(term, covariates)
        # Every term draws, applied or not, so a term's draw never depends on which
        # quantities a run asked for.
        delta = mean + sd * float(rng.standard_normal())
        da = out.get(term.variable)
        sel = dict(term.index)
        if da is None or not _holds(da, sel) or not _holds(da, dict(term.reference)):
            deltas.append(np.nan)
            continue
        if term.reference and term.variable not in closed:
            dim = term.reference[0][0]
            closed[term.variable] = (dim, ds[term.variable].sum(dim))
        factor = xr.ones_like(da, dtype=float)
        if sel:
            factor.loc[sel] = np.exp(delta)
        else:
            factor[...] = np.exp(delta)
        scaled = da * factor
        if term.variable in LOWER_BOUNDS:
            scaled = np.maximum(scaled, LOWER_BOUNDS[term.variable])
        out[term.variable] = scaled.assign_attrs(da.attrs)
        deltas.append(delta)
    for variable, (dim, total) in closed.items():
        # The reference element kept its value: rescaling to the old sum turns the
        # factors into factors on log ratios to it.
        da = out[variable]
        out[variable] = (da * (total / da.sum(dim))).assign_attrs(da.attrs)
    for name, (variable, sel) in RESTATED.items():
        if name in out and variable in out and _holds(out[variable], dict(sel)):
            before = float(ds[variable].sel(dict(sel)))
            after = float(out[variable].sel(dict(sel)))
            if before > 0 and after != before:
                out[name] = (out[name] * (after / before)).assign_attrs(out[name].attrs)
    if not model.terms:
        return out
    labels = [t.label for t in model.terms]
    # Which terms act on a composition (they move every element of their variable).
    closes = [t.variable if t.reference else "" for t in model.terms]
    out["estimator_discrepancy"] = xr.DataArray(
        np.asarray(deltas, float), dims=(TERM_DIM,),
        coords={TERM_DIM: labels, CLOSES: (TERM_DIM, closes)})
    return out

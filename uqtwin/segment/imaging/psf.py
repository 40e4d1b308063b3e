"""Point spread per axis from the edges (edge-spread method, three passes, relaxed
plateaus and fewer edges on small volumes), and its fallbacks: pooled from the measured
axes, model-based, or the default."""

from __future__ import annotations

import math
import warnings

import numpy as np

from uqtwin.segment.imaging._common import (
    AXES,
    JACKKNIFE_GROUPS,
    RELAXED_PLATEAUS,
    interior_mask,
)
from uqtwin.segment.imaging.conditions import ImagingWarning
from uqtwin.segment.imaging.edge_fit import axis_fit
from uqtwin.segment.imaging.edges import edge_profiles, edge_windows, ring_mean
from uqtwin.segment.imaging.model_psf import model_based_psf

__all__ = ["measure_psf", "psf_fallback"]

#: An axis with fewer than ``min_edges`` but at least this fraction of them keeps its
#: edge estimate when the jackknife standard error is at most ``_FEW_EDGES_SE * sigma``
#: (20 of the default 50: fewer give jackknife errors that miss real errors of 50 %).
_FEW_EDGES = 0.4
_FEW_EDGES_SE = 0.1
#: Passes of the PSF fit: windows and the other axes' blur come from the previous one.
_PSF_PASSES = 3


def measure_psf(flat: np.ndarray, smooth: np.ndarray, mu: np.ndarray, labels: np.ndarray,
         noise_var: float, default_psf: float,
         min_edges: int) -> tuple[list[float], list[float], list[int], list[str], list[str]]:
    """Per-axis PSF sigma, standard error, edge counts, notes and how each axis was
    measured (see the package docstring).

    ``noise_var``: voxel noise variance at the mid-level grey (for the noise in the
    measured interface geometry). The last list holds, per axis, ``"edges"`` (at least
    ``min_edges`` profiles), ``"few edges"`` (fewer, but a small jackknife error) or
    ``""`` (not measured by edges: the caller falls back).
    """
    notes: list[str] = []
    # Plateau levels: smoothed grey deep inside the darkest and brightest phases (the
    # mixture means can be pulled by partial-volume voxels).
    levels = []
    interior = interior_mask(labels, 2)
    for k in (0, len(mu) - 1):
        deep = interior & (labels == k)
        levels.append(float(smooth[deep].mean(dtype=np.float64)) if deep.sum() >= 20
                      else float(mu[k]))
    lo, hi = levels
    p_film = None
    if len(mu) > 2:
        counts = np.bincount(labels.ravel(), minlength=len(mu))[1:-1]
        mid_phase = 1 + int(np.argmax(counts))
        p_film = float(np.clip((mu[mid_phase] - mu[0]) / (mu[-1] - mu[0]), 0.0, 1.0))
    rings = [ring_mean(flat, a) for a in range(3)]
    few = max(1, math.ceil(_FEW_EDGES * min_edges))

    sigma = np.full(3, float(default_psf))
    g = JACKKNIFE_GROUPS
    reps = np.tile(sigma, (g, 1))
    used = [0, 0, 0]
    for final in (False,) * (_PSF_PASSES - 1) + (True,):
        profiles, counts = [], []
        for a in range(3):
            # The standard rule first; relaxed rules only for an axis short of edges,
            # so that volumes with enough clean edges are measured as before.
            best = None
            for level in range(1 + len(RELAXED_PLATEAUS)):
                half, plateau = edge_windows(sigma[a], flat.shape[a], level)
                prof = edge_profiles(flat, smooth, rings[a], a, lo, hi, half, plateau)
                if best is None or len(prof) > len(best[0]):
                    best = (prof, level)
                if len(prof) >= min_edges:
                    best = (prof, level)
                    break
            profiles.append(best[0])
            used[a] = best[1]
            counts.append(len(best[0]))
        new = sigma.copy()
        films = [0.0, 0.0, 0.0]
        for a in range(3):
            if counts[a] < few:
                continue  # keeps the previous value: windows for the other axes
            full, rep = axis_fit(profiles[a], sigma, a, lo, hi, p_film, noise_var,
                                  jackknife=final)
            new[a] = full[3]
            if p_film is not None:
                films[a] = float(full[4])
            if final:
                reps[:, a] = rep[:, 3]
        sigma = new
    se = np.sqrt((g - 1) / g * np.sum((reps - reps.mean(0)) ** 2, axis=0))
    how = ["", "", ""]
    for a in range(3):
        rule = ("" if used[a] == 0 else
                f" with plateaus from {RELAXED_PLATEAUS[used[a] - 1]:g} sigma + 1 "
                "(relaxed: too few for 2.5 sigma + 1)")
        if counts[a] >= min_edges:
            how[a] = "edges"
            if used[a]:
                notes.append(f"{AXES[a]}: psf_sigma from {counts[a]} edge profiles{rule}")
        elif counts[a] >= few and se[a] <= _FEW_EDGES_SE * sigma[a]:
            how[a] = "few edges"
            notes.append(f"{AXES[a]}: psf_sigma from {counts[a]} edge profiles{rule} "
                         f"(< {min_edges}; accepted: jackknife se {se[a]:.2g})")
        if how[a] and p_film is not None and films[a] >= 0.2 and sigma[a] <= 1.2:
            # Only where the layer is resolved: at larger sigma it trades with the width.
            notes.append(f"{AXES[a]}: a one-voxel middle-phase layer fitted on "
                         f"{films[a]:.0%} of the dark/bright edges")
    for a in range(3):
        if not how[a]:
            sigma[a], se[a] = float(default_psf), 0.0
    return ([float(v) for v in sigma], [float(v) for v in se], [int(c) for c in counts],
            notes, how)


def psf_fallback(flat: np.ndarray, smooth: np.ndarray, mu: np.ndarray, gain: float,
                  read: float, sigma: list[float], sigma_se: list[float], how: list[str],
                  n_edges: list[int], min_edges: int,
                  default_psf: float) -> tuple[list[float], list[float], list[str]]:
    """PSF of the axes that the edges did not measure (see the package docstring).

    Pooled from the measured axes when there are any (isotropy assumed where it cannot be
    measured), else one model-based sigma for all axes, else ``default_psf``.
    """
    missing = [a for a in range(3) if not how[a]]
    measured = [a for a in range(3) if how[a]]
    names = ", ".join(AXES[a] for a in missing)
    why = (f"{names}: {', '.join(str(n_edges[a]) for a in missing)} edge profiles "
           f"< {min_edges}")
    sigma, sigma_se = list(sigma), list(sigma_se)
    if measured:
        # Inverse-variance mean of the measured axes; its error includes their spread,
        # a first measure of how far the isotropy assumption is off.
        w = np.array([1.0 / max(sigma_se[a], 1e-3) ** 2 for a in measured])
        value = float(np.average([sigma[a] for a in measured], weights=w))
        spread = float(np.std([sigma[a] for a in measured]))
        se = float(math.hypot(1.0 / math.sqrt(float(w.sum())), spread))
        msg = (f"{why}; psf_sigma {names} = {value:.3g} pooled from "
               f"{', '.join(AXES[a] for a in measured)} (isotropy assumed)")
    else:
        fit = model_based_psf(flat, smooth, mu, gain, read)
        if fit is not None:
            value, se = fit
            msg = (f"{why}; psf_sigma = {value:.3g} +- {se:.2g} on every axis, "
                   "model-based (the blurred labelling that best predicts the image; "
                   "one sigma for all axes)")
            warnings.warn(msg, ImagingWarning, stacklevel=3)
            return [value] * 3, [se] * 3, [msg]
        value, se = default_psf, 0.0
        msg = f"{why}, and no model-based fit; psf_sigma {names} = {default_psf:g} (default)"
    for a in missing:
        sigma[a], sigma_se[a] = value, se
    warnings.warn(msg, ImagingWarning, stacklevel=3)
    return sigma, sigma_se, [msg]

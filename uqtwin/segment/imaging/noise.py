"""Noise model: ``var = photon_gain * grey + read_noise^2`` from mixed third differences
of 2 x 2 x 2 blocks deep inside each phase."""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize

from uqtwin.segment.imaging._common import MIN_BLOCKS, interior_mask

__all__ = ["noise_model"]

#: Blocks for the noise variance lie this many voxels inside their phase (cube distance).
_NOISE_DEPTH = 2
#: Neighbour differences this many times the white-noise variance flag correlated noise
#: (blurred edges near the blocks alone give up to about 1.4).
_CORRELATED = 2.0


def noise_model(raw: np.ndarray, labels: np.ndarray,
                 n_phases: int) -> tuple[float, float, list[str]]:
    """``var = gain * grey + read^2`` from mixed differences deep inside each phase.

    Noise variances are measured in blocks well inside each phase (so that edges and blur do
    not count as noise) and fitted, weighted and non-negative, against the blocks' mean grey.

    Parameters
    ----------
    raw : ndarray of float, shape (nz, ny, nx)
        The grey volume as scanned (not denoised).
    labels : ndarray of int, same shape
        Phase index of every voxel (e.g. nearest phase mean).
    n_phases : int
        Number of phases.

    Returns
    -------
    gain : float
        Photon gain, grey units per photon (variance per grey unit); 0 when no
        signal-dependent noise is detectable (not significant at 2 standard errors, or only
        one phase measurable), i.e. photons = inf.
    read_noise : float
        Signal-independent noise sd, grey units (0 if no phase has enough deep voxels).
    notes : list of str
        What was assumed or found doubtful (shallow blocks used, correlated noise, photon
        noise not detectable, ...).
    """
    notes: list[str] = []
    rows = _phase_variances(raw, labels, n_phases, _NOISE_DEPTH)
    if len(rows) < 2 <= n_phases:
        # Thin phases (small volumes): blocks one voxel inside still cancel smooth
        # trends; only very sharp oblique edges (sigma < 1) leak into them.
        shallow = _phase_variances(raw, labels, n_phases, 1)
        if len(shallow) > len(rows):
            notes.append(f"noise: fewer than two phases have {MIN_BLOCKS} blocks "
                         f"{_NOISE_DEPTH} voxels inside; used blocks 1 voxel inside")
            rows = shallow
    if not rows:
        return 0.0, 0.0, notes + ["noise: no phase has enough deep voxels; "
                                  "photon_gain = read_noise = 0"]
    grey, var, n, var_pair = (np.array(c) for c in zip(*rows, strict=True))
    ratio = float(np.sum(var_pair * n) / max(float(np.sum(var * n)), 1e-300))
    if ratio > _CORRELATED:
        notes.append(f"noise: neighbouring voxels differ {ratio:.3g} times more than "
                     "white noise of this variance would; the noise is correlated "
                     "between voxels (e.g. a reconstruction filter) and the white-noise "
                     "model underestimates it")
    if len(rows) == 1:
        notes.append("noise: one phase has enough deep voxels; all noise taken as read "
                     "noise, photons = inf")
        return 0.0, float(np.sqrt(var[0])), notes
    # Weights: a sample variance of n values has sd var * sqrt(2 / n); overlapping
    # blocks share voxels, so count n / 2 independent ones.
    sd = var * np.sqrt(4.0 / n)
    design = np.column_stack([grey, np.ones_like(grey)]) / sd[:, None]
    coef, _ = optimize.nnls(design, var / sd)
    gain, read2 = float(coef[0]), float(coef[1])
    cov = _nnls_cov(design, var / sd, coef)
    se_gain = math.sqrt(cov[0, 0]) if cov is not None else math.inf
    if 0 < gain < 2.0 * se_gain:
        notes.append(f"noise: photon gain {gain:.3g} +- {se_gain:.2g} grey units per photon "
                     "is not significant; photon noise not detectable, photons = inf")
        gain = 0.0
        read2 = float(np.average(var, weights=1.0 / sd**2))
    elif gain == 0:
        notes.append("noise: no signal-dependent noise detectable, photons = inf")
    return gain, math.sqrt(max(read2, 0.0)), notes


def _phase_variances(raw: np.ndarray, labels: np.ndarray, n_phases: int,
                     depth: int) -> list[tuple[float, float, int, float]]:
    """Per phase with enough blocks: (mean grey, noise variance, number of blocks, half
    mean squared neighbour difference).

    The mixed third difference over a 2 x 2 x 2 block (the Haar ``ddd`` detail times
    ``sqrt(8)``) is the alternating sum of its 8 voxels: its variance is 8 times the
    mean voxel variance for white noise, and it cancels constant, linear and
    along-axis quadratic trends (drift, blurred edges near the block).
    """
    mixed = np.diff(np.diff(np.diff(raw, axis=0), axis=1), axis=2)
    corners = [(slice(a, a + raw.shape[0] - 1), slice(b, b + raw.shape[1] - 1),
                slice(c, c + raw.shape[2] - 1)) for a in (0, 1) for b in (0, 1) for c in (0, 1)]
    block_grey = sum(raw[sl] for sl in corners) / 8.0
    rows = []
    interior = interior_mask(labels, depth)
    for k in range(n_phases):
        deep = interior & (labels == k)
        inside = np.logical_and.reduce([deep[sl] for sl in corners])
        count = int(inside.sum())
        if count >= MIN_BLOCKS:
            d = mixed[inside].astype(np.float64)
            var = float(np.mean(d * d)) / 8.0
            # Plain neighbour difference along x in the same blocks: for white noise
            # its half mean square equals var; correlated noise makes it larger.
            pair = (raw[corners[1]] - raw[corners[0]])[inside].astype(np.float64)
            rows.append((float(block_grey[inside].mean(dtype=np.float64)), var, count,
                         float(np.mean(pair * pair)) / 2.0))
    return rows


def _nnls_cov(design: np.ndarray, target: np.ndarray, coef: np.ndarray) -> np.ndarray | None:
    """Covariance of a (weighted) least-squares fit with unit-variance residuals."""
    try:
        inv = np.linalg.inv(design.T @ design)
    except np.linalg.LinAlgError:
        return None
    dof = design.shape[0] - design.shape[1]
    if dof > 0:
        # Residual scatter beyond the nominal weights (structure, non-white noise).
        chi2 = float(np.sum((target - design @ coef) ** 2)) / dof
        inv = inv * max(chi2, 1.0)
    return inv

"""Helpers shared by the imaging estimates: constants, labelling, interior masks, windows,
the drift ramp and the sampled Gaussian kernel."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from uqtwin.errors import VolumeError

AXES = ("z", "y", "x")
#: Smallest extent along any axis (voxels) that the estimates need.
MIN_SIZE = 16
#: Width of the light smoothing that finds edges, normals and the labelling (voxels).
_SMOOTH = 1.0
#: Relaxed plateau distances (in sigma, plus 1 voxel) tried in turn for an axis with
#: fewer than ``min_edges`` profiles under the standard rule; the plateau is then two
#: voxels long and ends the window (see
#: :func:`uqtwin.segment.imaging.edges.edge_windows`).
_RELAXED_PLATEAUS = (2.0, 1.5)
#: A phase counts as present when it labels at least this fraction of the volume.
_MIN_PHASE_FRACTION = 0.005
#: Groups of the delete-a-group jackknife of the PSF.
_JACKKNIFE_GROUPS = 10
#: Fewest 2x2x2 blocks per phase for its noise variance.
_MIN_BLOCKS = 500


def _nearest_labels(smooth: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Index of the nearest phase mean of every voxel (thresholds at the mid-points)."""
    labels = np.zeros(smooth.shape, dtype=np.uint8)
    for t in 0.5 * (mu[1:] + mu[:-1]):
        labels += smooth > t
    return labels


def _present_phases(labels: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Indices of the phases that label enough of the volume; VolumeError if under two."""
    frac = np.bincount(labels.ravel(), minlength=mu.size) / labels.size
    present = np.flatnonzero(frac >= _MIN_PHASE_FRACTION)
    if present.size < 2:
        shares = ", ".join(f"{m:g}: {f:.3f}" for m, f in zip(mu, frac, strict=True))
        raise VolumeError(
            "one phase only: the volume's smoothed grey values fall nearest a single "
            f"phase mean (fraction of voxels per mean: {shares}); edges and a noise model "
            "need at least two phases"
        )
    return present


def _interior(labels: np.ndarray, depth: int) -> np.ndarray:
    """Voxels whose cube of half-width ``depth`` holds one label only (any phase).

    ``labels == k`` and this mask are the voxels at least ``depth`` voxels (cube
    distance) inside phase ``k``; one min and one max filter serve every phase.
    """
    size = 2 * depth + 1
    return (ndimage.minimum_filter(labels, size=size, mode="nearest")
            == ndimage.maximum_filter(labels, size=size, mode="nearest"))


def _window(n: int, size: int, margin: int) -> tuple[slice, slice]:
    """Central window of at most ``size`` of ``n`` voxels, with up to ``margin`` around.

    Returns the outer slice (window plus margin, within ``0 .. n``) and the window's
    slice relative to the outer one.
    """
    width = min(n, size)
    start = (n - width) // 2
    lo, hi = max(0, start - margin), min(n, start + width + margin)
    return slice(lo, hi), slice(start - lo, start - lo + width)


def _gradient_magnitude(smooth: np.ndarray) -> np.ndarray:
    """Length of the central-difference gradient (grey units per voxel)."""
    out = np.zeros_like(smooth)
    for g in np.gradient(smooth):
        out += g * g
    return np.sqrt(out, out=out)


def _drift_factor(nz: int, drift: float) -> np.ndarray:
    """``1 + drift * (k / (nz - 1) - 1/2)`` for slices ``k = 0 .. nz - 1``."""
    ramp = np.linspace(-0.5, 0.5, nz) if nz > 1 else np.zeros(1)
    return 1.0 + drift * ramp


def _kernel(sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and weights of the sampled Gaussian of scipy.ndimage (truncate = 4)."""
    radius = max(1, int(4.0 * sigma + 0.5))
    m = np.arange(-radius, radius + 1, dtype=float)
    w = np.exp(-0.5 * (m / sigma) ** 2)
    return m, w / w.sum()

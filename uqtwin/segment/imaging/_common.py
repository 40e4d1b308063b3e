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
SMOOTH = 1.0
#: Relaxed plateau distances (in sigma, plus 1 voxel) tried in turn for an axis with
#: fewer than ``min_edges`` profiles under the standard rule; the plateau is then two
#: voxels long and ends the window (see
#: :func:`uqtwin.segment.imaging.edges.edge_windows`).
RELAXED_PLATEAUS = (2.0, 1.5)
#: A phase counts as present when it labels at least this fraction of the volume.
MIN_PHASE_FRACTION = 0.005
#: Groups of the delete-a-group jackknife of the PSF.
JACKKNIFE_GROUPS = 10
#: Fewest 2x2x2 blocks per phase for its noise variance.
MIN_BLOCKS = 500


def nearest_labels(smooth: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Index of the nearest phase mean of every voxel (thresholds at the mid-points).

    Parameters
    ----------
    smooth : ndarray of float, shape (nz, ny, nx)
        The (smoothed) grey volume.
    mu : ndarray of float, shape (n_phases,)
        The phase means, increasing (at most 256 phases).

    Returns
    -------
    ndarray of uint8
        For every voxel, the number of mid-points between consecutive means that its value
        exceeds, i.e. the index of the nearest mean.

    Examples
    --------
    >>> import numpy as np
    >>> from uqtwin.segment.imaging._common import nearest_labels
    >>> nearest_labels(np.array([[[0.1, 0.6, 2.5]]]), np.array([0.0, 1.0, 3.0])).tolist()
    [[[0, 1, 2]]]
    """
    labels = np.zeros(smooth.shape, dtype=np.uint8)
    for t in 0.5 * (mu[1:] + mu[:-1]):
        labels += smooth > t
    return labels


def present_phases(labels: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Indices of the phases that label enough of the volume; VolumeError if under two.

    Parameters
    ----------
    labels : ndarray of int, shape (nz, ny, nx)
        Phase index of every voxel (:func:`nearest_labels`).
    mu : ndarray of float, shape (n_phases,)
        The phase means (their number sets the phases; their values go in the message).

    Returns
    -------
    ndarray of int
        Indices of the phases labelling at least ``MIN_PHASE_FRACTION`` (0.5 %) of the
        voxels, increasing.

    Raises
    ------
    VolumeError
        If fewer than two phases are present: edges and the noise model need two.
    """
    frac = np.bincount(labels.ravel(), minlength=mu.size) / labels.size
    present = np.flatnonzero(frac >= MIN_PHASE_FRACTION)
    if present.size < 2:
        shares = ", ".join(f"{m:g}: {f:.3f}" for m, f in zip(mu, frac, strict=True))
        raise VolumeError(
            "one phase only: the volume's smoothed grey values fall nearest a single "
            f"phase mean (fraction of voxels per mean: {shares}); edges and a noise model "
            "need at least two phases"
        )
    return present


def interior_mask(labels: np.ndarray, depth: int) -> np.ndarray:
    """Voxels whose cube of half-width ``depth`` holds one label only (any phase).

    ``labels == k`` and this mask are the voxels at least ``depth`` voxels (cube
    distance) inside phase ``k``; one min and one max filter serve every phase.
    """
    size = 2 * depth + 1
    return (ndimage.minimum_filter(labels, size=size, mode="nearest")
            == ndimage.maximum_filter(labels, size=size, mode="nearest"))


def central_window(n: int, size: int, margin: int) -> tuple[slice, slice]:
    """Central window of at most ``size`` of ``n`` voxels, with up to ``margin`` around.

    Returns the outer slice (window plus margin, within ``0 .. n``) and the window's
    slice relative to the outer one.
    """
    width = min(n, size)
    start = (n - width) // 2
    lo, hi = max(0, start - margin), min(n, start + width + margin)
    return slice(lo, hi), slice(start - lo, start - lo + width)


def gradient_magnitude(smooth: np.ndarray) -> np.ndarray:
    """Length of the central-difference gradient (grey units per voxel).

    Parameters
    ----------
    smooth : ndarray of float, 3-D
        The (smoothed) grey volume; every axis needs at least 2 voxels.

    Returns
    -------
    ndarray, same shape and dtype
        ``sqrt(sum of squared np.gradient components)``; one-sided differences at the box
        sides, spacing taken as 1 voxel on every axis.
    """
    out = np.zeros_like(smooth)
    for g in np.gradient(smooth):
        out += g * g
    return np.sqrt(out, out=out)


def drift_factor(nz: int, drift: float) -> np.ndarray:
    """``1 + drift * (k / (nz - 1) - 1/2)`` for slices ``k = 0 .. nz - 1``.

    A linear brightness ramp through the stack, centred so the mean slice is unchanged.

    Parameters
    ----------
    nz : int
        Number of slices (>= 1).
    drift : float
        Relative change of brightness from the first to the last slice.

    Returns
    -------
    ndarray of float, shape (nz,)
        The factor per slice; all 1 for a single slice.

    Examples
    --------
    >>> from uqtwin.segment.imaging._common import drift_factor
    >>> drift_factor(3, 0.2).tolist()
    [0.9, 1.0, 1.1]
    """
    ramp = np.linspace(-0.5, 0.5, nz) if nz > 1 else np.zeros(1)
    return 1.0 + drift * ramp


def gaussian_kernel(sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and weights of the sampled Gaussian of scipy.ndimage (truncate = 4).

    The same kernel :func:`scipy.ndimage.gaussian_filter` uses, so that a blur model built
    from it matches the filter exactly.

    Parameters
    ----------
    sigma : float
        Standard deviation, voxels (> 0).

    Returns
    -------
    offsets : ndarray of float
        ``-radius .. radius`` with ``radius = max(1, int(4 * sigma + 0.5))``.
    weights : ndarray of float
        The Gaussian sampled at the offsets, normalised to sum 1.

    Examples
    --------
    >>> from uqtwin.segment.imaging._common import gaussian_kernel
    >>> m, w = gaussian_kernel(0.5)
    >>> m.tolist(), round(float(w.sum()), 12)
    ([-2.0, -1.0, 0.0, 1.0, 2.0], 1.0)
    """
    radius = max(1, int(4.0 * sigma + 0.5))
    m = np.arange(-radius, radius + 1, dtype=float)
    w = np.exp(-0.5 * (m / sigma) ** 2)
    return m, w / w.sum()

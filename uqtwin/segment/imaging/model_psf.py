"""Model-based point spread for volumes without clean edges: the one sigma whose blurred
labelling best predicts the image, by recorrupted-to-recorrupted cross-validation."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from uqtwin.segment.imaging._common import central_window, gaussian_kernel, nearest_labels

__all__ = ["model_based_psf"]

#: Largest block (voxels per axis, central) for the model-based fit: its cost grows with
#: the volume and 40³ holds enough interfaces.
_MB_BLOCK = 40
#: Residuals leave out this many voxels at each face (the blur reaches past the border).
_MB_MARGIN = 3
#: Trial sigmas of the model-based profile (geometric, factor 1.25).
_MB_GRID = tuple(0.35 * 1.25**k for k in range(11))
#: Projected Landweber iterations of the labelling's start, and ICM sweeps after it.
_MB_LANDWEBER = 15
_MB_ICM = 10
#: Potts prior of the labelling: penalty per unlike neighbour pair in nats (1: a
#: likelihood ratio of e; weaker priors let the labelling follow the noise, which
#: biases sigma up by 20-40 % at 30 photons, stronger ones changed little).
_MB_POTTS = 1.0
#: Seed of the split of the noise (the estimate is deterministic).
_MB_SEED = 20240611
#: Relative scatter of the model-based sigma about the truth on phantoms, added to its
#: standard error.
_MB_SYSTEMATIC = 0.1


def _blur(x: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """The image model's blur (as :func:`uqtwin.phantoms.image_phantom`)."""
    return ndimage.gaussian_filter(x, sigma, mode="nearest")


def _neighbour_counts(labels: np.ndarray, k: int) -> np.ndarray:
    """Number of the 6 face neighbours labelled ``k`` (the border replicated)."""
    m = np.pad((labels == k).astype(np.int8), 1, mode="edge")
    return (m[:-2, 1:-1, 1:-1] + m[2:, 1:-1, 1:-1] + m[1:-1, :-2, 1:-1]
            + m[1:-1, 2:, 1:-1] + m[1:-1, 1:-1, :-2] + m[1:-1, 1:-1, 2:])


def _fit_labels(y: np.ndarray, start: np.ndarray, mu: np.ndarray, sigma: np.ndarray,
                potts: float) -> np.ndarray:
    """Labelling whose blurred grey matches ``y``: projected Landweber, then ICM.

    The start deblurs ``start`` (a lightly smoothed ``y``) by projected Landweber
    iterations within the grey range and takes the nearest means. ICM then changes the
    labels that lower ``|y - blur(mu[L])|^2 + potts * (unlike neighbour pairs)``: a
    change of voxel ``i`` by ``d`` grey changes the squared residual by
    ``-2 d c_i + d^2 E`` (``c = blur(residual)``, ``E`` the kernel's energy); only
    labels of a face neighbour are tried, and only where the change is the best within
    the 3 x 3 x 3 neighbourhood (neighbouring changes explain the same residual).
    """
    f = start.astype(np.float64)
    for _ in range(_MB_LANDWEBER):
        f = np.clip(f + _blur(y - _blur(f, sigma), sigma), mu[0], mu[-1])
    labels = nearest_labels(f, mu)
    energy = float(np.prod([np.sum(gaussian_kernel(s)[1] ** 2) for s in sigma]))
    for _ in range(_MB_ICM):
        c = _blur(y - _blur(mu[labels], sigma), sigma)
        counts = [_neighbour_counts(labels, k) for k in range(len(mu))]
        same = np.choose(labels, counts)
        best = np.zeros(y.shape)
        best_k = labels.copy()
        for k in range(len(mu)):
            d = mu[k] - mu[labels]
            gain = -2.0 * d * c + d * d * energy + potts * (same - counts[k])
            gain[(labels == k) | (counts[k] == 0)] = 0.0
            better = gain < best
            best[better] = gain[better]
            best_k[better] = k
        change = (best < 0) & (best <= ndimage.minimum_filter(best, size=3, mode="nearest"))
        if not change.any():
            break
        labels[change] = best_k[change]
    return labels


def model_based_psf(flat: np.ndarray, smooth: np.ndarray, mu: np.ndarray, gain: float,
                     read: float) -> tuple[float, float] | None:
    """One (isotropic) PSF sigma and its standard error by cross-validated synthesis.

    The raw image is split into two with independent noise (``y + z`` and ``y - z``,
    ``z`` Gaussian with the noise model's variance: recorrupted-to-recorrupted, Pang et
    al. 2021); for each trial sigma a labelling is fitted to the first
    (:func:`_fit_labels`), blurred, its phase levels fitted by least squares, and
    compared with the second. Too small a sigma cannot reproduce the blurred edges,
    too large a sigma over-smooths them; the labelling's own fit to the noise does not
    enter, as the second image's noise is independent of it. The minimum of the mean
    squared difference over ``_MB_GRID`` is refined by a parabola in log sigma; its
    standard error combines a delete-an-octant jackknife of the residual sums with
    ``_MB_SYSTEMATIC * sigma``, the scatter of the estimate about the truth on phantoms
    (the jackknife alone misses the labelling's own errors). None when the minimum lies
    at an end of the grid.
    """
    sl = tuple(central_window(n, _MB_BLOCK, 0)[0] for n in flat.shape)
    y = flat[sl].astype(np.float64)
    grey = smooth[sl].astype(np.float64)
    contrast = float(mu[-1] - mu[0])
    var = np.maximum(gain * np.clip(grey, 0.0, None) + read**2, (1e-3 * contrast) ** 2)
    z = np.random.default_rng(_MB_SEED).standard_normal(y.shape) * np.sqrt(var)
    y1, y2 = y + z, y - z
    start = ndimage.gaussian_filter(y1, 0.7, mode="nearest")
    # In squared grey: a nat is twice the noise variance of y1, itself twice var.
    potts = _MB_POTTS * 2.0 * 2.0 * float(np.mean(var))
    m = _MB_MARGIN
    inner = tuple(slice(m, n - m) for n in y.shape)
    # Octant of every inner voxel, for the jackknife.
    octant = np.zeros([n - 2 * m for n in y.shape], dtype=np.int64)
    for a, n in enumerate(octant.shape):
        shape = [1, 1, 1]
        shape[a] = n
        octant += ((np.arange(n) >= n // 2).astype(np.int64) << a).reshape(shape)
    octant = octant.ravel()
    grid = np.log(np.array(_MB_GRID))
    sums = []
    for g in grid:
        sigma = np.full(3, math.exp(g))
        labels = _fit_labels(y1, start, mu, sigma, potts)
        design = np.column_stack([_blur((labels == k).astype(np.float64), sigma)[inner].ravel()
                                  for k in range(len(mu))])
        levels = np.linalg.lstsq(design, y1[inner].ravel(), rcond=None)[0]
        r2 = (design @ levels - y2[inner].ravel()) ** 2
        sums.append(np.bincount(octant, r2, minlength=8))
        total = [s.sum() for s in sums]
        # Stop two steps past the minimum: the profile rises steeply above it.
        if len(total) >= 3 and total[-1] > total[-2] > min(total):
            break
    sums = np.array(sums)

    def minimum(score: np.ndarray) -> float | None:
        j = int(np.argmin(score))
        if j == 0 or j == len(score) - 1:
            return None
        x, yv = grid[j - 1:j + 2], score[j - 1:j + 2]
        a2, a1, _ = np.polyfit(x, yv, 2)
        return float(np.clip(-a1 / (2.0 * a2), x[0], x[2])) if a2 > 0 else float(x[1])

    best = minimum(sums.sum(1))
    if best is None:
        return None
    reps = [minimum(sums.sum(1) - sums[:, o]) for o in range(8)]
    reps = np.exp([r if r is not None else best for r in reps])
    jack = float(np.sqrt(7.0 / 8.0 * np.sum((reps - reps.mean()) ** 2)))
    return math.exp(best), math.hypot(jack, _MB_SYSTEMATIC * math.exp(best))

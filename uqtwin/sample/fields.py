"""Gaussian random fields that any chunk of a volume can compute on its own.

A member's random fields must not depend on how the volume is cut into chunks: a sample
drawn chunk by chunk (a scan too large for memory, or chunks spread over a cluster) has to
be the sample drawn whole. The field is therefore defined on the whole integer lattice:

* white noise, N(0, 1), drawn in fixed blocks of :data:`NOISE_BLOCK`³ voxels, each block
  from its own stream ``default_rng([seed, block index + offset])``, so any box of the
  lattice gets the same noise values whatever else is drawn;
* correlated by a separable Gaussian kernel of standard deviation ``ell / sqrt(2)`` per
  axis, truncated at :data:`TRUNCATE` standard deviations, which gives the correlation
  ``exp(-|r|^2 / (2 ell^2))`` of :func:`uqtwin.sample.correlated.gaussian_random_field`;
  divided by the kernel's norm, so every voxel has variance exactly 1 in law.

A box is computed from its noise plus a halo of the kernel radius; each voxel's value is
the same fixed sum of the same noise values (scipy's ``correlate1d`` sums a symmetric
kernel tap by tap, in double precision), so boxes cut anywhere agree bit for bit.
Volume-wide moments (the mean that the ambiguity sampler removes) are summed per noise
block and added exactly (:func:`math.fsum`), so they too are the same for any chunking
whose chunks are unions of whole blocks.

Why not the FFT: a periodic FFT field needs the whole (padded) volume at once. Costs beside
it are in benchmarks/README.md ("Whole scans").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
from scipy import ndimage

from uqtwin.sample.correlated import correlation_lengths

#: Side of the cubic blocks of white noise, voxels (chunks of a chunked draw are unions of
#: whole blocks).
NOISE_BLOCK = 32
#: Kernel radius in standard deviations of the Gaussian kernel (its tail beyond holds
#: 6e-5 of the variance).
TRUNCATE = 4.0
#: Added to block indices so they are non-negative seeds (volumes up to 2**40 blocks).
_BLOCK_OFFSET = 2**40


def block_noise(seed: int, lo: Sequence[int], hi: Sequence[int]) -> np.ndarray:
    """White noise on the lattice box ``[lo, hi)``, the same values for any box asked.

    Parameters
    ----------
    seed : int
        The field's seed (>= 0).
    lo, hi : sequence of 3 ints
        Corners of the box (z, y, x), voxels; ``lo`` may be negative (halos beyond the
        volume).

    Returns
    -------
    ndarray of float32, shape ``hi - lo``

    Examples
    --------
    >>> a = block_noise(7, (0, 0, 0), (40, 40, 40))
    >>> b = block_noise(7, (30, -5, 10), (40, 20, 40))
    >>> bool(np.array_equal(a[30:40, 0:20, 10:40], b[:, 5:, :]))
    True
    """
    lo_a = np.asarray(lo, dtype=np.int64)
    hi_a = np.asarray(hi, dtype=np.int64)
    out = np.empty(tuple(int(v) for v in hi_a - lo_a), dtype=np.float32)
    b = NOISE_BLOCK
    first = lo_a // b
    last = -(-hi_a // b)
    for bz in range(first[0], last[0]):
        for by in range(first[1], last[1]):
            for bx in range(first[2], last[2]):
                corner = np.array([bz, by, bx]) * b
                rng = np.random.default_rng(
                    [int(seed), bz + _BLOCK_OFFSET, by + _BLOCK_OFFSET, bx + _BLOCK_OFFSET])
                block = rng.standard_normal((b, b, b), dtype=np.float32)
                s_lo = np.maximum(corner, lo_a)
                s_hi = np.minimum(corner + b, hi_a)
                out[_box(s_lo - lo_a, s_hi - lo_a)] = block[_box(s_lo - corner, s_hi - corner)]
    return out


def _box(lo: np.ndarray, hi: np.ndarray) -> tuple[slice, ...]:
    return tuple(slice(int(a), int(c)) for a, c in zip(lo, hi, strict=True))


def _kernels(correlation_length) -> list[np.ndarray | None]:
    sd = correlation_lengths(correlation_length) / np.sqrt(2.0)
    kernels: list[np.ndarray | None] = []
    for s in sd:
        if s <= 0:
            kernels.append(None)
            continue
        r = int(np.ceil(TRUNCATE * s))
        k = np.arange(-r, r + 1, dtype=np.float64)
        kernels.append(np.exp(-0.5 * (k / s) ** 2))
    return kernels


def local_gaussian_field(
    shape: Sequence[int],
    correlation_length: float | Sequence[float],
    seed: int,
    *,
    origin: Sequence[int] = (0, 0, 0),
) -> np.ndarray:
    """The lattice field of ``seed`` on the box ``origin + [0, shape)``.

    Parameters
    ----------
    shape : sequence of 3 ints
        Box shape (z, y, x).
    correlation_length : float or sequence of 3 floats
        ``ell`` per axis, voxels (0: uncorrelated along that axis).
    seed : int
        The field's seed (>= 0).
    origin : sequence of 3 ints
        Position of the box's first voxel on the lattice.

    Returns
    -------
    ndarray of float32, shape ``shape``
        Zero mean and unit variance in law, correlation ``exp(-|r|^2 / (2 ell^2))``.

    Examples
    --------
    >>> whole = local_gaussian_field((24, 24, 24), 3.0, seed=5)
    >>> part = local_gaussian_field((10, 24, 8), 3.0, seed=5, origin=(14, 0, 16))
    >>> bool(np.array_equal(whole[14:, :, 16:], part))
    True
    """
    kernels = _kernels(correlation_length)
    radius = np.array([0 if k is None else k.size // 2 for k in kernels], dtype=np.int64)
    o = np.asarray(origin, dtype=np.int64)
    n = np.asarray(shape, dtype=np.int64)
    field = block_noise(seed, o - radius, o + n + radius)
    norm = 1.0
    for axis, k in enumerate(kernels):
        if k is None:
            continue
        field = ndimage.correlate1d(field, k, axis=axis, mode="constant", output=np.float32)
        norm *= float(np.sqrt(np.sum(k**2)))
    inner = tuple(slice(int(r), int(r + m)) for r, m in zip(radius, n, strict=True))
    out = field[inner]
    out /= np.float32(norm)
    return np.ascontiguousarray(out)


def block_partial_sums(
    field: np.ndarray, origin: Sequence[int] = (0, 0, 0),
) -> dict[tuple[int, int, int], tuple[float, float, int]]:
    """Sum, sum of squares and count of ``field`` in each noise block it covers.

    Parameters
    ----------
    field : ndarray, shape (nz, ny, nx)
        Values on the box ``origin + [0, shape)``; its sides must fall on block borders
        (or on the volume's end).
    origin : sequence of 3 ints
        The box's position on the lattice.

    Returns
    -------
    dict
        ``{block index (z, y, x): (sum, sum of squares, count)}``, float64 sums.
    """
    b = NOISE_BLOCK
    o = np.asarray(origin, dtype=np.int64)
    out: dict[tuple[int, int, int], tuple[float, float, int]] = {}
    starts = [range(0, n, b) for n in field.shape]
    for z in starts[0]:
        for y in starts[1]:
            for x in starts[2]:
                part = field[z:z + b, y:y + b, x:x + b].astype(np.float64)
                key = tuple(int(v) for v in (o + (z, y, x)) // b)
                out[key] = (float(part.sum()), float((part * part).sum()), part.size)
    return out


def moments(
    partials: Iterable[dict[tuple[int, int, int], tuple[float, float, int]]],
) -> tuple[float, float]:
    """Mean and standard deviation from per-block partial sums, added exactly.

    Parameters
    ----------
    partials : iterable of dicts
        Outputs of :func:`block_partial_sums` for chunks that together cover the volume
        once.

    Returns
    -------
    mean, sd : float
        Over all voxels (population sd); the same whatever order the partials come in.

    Examples
    --------
    >>> f = local_gaussian_field((40, 40, 40), 2.0, seed=1)
    >>> m, s = moments([block_partial_sums(f)])
    >>> bool(abs(m - f.mean()) < 1e-6 and abs(s - f.std()) < 1e-5)
    True
    """
    merged: dict[tuple[int, int, int], tuple[float, float, int]] = {}
    for p in partials:
        merged.update(p)
    keys = sorted(merged)
    count = sum(merged[k][2] for k in keys)
    total = math.fsum(merged[k][0] for k in keys)
    squares = math.fsum(merged[k][1] for k in keys)
    mean = total / count
    return mean, math.sqrt(max(squares / count - mean * mean, 0.0))

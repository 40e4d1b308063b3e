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
the same fixed sum of the same noise values (compiled passes that sum the symmetric
kernel tap by tap in a fixed order), so boxes cut anywhere agree bit for bit.
Volume-wide moments (the mean that the ambiguity sampler removes) are summed per noise
block and added exactly (:func:`math.fsum`), so they too are the same for any chunking
whose chunks are unions of whole blocks.

Why not the FFT: a periodic FFT field needs the whole (padded) volume at once. Costs beside
it are in benchmarks/README.md ("Whole scans").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numba
import numpy as np

from uqtwin.errors import VolumeError
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
        # "valid" correlation: each pass drops the halo it consumed along its axis
        field = _VALID[axis](field, k.astype(np.float32))
        norm *= float(np.sqrt(np.sum(k**2)))
    field /= np.float32(norm)
    return field


# The three passes of the separable kernel, compiled: the same fixed sum per voxel
# (centre tap, then the symmetric pairs t = 1..r, in float32, no fused multiply-adds since
# numba does not use fastmath here), so any box gets the same bits; the loops run along
# the contiguous x axis, which the compiler vectorises (10x scipy's correlate1d with its
# 40-tap kernels at 256³, which converts every line to float64).
@numba.njit(cache=True, nogil=True)
def _valid_z(src, k):  # pragma: no cover - compiled
    r = (k.size - 1) // 2
    nz, ny, nx = src.shape[0] - 2 * r, src.shape[1], src.shape[2]
    out = np.empty((nz, ny, nx), np.float32)
    for z in range(nz):
        for y in range(ny):
            row = out[z, y]
            centre = src[z + r, y]
            for x in range(nx):
                row[x] = k[r] * centre[x]
            for t in range(1, r + 1):
                kt = k[r + t]
                lo = src[z + r - t, y]
                hi = src[z + r + t, y]
                for x in range(nx):
                    row[x] += kt * (lo[x] + hi[x])
    return out


@numba.njit(cache=True, nogil=True)
def _valid_y(src, k):  # pragma: no cover - compiled
    r = (k.size - 1) // 2
    nz, ny, nx = src.shape[0], src.shape[1] - 2 * r, src.shape[2]
    out = np.empty((nz, ny, nx), np.float32)
    for z in range(nz):
        for y in range(ny):
            row = out[z, y]
            centre = src[z, y + r]
            for x in range(nx):
                row[x] = k[r] * centre[x]
            for t in range(1, r + 1):
                kt = k[r + t]
                lo = src[z, y + r - t]
                hi = src[z, y + r + t]
                for x in range(nx):
                    row[x] += kt * (lo[x] + hi[x])
    return out


@numba.njit(cache=True, nogil=True)
def _valid_x(src, k):  # pragma: no cover - compiled
    r = (k.size - 1) // 2
    nz, ny, nx = src.shape[0], src.shape[1], src.shape[2] - 2 * r
    out = np.empty((nz, ny, nx), np.float32)
    for z in range(nz):
        for y in range(ny):
            row = out[z, y]
            line = src[z, y]
            for x in range(nx):
                row[x] = k[r] * line[x + r]
            for t in range(1, r + 1):
                kt = k[r + t]
                for x in range(nx):
                    row[x] += kt * (line[x + r - t] + line[x + r + t])
    return out


_VALID = (_valid_z, _valid_y, _valid_x)


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
    shape = np.asarray(field.shape, dtype=np.int64)
    sums, squares = _block_sums(np.ascontiguousarray(field, dtype=np.float32), b)
    out: dict[tuple[int, int, int], tuple[float, float, int]] = {}
    for idx in np.ndindex(*sums.shape):
        lo = np.asarray(idx, dtype=np.int64) * b
        count = int(np.prod(np.minimum(lo + b, shape) - lo))
        key = tuple(int(v) for v in (o + lo) // b)
        out[key] = (float(sums[idx]), float(squares[idx]), count)
    return out


@numba.njit(cache=True, nogil=True)
def _block_sums(field, b):  # pragma: no cover - compiled
    # One pass over the voxels (the per-block numpy reductions took 1 s per 256³ field);
    # float64 sums in a fixed order, so every chunking gives the same bits per block.
    nz, ny, nx = field.shape
    nbz, nby, nbx = -(-nz // b), -(-ny // b), -(-nx // b)
    sums = np.zeros((nbz, nby, nbx))
    squares = np.zeros((nbz, nby, nbx))
    for z in range(nz):
        for y in range(ny):
            for bx in range(nbx):
                s = 0.0
                q = 0.0
                for x in range(bx * b, min(bx * b + b, nx)):
                    v = np.float64(field[z, y, x])
                    s += v
                    q += v * v
                sums[z // b, y // b, bx] += s
                squares[z // b, y // b, bx] += q
    return sums, squares


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


def box_origin(box: tuple[slice, slice, slice]) -> tuple[int, int, int]:
    """The first voxel (z, y, x) of a box of three slices with explicit starts."""
    return tuple(int(s.start) for s in box)  # type: ignore[return-value]


def box_extent(box: tuple[slice, slice, slice]) -> tuple[int, int, int]:
    """The shape (z, y, x) of a box of three slices with explicit starts and stops."""
    return tuple(int(s.stop - s.start) for s in box)  # type: ignore[return-value]


def chunk_boxes(shape: Sequence[int], chunk: int | Sequence[int] | None,
                ) -> list[tuple[slice, slice, slice]]:
    """The boxes that tile ``shape`` in chunks of ``chunk`` (None: one box).

    Parameters
    ----------
    shape : sequence of 3 ints
        Volume shape.
    chunk : int, sequence of 3 ints, or None
        Chunk shape; every side a multiple of
        :data:`~uqtwin.sample.fields.NOISE_BLOCK`.

    Returns
    -------
    list of tuples of 3 slices

    Raises
    ------
    VolumeError
        If a chunk side is not a positive multiple of the noise block.

    Examples
    --------
    >>> len(chunk_boxes((64, 64, 40), 32)), chunk_boxes((8, 8, 8), None)[0][0]
    (8, slice(0, 8, None))
    """
    if chunk is None:
        return [tuple(slice(0, int(n)) for n in shape)]  # type: ignore[list-item]
    sides = [int(chunk)] * 3 if np.isscalar(chunk) else [int(c) for c in chunk]
    if len(sides) != 3 or any(c < 1 or c % NOISE_BLOCK for c in sides):
        raise VolumeError(f"chunk sides must be positive multiples of {NOISE_BLOCK} voxels "
                          f"(the noise blocks), got {chunk!r}")
    starts = [range(0, int(n), c) for n, c in zip(shape, sides, strict=True)]
    return [(slice(z, min(z + sides[0], shape[0])), slice(y, min(y + sides[1], shape[1])),
             slice(x, min(x + sides[2], shape[2])))
            for z in starts[0] for y in starts[1] for x in starts[2]]

"""Chunk shapes for lazy reading, and whether one chunk fits a memory limit.

:func:`resolve_chunks` turns what a user writes (``64``, ``(32, 256, 256)``, ``"auto"``)
into one chunk shape (z, y, x); :func:`check_chunk_memory` refuses a chunk shape whose
single chunk, in flight, would need more memory than a limit, before any chunk is read.
A lazily read volume (``read_volume(..., chunks=...)``) holds at most the chunks being
computed, so peak memory grows with the number of chunks in flight, not with the volume.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from uqtwin.errors import VolumeError


def _mib(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB"


def resolve_chunks(
    chunks: Any,
    shape: Sequence[int],
    dtype: Any,
    previous: Sequence[int] | None = None,
) -> tuple[int, int, int]:
    """One chunk shape (z, y, x) from an int, a 3-tuple or ``"auto"``.

    Parameters
    ----------
    chunks : int, sequence of 3 ints, or "auto"
        An int is a cube; ``-1`` or ``None`` along an axis means the whole axis;
        ``"auto"`` lets dask pick about 128 MiB chunks that are whole multiples of
        ``previous`` (the file's own chunks or pages, so no stored chunk is decoded
        twice).
    shape : sequence of 3 ints
        The volume's shape (z, y, x).
    dtype : numpy dtype
        The voxel type (for ``"auto"``).
    previous : sequence of 3 ints, optional
        The file's own chunk shape.

    Returns
    -------
    tuple of 3 ints
        Each between 1 and the axis length.

    Raises
    ------
    VolumeError
        When ``chunks`` is not an int, 3 ints or ``"auto"``, or holds a size below 1.

    Examples
    --------
    >>> from uqtwin.io.chunks import resolve_chunks
    >>> resolve_chunks(64, (100, 50, 200), "uint16")
    (64, 50, 64)
    >>> resolve_chunks((16, -1, -1), (100, 50, 200), "uint16")
    (16, 50, 200)
    """
    import dask.array as da

    shp = tuple(int(n) for n in shape)
    if isinstance(chunks, str):
        if chunks != "auto":
            raise VolumeError(f"chunks must be an int, 3 ints or 'auto', got {chunks!r}")
        prev = tuple(previous) if previous is not None else None
        norm = da.core.normalize_chunks("auto", shp, dtype=np.dtype(dtype),
                                        previous_chunks=prev)
        return tuple(int(max(c)) for c in norm)  # type: ignore[return-value]
    if isinstance(chunks, (int, np.integer)) and not isinstance(chunks, bool):
        chunks = (int(chunks),) * 3
    try:
        raw = [None if c is None else int(c) for c in chunks]
    except (TypeError, ValueError):
        raise VolumeError(f"chunks must be an int, 3 ints or 'auto', got {chunks!r}") from None
    if len(raw) != 3:
        raise VolumeError(f"chunks must give 3 sizes (z, y, x), got {chunks!r}")
    out = []
    for c, n in zip(raw, shp, strict=True):
        if c is None or c == -1:
            c = n
        if c < 1:
            raise VolumeError(f"chunks must be positive (or -1 for a whole axis), got {chunks!r}")
        out.append(min(c, n))
    return tuple(out)  # type: ignore[return-value]


def check_chunk_memory(
    shape: Sequence[int],
    chunks: Any,
    dtype: Any,
    limit_bytes: int | float,
    bytes_per_voxel: float | None = None,
) -> int:
    """Refuse a chunk shape whose single chunk does not fit a memory limit.

    Parameters
    ----------
    shape : sequence of 3 ints
        The volume's shape (z, y, x).
    chunks : int, sequence of 3 ints, or "auto"
        The chunking, as for :func:`resolve_chunks`; dask's per-axis chunk tuples are
        accepted too (the largest along each axis counts).
    dtype : numpy dtype
        The voxel type as stored.
    limit_bytes : int or float
        Memory available for one chunk in flight (e.g. a worker's memory limit divided by
        the chunks it runs at once).
    bytes_per_voxel : float, optional
        What one voxel of a chunk costs in flight: the stored item size by default; a
        stage that keeps float copies, halos or labels passes its own (e.g. 16).

    Returns
    -------
    int
        Bytes one chunk needs in flight.

    Raises
    ------
    VolumeError
        When one chunk needs more than ``limit_bytes``; the message gives the chunk's
        voxels, the bytes per voxel, the bytes needed, the limit and a chunk that fits.

    Examples
    --------
    >>> from uqtwin.io.chunks import check_chunk_memory
    >>> check_chunk_memory((512, 512, 512), 128, "uint16", 2**30)
    4194304
    >>> check_chunk_memory((512, 512, 512), 256, "uint16", 2**24)
    Traceback (most recent call last):
    ...
    uqtwin.errors.VolumeError: one chunk of (256, 256, 256) voxels needs 16,777,216 voxels \
x 2 bytes = 33,554,432 bytes (32.0 MiB) in flight, more than the memory limit of \
16,777,216 bytes (16.0 MiB); use smaller chunks, e.g. chunks=(203, 203, 203)
    """
    shp = tuple(int(n) for n in shape)
    if (isinstance(chunks, Sequence) and not isinstance(chunks, str)
            and any(isinstance(c, Sequence) for c in chunks)):
        chunks = tuple(max(c) if isinstance(c, Sequence) else c for c in chunks)
    one = resolve_chunks(chunks, shp, dtype)
    per_voxel = float(np.dtype(dtype).itemsize if bytes_per_voxel is None else bytes_per_voxel)
    if not np.isfinite(per_voxel) or per_voxel <= 0:
        raise VolumeError(f"bytes_per_voxel must be positive, got {bytes_per_voxel!r}")
    if not limit_bytes > 0:
        raise VolumeError(f"memory limit must be a positive number of bytes, got {limit_bytes!r}")
    voxels = int(np.prod(one, dtype=np.int64))
    need = int(np.ceil(voxels * per_voxel))
    if need > limit_bytes:
        # A cube that fits, as a hint: the largest side s with s^3 * per_voxel <= limit.
        side = max(1, int((limit_bytes / per_voxel) ** (1 / 3)))
        while side > 1 and side**3 * per_voxel > limit_bytes:
            side -= 1
        hint = tuple(min(side, n) for n in shp)
        raise VolumeError(
            f"one chunk of {one} voxels needs {voxels:,} voxels x {per_voxel:g} bytes = "
            f"{need:,} bytes ({_mib(need)}) in flight, more than the memory limit of "
            f"{int(limit_bytes):,} bytes ({_mib(limit_bytes)}); use smaller chunks, e.g. "
            f"chunks={hint}"
        )
    return need

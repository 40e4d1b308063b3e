"""Lazy volumes: a file opened as a :mod:`dask.array` that reads only the chunks computed.

Each format gives a *source*: a small picklable object with ``shape``, ``dtype``, ``ndim``
and ``__getitem__`` that opens the file inside each read (or keeps a handle per process,
never pickled), so a task graph can be shipped to the worker processes of a
``dask.distributed`` cluster and each worker reads its own chunks from the shared file.
:func:`lazy_array` wraps a source as a dask array with a name derived from the file's
path, size and modification time (reopening an unchanged file gives the same graph keys).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from uqtwin.errors import VolumeError


def _stamp(path: Path) -> tuple[str, int, int]:
    st = os.stat(path)
    return str(Path(path).resolve()), st.st_size, st.st_mtime_ns


class MemmapSource:
    """A C- or Fortran-ordered block of one file (raw data, ``.npy``), read by memory map.

    The map is made inside each read: pickling a :class:`numpy.memmap` would copy its
    whole content into the task graph.

    Parameters
    ----------
    path : path-like
        The file.
    shape : tuple of ints
        The array's shape.
    dtype : numpy dtype
        As stored (any byte order); reads return native byte order.
    offset : int
        Bytes before the data.
    order : {"C", "F"}
        Memory layout of the stored array.
    """

    def __init__(self, path: Any, shape: tuple[int, ...], dtype: Any, offset: int = 0,
                 order: str = "C") -> None:
        self.path = Path(path)
        self.shape = tuple(int(n) for n in shape)
        self.stored = np.dtype(dtype)
        self.dtype = self.stored.newbyteorder("=") if self.stored.byteorder not in "=|" \
            else self.stored
        self.ndim = len(self.shape)
        self.offset = int(offset)
        self.order = order

    def _slab(self, key: tuple) -> tuple[int, int] | None:
        """(start, stop) along z when ``key`` takes whole, contiguous z-slices, else None."""
        if self.order != "C" or len(key) > len(self.shape) or not all(
                isinstance(k, slice) for k in key):
            return None
        key = key + (slice(None),) * (len(self.shape) - len(key))
        ranges = [k.indices(n) for k, n in zip(key, self.shape, strict=True)]
        if any(step != 1 for _, _, step in ranges) or any(
                (lo, hi) != (0, n) for (lo, hi, _), n in zip(ranges[1:], self.shape[1:],
                                                             strict=True)):
            return None
        lo, hi, _ = ranges[0]
        return (lo, hi) if hi > lo else None

    def __dask_tokenize__(self) -> tuple:
        return ("memmap", _stamp(self.path), self.shape, self.stored.str, self.offset,
                self.order)

    def __getitem__(self, key: Any) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        slab = self._slab(key)
        if slab is not None:
            # A run of whole z-slices is one contiguous read: no map, whose touched pages
            # would count in the process's resident memory next to the copy.
            start, stop = slab
            per = int(np.prod(self.shape[1:]))
            arr = np.fromfile(self.path, dtype=self.stored, count=(stop - start) * per,
                              offset=self.offset + start * per * self.stored.itemsize)
            return arr.reshape((stop - start, *self.shape[1:])).astype(self.dtype, copy=False)
        mm = np.memmap(self.path, dtype=self.stored, mode="r", offset=self.offset,
                       shape=self.shape, order=self.order)
        # np.array copies the chunk out of the map, so the file can close with the map.
        return np.array(mm[key], dtype=self.dtype)


def _check_finite(block: np.ndarray, path: str, block_info: Any = None) -> np.ndarray:
    bad = ~np.isfinite(block)
    if bad.any():
        where = ""
        if block_info and 0 in block_info:
            loc = block_info[0]["array-location"]
            first = np.argwhere(bad)[0]
            where = ", first at (z, y, x) = " + str(
                tuple(int(lo + i) for (lo, _), i in zip(loc, first, strict=True)))
        raise VolumeError(f"{path}: volume contains {int(bad.sum())} NaN or infinite "
                          f"value(s) in one chunk{where}")
    return block


def lazy_array(source: Any, chunks: tuple[int, int, int], path: Any) -> Any:
    """Wrap a source as a dask array of ``chunks``; float data is checked chunk by chunk.

    Parameters
    ----------
    source : object
        Has ``shape``, ``dtype``, ``ndim`` and ``__getitem__`` (e.g. :class:`MemmapSource`).
    chunks : tuple of 3 ints
        One chunk's shape (z, y, x).
    path : path-like
        The file, named in the error of a chunk holding NaN.

    Returns
    -------
    dask.array.Array
        Nothing is read until it is computed. A float chunk holding NaN or infinite
        values raises a :class:`~uqtwin.errors.VolumeError` when computed (finding them
        before would mean reading the whole volume).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from uqtwin.io.lazy import MemmapSource, lazy_array
    >>> path = os.path.join(tempfile.mkdtemp(), "v.raw")
    >>> np.arange(24, dtype="<u2").tofile(path)
    >>> arr = lazy_array(MemmapSource(path, (2, 3, 4), "<u2"), (1, 3, 4), path)
    >>> arr.numblocks, int(arr[1].sum().compute())
    ((2, 1, 1), 210)
    """
    import dask.array as da
    from dask.base import tokenize

    name = f"read-{type(source).__name__.lower()}-{tokenize(source, chunks)}"
    arr = da.from_array(source, chunks=chunks, name=name, asarray=True, fancy=False,
                        lock=False, meta=np.empty((0,) * len(chunks), source.dtype))
    if arr.dtype.kind == "f":
        arr = arr.map_blocks(_check_finite, str(path), dtype=arr.dtype,
                             name=f"finite-{name}")
    return arr


def squeezed_shape(stored: tuple[int, ...]) -> tuple[int, ...]:
    """The shape with length-1 axes dropped when there are more than 3 axes.

    Parameters
    ----------
    stored : tuple of ints
        The stored array's shape.

    Returns
    -------
    tuple of ints
        As :func:`uqtwin.io._common.squeeze_to_3d` reshapes an array read whole.

    Examples
    --------
    >>> from uqtwin.io.lazy import squeezed_shape
    >>> squeezed_shape((1, 1, 4, 5, 6)), squeezed_shape((1, 5, 6))
    ((4, 5, 6), (1, 5, 6))
    """
    return tuple(n for n in stored if n != 1) if len(stored) > 3 else tuple(stored)


def expand_key(key: Any, stored: tuple[int, ...]) -> tuple[tuple, tuple[int, ...]]:
    """A key of slices on the squeezed array as a key on the stored one, and its shape.

    Parameters
    ----------
    key : slice or tuple of slices
        One slice per axis of the squeezed array (dask passes these with ``fancy=False``).
    stored : tuple of ints
        The stored array's shape.

    Returns
    -------
    key : tuple of slices
        With whole slices at the dropped length-1 axes.
    shape : tuple of ints
        The shape of the squeezed block.

    Examples
    --------
    >>> from uqtwin.io.lazy import expand_key
    >>> key, shape = expand_key((slice(0, 2), slice(None), slice(1, 3)), (1, 4, 5, 6))
    >>> len(key), key[1], shape
    (4, slice(0, 2, None), (2, 5, 2))
    """
    key = key if isinstance(key, tuple) else (key,)
    shape = squeezed_shape(stored)
    key = key + (slice(None),) * (len(shape) - len(key))
    block = tuple(len(range(*k.indices(n))) for k, n in zip(key, shape, strict=True))
    if len(stored) <= 3:
        return key, block
    it = iter(key)
    return tuple(slice(None) if n == 1 else next(it) for n in stored), block


def lazy_volume(source: Any, chunks: tuple[int, int, int], spacing: Any, unit: str,
                attrs: dict[str, Any], path: Any) -> Any:
    """A volume (as :func:`uqtwin.volume.make_volume` builds it) backed by a lazy array.

    Parameters
    ----------
    source : object
        As for :func:`lazy_array`.
    chunks : tuple of 3 ints
        One chunk's shape.
    spacing : sequence of 3 floats
        Voxel size (z, y, x) in ``unit``.
    unit : str
        Length unit.
    attrs : dict
        Provenance kept on the result.
    path : path-like
        The file, named in errors.

    Returns
    -------
    xarray.DataArray
        Named ``"grey"``, with the coords and attrs of an eager read.
    """
    from uqtwin.io._common import fail
    from uqtwin.volume import make_volume

    # make_volume builds the coords and attrs exactly as for an eager read; it is given a
    # zero-stride stand-in (no memory, no NaN scan) whose data is then swapped for the
    # lazy array.
    stand_in = np.broadcast_to(np.zeros((), np.uint8), tuple(source.shape))
    try:
        template = make_volume(stand_in, spacing, unit, name="grey", attrs=attrs)
    except VolumeError as exc:
        raise fail(path, str(exc)) from None
    return template.copy(deep=False, data=lazy_array(source, chunks, path))

"""HDF5 volumes (``.h5``, ``.hdf5``, ``.he5``, NeXus ``.nxs``) via h5py.

:func:`read_hdf5` reads the dataset whole into memory; :func:`open_hdf5` opens it lazily
(:class:`HDF5Source`, one read per chunk, picklable for worker processes). Both refuse a
truncated file when it is opened: HDF5 records its end-of-file address in the superblock,
and each dataset's stored bytes must lie inside the file. Spacing comes from the dataset's
attributes ``spacing``, ``voxel_size`` or ``element_size_um`` (z, y, x) with ``unit``,
else from the same attributes on the parent groups up to the file root.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from uqtwin.errors import VolumeError
from uqtwin.io._common import FileMeta, fail, spacing_from_attrs, squeeze_to_3d
from uqtwin.io.lazy import expand_key, squeezed_shape


def _datasets(f: h5py.File) -> list[tuple[str, tuple[int, ...]]]:
    found: list[tuple[str, tuple[int, ...]]] = []

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            found.append(("/" + name, tuple(obj.shape)))

    f.visititems(visit)
    return found


def _listing(found: list[tuple[str, tuple[int, ...]]]) -> str:
    if not found:
        return "the file holds no datasets"
    return "available: " + ", ".join(f"{n} {s}" for n, s in found)


def _opened(path: Path, exc: Exception) -> VolumeError:
    """The error for a file h5py cannot open, saying "truncated" with sizes when it is."""
    m = re.search(r"truncated file: eof = (\d+).*stored_eof = (\d+)", str(exc))
    if m:
        return fail(path, f"HDF5 file is truncated: it has {int(m.group(1)):,} bytes but its "
                          f"superblock says {int(m.group(2)):,} (an interrupted copy or "
                          "download?)")
    return fail(path, f"cannot read HDF5, the file is truncated, corrupted or not HDF5 "
                      f"({type(exc).__name__}: {exc})")


def _check_extent(obj: h5py.Dataset, path: Path) -> None:
    """Raise when the dataset's stored bytes run past the end of the file."""
    size = path.stat().st_size
    end = 0
    if obj.chunks is None:
        offset = obj.id.get_offset()
        if offset is not None:
            end = int(offset) + int(obj.id.get_storage_size())
    else:
        def visit(info: Any) -> None:
            nonlocal end
            end = max(end, int(info.byte_offset) + int(info.size))

        obj.id.chunk_iter(visit)
    if end > size:
        raise fail(path, f"HDF5 dataset {obj.name!r} is truncated: its data extends to byte "
                         f"{end:,} but the file has only {size:,} bytes")


def _select(f: h5py.File, path: Path, dataset: str | None) -> tuple[h5py.Dataset, FileMeta]:
    """The dataset to read (the only 3-D one when not named) and its spacing metadata."""
    if dataset is None:
        found = _datasets(f)
        cands = [n for n, s in found if len([d for d in s if d > 1]) == 3 or len(s) == 3]
        if len(cands) != 1:
            raise fail(path, f"{'no' if not cands else len(cands)} 3-D datasets found, "
                             f"pass dataset=... ({_listing(found)})")
        dataset = cands[0]
    obj = f.get(dataset)
    if not isinstance(obj, h5py.Dataset):
        what = "is a group, not a dataset" if obj is not None else "not found"
        raise fail(path, f"dataset {dataset!r} {what} ({_listing(_datasets(f))})")
    meta = FileMeta()
    node: Any = obj
    # Walk up: many writers put the voxel size on the entry group, not the array.
    while node is not None:
        meta = spacing_from_attrs(node.attrs, path)
        if meta.known or meta.notes or node.name == "/":
            break
        node = node.parent
    return obj, meta


def read_hdf5(path: Path, dataset: str | None = None) -> tuple[np.ndarray, FileMeta]:
    """Read one dataset of an HDF5 file as a (z, y, x) array.

    Parameters
    ----------
    path : Path
        The HDF5 file.
    dataset : str, optional
        Path of the dataset inside the file (``"/entry/data/data"``). Without it the file
        must hold exactly one 3-D dataset.

    Returns
    -------
    array : numpy.ndarray, shape (nz, ny, nx)
    meta : FileMeta
        Spacing from the dataset's or its parents' attributes.
    """
    try:
        f = h5py.File(path, "r")
    except Exception as exc:
        raise _opened(path, exc) from None
    try:
        with f:
            obj, meta = _select(f, path, dataset)
            dataset = obj.name
            _check_extent(obj, path)
            arr = obj[()]
    except (VolumeError, MemoryError):
        raise
    except Exception as exc:
        raise fail(path, f"cannot read HDF5, the file is truncated, corrupted or not HDF5 "
                         f"({type(exc).__name__}: {exc})") from None
    if not isinstance(arr, np.ndarray):
        raise fail(path, f"dataset {dataset!r} is a scalar, not a volume")
    return squeeze_to_3d(arr, path, f"dataset {dataset!r}"), meta


class HDF5Source:
    """One HDF5 dataset, opened anew for each chunk read (safe in threads and processes).

    Holds only the file's path and the dataset's name, so it pickles into a task graph;
    reopening costs about a millisecond, little beside reading a chunk. Length-1 axes
    beyond three are dropped, as :func:`read_hdf5` drops them.

    Parameters
    ----------
    path : Path
    name : str
        The dataset's path in the file.
    shape : tuple of ints
        The dataset's stored shape.
    dtype : numpy dtype
        As stored; reads return native byte order.
    chunks : tuple of ints, optional
        The dataset's stored chunk shape (None when contiguous).
    """

    def __init__(self, path: Path, name: str, shape: tuple[int, ...], dtype: Any,
                 chunks: tuple[int, ...] | None = None) -> None:
        self.path, self.name, self.stored_shape = Path(path), name, tuple(shape)
        self.chunks = None if chunks is None else tuple(
            c for c, n in zip(chunks, shape, strict=True) if len(shape) <= 3 or n != 1)
        dt = np.dtype(dtype)
        self.dtype = dt.newbyteorder("=") if dt.byteorder not in "=|" else dt
        self.shape = squeezed_shape(self.stored_shape)
        self.ndim = len(self.shape)

    def __dask_tokenize__(self) -> tuple:
        st = self.path.stat()
        return ("hdf5", str(self.path.resolve()), st.st_size, st.st_mtime_ns, self.name)

    def __getitem__(self, key: Any) -> np.ndarray:
        full, shape = expand_key(key, self.stored_shape)
        with h5py.File(self.path, "r") as f:
            return np.asarray(f[self.name][full], dtype=self.dtype).reshape(shape)


def open_hdf5(path: Path, dataset: str | None = None) -> tuple[HDF5Source, FileMeta]:
    """Open one dataset of an HDF5 file lazily, checking now that it is complete.

    Parameters
    ----------
    path : Path
    dataset : str, optional
        As for :func:`read_hdf5`.

    Returns
    -------
    source : HDF5Source
        For :func:`uqtwin.io.lazy.lazy_array`.
    meta : FileMeta
        Spacing from the dataset's or its parents' attributes.
    """
    try:
        f = h5py.File(path, "r")
    except Exception as exc:
        raise _opened(path, exc) from None
    try:
        with f:
            obj, meta = _select(f, path, dataset)
            _check_extent(obj, path)
            if obj.shape is None or len(obj.shape) == 0:
                raise fail(path, f"dataset {obj.name!r} is a scalar, not a volume")
            shape, dtype, name, chunks = tuple(obj.shape), obj.dtype, obj.name, obj.chunks
    except (VolumeError, MemoryError):
        raise
    except Exception as exc:
        raise fail(path, f"cannot read HDF5, the file is truncated, corrupted or not HDF5 "
                         f"({type(exc).__name__}: {exc})") from None
    src = HDF5Source(path, name, shape, dtype, chunks)
    if src.ndim != 3:
        raise fail(path, f"dataset {name!r} is {len(shape)}-D with shape {shape}; a volume "
                         "must be 3-D (z, y, x)")
    return src, meta


def write_hdf5(arr: np.ndarray, path: Path, spacing: Any, unit: str, dataset: str) -> None:
    """Write a (z, y, x) array to ``dataset`` of a new HDF5 file with spacing attributes.

    Parameters
    ----------
    arr : numpy.ndarray, shape (nz, ny, nx)
    path : Path
        Overwritten if it exists.
    spacing : sequence of 3 floats
        Voxel size (z, y, x) in ``unit``, stored as attribute ``spacing``.
    unit : str
        Stored as attribute ``unit``.
    dataset : str
        Dataset path; intermediate groups are created.
    """
    with h5py.File(path, "w") as f:
        ds = f.create_dataset(dataset, data=arr)
        ds.attrs["spacing"] = np.asarray(spacing, dtype=float)
        ds.attrs["unit"] = unit

"""Entry points: :func:`read_volume` and :func:`write_volume` dispatch on the format.

Each format is one module (``tiff``, ``hdf5``, ``zarrstore``, ``npy``, ``raw``) and one
entry in :data:`READERS` (and :data:`WRITERS`, :data:`EXTENSIONS` when it can be written
or recognised by its suffix). A reader takes the path and the :class:`ReadOptions` and
returns the array and its :class:`~uqtwin.io._common.FileMeta`; a lazy reader
(:data:`LAZY_READERS`, used with ``chunks=``) returns a picklable *source* instead, whose
chunks are read only when computed (:func:`uqtwin.io.lazy.lazy_array`). HDF5, zarr and
dask are imported only when used (start-up time).
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from uqtwin.errors import VolumeError
from uqtwin.io._common import fail, native, resolve_spacing, sha256_of
from uqtwin.io.npy import open_npy, read_npy, write_npy
from uqtwin.io.raw import open_raw, read_raw, write_raw
from uqtwin.io.tiff import (
    SLICE_SUFFIXES,
    read_tiff,
    read_tiff_slices,
    slice_files,
    write_tiff,
    write_tiff_slices,
)
from uqtwin.io.tifflazy import open_tiff, open_tiff_slices
from uqtwin.volume import check_array, make_volume, spacing_of, unit_of


@dataclass(frozen=True)
class ReadOptions:
    """The reading options of ``[input]`` that some formats need.

    ``dataset``: HDF5 dataset / zarr array path; ``shape``, ``dtype``, ``byte_order``,
    ``offset``: the layout of a raw file; ``files``: the slice files of a TIFF-slices
    volume (found by :func:`read_volume`).
    """

    dataset: str | None = None
    shape: Sequence[int] | None = None
    dtype: Any = None
    byte_order: str = "little"
    offset: int = 0
    files: Sequence[Path] | None = None


def _read_hdf5(p: Path, o: ReadOptions):
    from uqtwin.io.hdf5 import read_hdf5

    return read_hdf5(p, o.dataset)


def _read_zarr(p: Path, o: ReadOptions):
    from uqtwin.io.zarrstore import read_zarr

    return read_zarr(p, o.dataset)


def _open_hdf5(p: Path, o: ReadOptions):
    from uqtwin.io.hdf5 import open_hdf5

    src, meta = open_hdf5(p, o.dataset)
    return src, meta, src.chunks


def _open_zarr(p: Path, o: ReadOptions):
    from uqtwin.io.zarrstore import open_zarr

    src, meta = open_zarr(p, o.dataset)
    return src, meta, src.chunks


def _write_hdf5(arr, p, sp, u, dataset, byte_order):
    from uqtwin.io.hdf5 import write_hdf5

    write_hdf5(arr, p, sp, u, dataset)


def _write_zarr(arr, p, sp, u, dataset, byte_order):
    from uqtwin.io.zarrstore import write_zarr

    write_zarr(arr, p, sp, u, dataset or None)


#: Format name -> ``reader(path, options) -> (array, FileMeta)``.
READERS: dict[str, Callable[[Path, ReadOptions], tuple[np.ndarray, Any]]] = {
    "tiff": lambda p, o: read_tiff(p),
    "tiff-slices": lambda p, o: read_tiff_slices(o.files, p),
    "hdf5": _read_hdf5,
    "zarr": _read_zarr,
    "npy": lambda p, o: read_npy(p),
    "raw": lambda p, o: read_raw(p, o.shape, o.dtype, o.byte_order, o.offset),
}
#: Format name -> ``opener(path, options) -> (source, FileMeta, native chunk or None)``: the
#: lazy readers behind ``read_volume(..., chunks=...)``. The source has ``shape``, ``dtype``
#: and ``__getitem__``; the native chunk (the file's own chunks, or one TIFF page) guides
#: ``chunks="auto"``.
LAZY_READERS: dict[str, Callable[[Path, ReadOptions], tuple[Any, Any, Any]]] = {
    "tiff": lambda p, o: open_tiff(p),
    "tiff-slices": lambda p, o: open_tiff_slices(o.files, p),
    "hdf5": _open_hdf5,
    "zarr": _open_zarr,
    "npy": lambda p, o: (open_npy(p) + (None,)),
    "raw": lambda p, o: (open_raw(p, o.shape, o.dtype, o.byte_order, o.offset) + (None,)),
}
#: Format name -> ``writer(array, path, spacing, unit, dataset, byte_order)``.
WRITERS: dict[str, Callable[..., None]] = {
    "tiff": lambda arr, p, sp, u, dataset, byte_order: write_tiff(arr, p, sp, u),
    "tiff-slices": lambda arr, p, sp, u, dataset, byte_order: write_tiff_slices(arr, p, sp, u),
    "hdf5": _write_hdf5,
    "zarr": _write_zarr,
    "npy": lambda arr, p, sp, u, dataset, byte_order: write_npy(arr, p),
    "raw": lambda arr, p, sp, u, dataset, byte_order: write_raw(arr, p, byte_order),
}
#: Formats :func:`read_volume` understands.
FORMATS = tuple(READERS)

#: File suffixes (lower case) and the format they imply.
EXTENSIONS = {
    ".tif": "tiff", ".tiff": "tiff",
    ".h5": "hdf5", ".hdf5": "hdf5", ".he5": "hdf5", ".nxs": "hdf5",
    ".zarr": "zarr",
    ".npy": "npy",
    ".raw": "raw", ".bin": "raw", ".vol": "raw",
}

#: Files whose presence marks a folder as a zarr store (v2 array/group, v3).
_ZARR_MARKERS = (".zarray", ".zgroup", "zarr.json")


def _is_glob(path: str) -> bool:
    return glob.has_magic(path)


def infer_format(path: str | Path) -> str:
    """Guess the format of a path from its extension (or, for a folder, its content).

    Parameters
    ----------
    path : path-like
        A file, a folder (zarr store or TIFF slices) or a glob pattern (TIFF slices).

    Returns
    -------
    str
        One of :data:`FORMATS`.

    Raises
    ------
    VolumeError
        When the path does not exist or the extension is not known.
    """
    p = Path(path)
    if _is_glob(str(path)) and not p.exists():
        return "tiff-slices"
    if not p.exists():
        raise fail(p, f"no such file: {p}")
    suffix = p.suffix.lower()
    if p.is_dir():
        if suffix == ".zarr" or any((p / m).exists() for m in _ZARR_MARKERS):
            return "zarr"
        if any(f.suffix.lower() in SLICE_SUFFIXES for f in p.iterdir()):
            return "tiff-slices"
        raise fail(p, "folder is neither a zarr store nor a folder of TIFF slices; pass "
                      "format=...")
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    raise fail(p, f"unknown format: cannot tell the format from extension {suffix!r}; pass "
                  f"format= one of {', '.join(FORMATS)}")


def read_volume(
    path: str | Path,
    format: str | None = None,
    *,
    spacing: Sequence[float] | float | None = None,
    unit: str | None = None,
    dataset: str | None = None,
    shape: Sequence[int] | None = None,
    dtype: Any = None,
    byte_order: str = "little",
    offset: int = 0,
    chunks: int | str | Sequence[int] | None = None,
    memory_limit: int | float | None = None,
) -> xr.DataArray:
    """Read a 3-D image file as a volume with voxel spacing and provenance.

    Parameters
    ----------
    path : path-like
        A file; a folder of TIFF slices or a glob pattern (``"scan/slice_*.tif"``) for
        ``"tiff-slices"``; a store folder for ``"zarr"``.
    format : {"tiff", "tiff-slices", "hdf5", "zarr", "npy", "raw"}, optional
        Inferred from the extension when omitted: .tif/.tiff, .h5/.hdf5/.he5/.nxs, .zarr,
        .npy, .raw/.bin/.vol; a folder of TIFFs or a glob pattern is ``"tiff-slices"``.
    spacing : float or sequence of 3 floats, optional
        Voxel size (z, y, x) in ``unit``. Wins over the file's metadata; when the two
        disagree a :class:`~uqtwin.io.SpacingWarning` names both. When neither gives a
        spacing it is 1 along each axis with unit ``"voxel"``, with a warning.
    unit : str, optional
        Length unit (``"um"``, ``"nm"``, ``"mm"``, ``"m"``; aliases such as ``"micron"``).
        With ``spacing``: the unit of that spacing (default: the file's unit, else um).
        Without: the unit in which to express the file's spacing (converted).
    dataset : str, optional
        HDF5 dataset or zarr array path inside the file. Optional when the file holds
        exactly one 3-D array.
    shape : sequence of 3 ints, optional
        (nz, ny, nx) of a raw file (required for ``"raw"``).
    dtype : numpy dtype or str, optional
        Element type of a raw file (required for ``"raw"``).
    byte_order : {"little", "big"}
        Byte order of a raw file.
    offset : int
        Header bytes to skip in a raw file.
    chunks : int, sequence of 3 ints, or "auto", optional
        Read lazily: the result is backed by a :mod:`dask.array` of this chunk shape
        (an int is a cube, ``-1`` a whole axis, ``"auto"`` about 128 MiB in whole
        multiples of the file's own chunks or pages) and only the chunks computed are
        read. The file's structure (truncation, chunk grid, dims, dtype) is checked now;
        NaN in a float volume raises when its chunk is computed. Default: read whole.
    memory_limit : int or float, optional
        With ``chunks``: bytes one chunk may take in flight; a larger chunk raises a
        :class:`~uqtwin.errors.VolumeError` before anything is read
        (:func:`uqtwin.io.chunks.check_chunk_memory`).

    Returns
    -------
    xarray.DataArray
        Dims ``("z", "y", "x")`` named ``"grey"``, native byte order, coords in ``unit``;
        ``attrs``: ``spacing`` (tuple, in ``unit``), ``unit``, ``source`` (the path),
        ``format`` and ``sha256`` (of the file; for a folder or store, over its files in
        sorted order, see :func:`sha256_of`).

    Raises
    ------
    VolumeError
        Missing file, unknown format, truncated or corrupted file, data that is not 3-D
        or holds NaN, multi-channel TIFF, missing HDF5 dataset or zarr array, raw without
        shape/dtype or of the wrong size, TIFF slices of unequal shape, bad spacing.

    Notes
    -----
    Without ``chunks`` every format is read whole into memory. The ``sha256`` is of the
    file's bytes either way (streamed, never held).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from uqtwin.io import read_volume
    >>> path = os.path.join(tempfile.mkdtemp(), "v.npy")
    >>> np.save(path, np.arange(4 * 6 * 8, dtype=np.uint16).reshape(4, 6, 8))
    >>> vol = read_volume(path, spacing=0.5, unit="um", chunks=(2, 6, 8))
    >>> vol.data.numblocks, int(vol[3].sum())
    ((2, 1, 1), 8040)
    """
    fmt = infer_format(path) if format is None else str(format).lower()
    if fmt not in FORMATS:
        raise fail(path, f"unknown format {format!r}; use one of {', '.join(FORMATS)}")
    p = Path(path)
    files: list[Path] | None = None
    if fmt == "tiff-slices":
        if not (p.exists() or _is_glob(str(path))):
            raise fail(p, f"no such file: {p}")
        files = slice_files(p)
    elif not p.exists():
        raise fail(p, f"no such file: {p}")
    elif fmt != "zarr" and not p.is_file():
        raise fail(p, f"is a folder, not a {fmt} file")

    options = ReadOptions(dataset, shape, dtype, byte_order, offset, files)
    if chunks is not None:
        return _read_lazy(path, fmt, options, spacing, unit, chunks, memory_limit)
    if memory_limit is not None:
        raise fail(p, "memory_limit applies to a chunked read: pass chunks= as well")
    arr, meta = READERS[fmt](p, options)

    try:
        # Checked before the spacing so a NaN file fails without a spacing warning first.
        arr = native(check_array(arr, name=f"{p} ({fmt})"))
    except VolumeError as exc:
        msg = str(exc)
        raise VolumeError(msg if str(p) in msg else f"{p}: {msg}") from None
    sp, u = resolve_spacing(p, meta, spacing, unit)
    provenance = {
        "source": str(path),
        "format": fmt,
        "sha256": sha256_of(files) if files is not None else sha256_of(p),
    }
    try:
        return make_volume(arr, sp, u, name="grey", attrs=provenance)
    except VolumeError as exc:
        raise fail(p, str(exc)) from None


def _read_lazy(path: Any, fmt: str, options: ReadOptions, spacing: Any, unit: str | None,
               chunks: Any, memory_limit: Any) -> xr.DataArray:
    """:func:`read_volume` with ``chunks``: every check that needs no voxel runs here."""
    from uqtwin.io.chunks import check_chunk_memory, resolve_chunks
    from uqtwin.io.lazy import lazy_volume

    p = Path(path)
    source, meta, native = LAZY_READERS[fmt](p, options)
    shape, dt = tuple(source.shape), np.dtype(source.dtype)
    name = f"{p} ({fmt})"
    if len(shape) != 3:
        raise fail(p, f"{name} must be 3-D (z, y, x), got shape {shape}")
    if min(shape) < 1:
        raise fail(p, f"{name} is empty (shape {shape})")
    if dt.kind not in "biuf":
        raise fail(p, f"{name} must hold numbers, got dtype {dt}")
    try:
        one = resolve_chunks(chunks, shape, dt, previous=native)
    except VolumeError as exc:
        raise fail(p, str(exc)) from None
    if memory_limit is not None:
        try:
            check_chunk_memory(shape, one, dt, memory_limit)
        except VolumeError as exc:
            raise fail(p, str(exc)) from None
    sp, u = resolve_spacing(p, meta, spacing, unit)
    files = options.files
    provenance = {
        "source": str(path),
        "format": fmt,
        "sha256": sha256_of(files) if files is not None else sha256_of(p),
    }
    return lazy_volume(source, one, sp, u, provenance, p)


def write_volume(
    volume: xr.DataArray,
    path: str | Path,
    format: str | None = None,
    *,
    dataset: str = "volume",
    byte_order: str = "little",
) -> Path:
    """Write a volume so that :func:`read_volume` gives the same array (and spacing) back.

    Parameters
    ----------
    volume : xarray.DataArray
        A volume from :func:`uqtwin.volume.make_volume` (dims z, y, x; attrs spacing, unit).
    path : path-like
        Target file (or folder, for ``"zarr"`` and ``"tiff-slices"``); overwritten.
    format : {"tiff", "tiff-slices", "hdf5", "zarr", "npy", "raw"}, optional
        Inferred from the extension when omitted (a path without suffix cannot be).
    dataset : str
        HDF5 dataset / zarr array path. For zarr, ``dataset=""`` writes a bare array at
        the store root instead of a group.
    byte_order : {"little", "big"}
        Byte order of a raw file.

    Returns
    -------
    Path
        ``path``.

    Notes
    -----
    What keeps the spacing: tiff (ImageJ calibration: z ``spacing``, x/y resolution, unit
    ``micron`` for um; dtypes ImageJ cannot hold are written as a plain TIFF with a JSON
    description), tiff-slices (each slice calibrated), hdf5 and zarr (attributes
    ``spacing`` and ``unit``). npy and raw store the array only: pass the spacing to
    :func:`read_volume` again.
    """
    p = Path(path)
    if format is None:
        suffix = p.suffix.lower()
        if suffix not in EXTENSIONS:
            raise fail(p, f"unknown format: cannot tell the format from extension {suffix!r}; "
                          f"pass format= one of {', '.join(FORMATS)}")
        fmt = EXTENSIONS[suffix]
    else:
        fmt = str(format).lower()
    if fmt not in FORMATS:
        raise fail(p, f"unknown format {format!r}; use one of {', '.join(FORMATS)}")
    if volume.dims != ("z", "y", "x"):
        raise VolumeError(f"cannot write {p}: volume dims are {volume.dims}, not (z, y, x)")
    arr = check_array(np.asarray(volume.values))
    sp, u = spacing_of(volume), unit_of(volume)
    if fmt not in WRITERS:
        raise fail(p, f"cannot write format {fmt!r}; use one of {', '.join(WRITERS)}")
    WRITERS[fmt](arr, p, sp, u, dataset, byte_order)
    return p

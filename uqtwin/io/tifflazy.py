"""TIFF volumes read chunk by chunk.

A TIFF stored contiguously and uncompressed (what ImageJ and most scanners write) is
memory-mapped (:class:`~uqtwin.io.lazy.MemmapSource`): a chunk reads only its own bytes.
Otherwise (compressed or tiled pages) :class:`TiffPagesSource` decodes the pages of the
chunk's z-slices, so a chunk is best whole in y and x: ``chunks="auto"`` makes it so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from uqtwin.io._common import FileMeta, fail
from uqtwin.io.lazy import MemmapSource, expand_key
from uqtwin.io.tiff import TiffLayout, read_tiff_slices, tiff_layout


class TiffPagesSource:
    """A TIFF volume of one page per z-slice, decoding the pages a chunk needs.

    The file is opened inside each read, so the source pickles into a task graph for
    worker processes.

    Parameters
    ----------
    path : Path
    layout : TiffLayout
        From :func:`uqtwin.io.tiff.tiff_layout`.
    """

    def __init__(self, path: Path, layout: TiffLayout) -> None:
        self.path, self.pages = Path(path), layout.pages
        self.shape = layout.shape
        self.ndim = 3
        dt = layout.dtype
        self.dtype = dt.newbyteorder("=") if dt.byteorder not in "=|" else dt

    def __dask_tokenize__(self) -> tuple:
        st = self.path.stat()
        return ("tiff", str(self.path.resolve()), st.st_size, st.st_mtime_ns)

    def __getitem__(self, key: Any) -> np.ndarray:
        (kz, ky, kx), shape = expand_key(key, self.shape)
        out = np.empty(shape, dtype=self.dtype)
        with tifffile.TiffFile(self.path) as tif:
            for i, z in enumerate(range(*kz.indices(self.shape[0]))):
                page = tif.pages[self.pages[z]].asarray()
                out[i] = page.reshape(self.shape[1:])[ky, kx]
        return out


def open_tiff(path: Path) -> tuple[Any, FileMeta, tuple[int, int, int]]:
    """Open a TIFF volume lazily: checked now, its voxels read per chunk.

    Parameters
    ----------
    path : Path

    Returns
    -------
    source : MemmapSource or TiffPagesSource
        For :func:`uqtwin.io.lazy.lazy_array`.
    meta : FileMeta
        Spacing found in the file.
    native : tuple of 3 ints
        The file's natural chunk: one page.
    """
    layout, meta = tiff_layout(path)
    native = (1, *layout.shape[1:])
    if layout.offset is not None:
        return MemmapSource(path, layout.shape, layout.dtype, layout.offset), meta, native
    return TiffPagesSource(path, layout), meta, native


class TiffSlicesSource:
    """A folder of 2-D TIFF slices, reading the files a chunk needs.

    Parameters
    ----------
    files : sequence of Path
        One slice per z, in order.
    shape : tuple of 3 ints
        (number of files, ny, nx).
    dtype : numpy dtype
        Of every slice.
    source : path-like
        The folder or pattern, named in errors.
    """

    def __init__(self, files: Any, shape: tuple[int, int, int], dtype: Any,
                 source: Any) -> None:
        self.files, self.shape, self.ndim = tuple(Path(f) for f in files), shape, 3
        self.dtype, self.source = np.dtype(dtype), str(source)

    def __dask_tokenize__(self) -> tuple:
        return ("tiff-slices", tuple((str(f.resolve()), f.stat().st_mtime_ns)
                                     for f in self.files))

    def __getitem__(self, key: Any) -> np.ndarray:
        (kz, ky, kx), shape = expand_key(key, self.shape)
        out = np.empty(shape, dtype=self.dtype)
        for i, z in enumerate(range(*kz.indices(self.shape[0]))):
            arr, _ = read_tiff_slices([self.files[z]], self.source)
            out[i] = arr[0][ky, kx]
        return out


def open_tiff_slices(files: Any, source: Any) -> tuple[TiffSlicesSource, FileMeta,
                                                       tuple[int, int, int]]:
    """Open a folder of TIFF slices lazily: every file's header is checked now.

    Parameters
    ----------
    files : sequence of Path
        From :func:`uqtwin.io.tiff.slice_files`.
    source : path-like
        The folder or pattern, named in errors.

    Returns
    -------
    source : TiffSlicesSource
    meta : FileMeta
        Spacing from the first slice.
    native : tuple of 3 ints
        One slice.
    """
    first, meta = read_tiff_slices([files[0]], source)
    want, dtype = first.shape[1:], first.dtype
    for f in files[1:]:
        try:
            with tifffile.TiffFile(f) as tif:
                shape = tuple(n for n in tif.series[0].shape if n != 1)
                got_dtype = tif.series[0].dtype
        except Exception as exc:
            raise fail(f, f"cannot read TIFF, the file is truncated, corrupted or not a TIFF "
                          f"({type(exc).__name__}: {exc})") from None
        if shape != want:
            raise fail(source, f"slices have unequal shape: {files[0].name} is {want} but "
                               f"{f.name} is {shape}")
        if got_dtype != dtype:
            raise fail(source, f"slices have unequal dtype: {files[0].name} is {dtype} but "
                               f"{f.name} is {got_dtype}")
    shape3 = (len(files), *want)
    return TiffSlicesSource(files, shape3, dtype, source), meta, (1, *want)

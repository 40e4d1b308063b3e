"""TIFF volumes: multi-page TIFF, ImageJ hyperstacks, OME-TIFF, and folders of 2-D slices.

Voxel size is taken from, in order of preference:

1. ImageJ metadata: ``unit`` and ``spacing`` (z) in the description, XResolution and
   YResolution (pixels per unit) for x and y;
2. OME-XML: ``PhysicalSize{X,Y,Z}`` with their ``...Unit`` (default um);
3. a JSON description with ``spacing`` (z, y, x) and ``unit``, as tifffile writes for
   ``metadata={...}`` (and :func:`write_tiff` for dtypes ImageJ cannot hold);
4. the baseline XResolution/YResolution tags with a physical ResolutionUnit (cm, mm, um;
   these give no z spacing, so cubic voxels are assumed with a warning).

ResolutionUnit NONE is "no calibration". A resolution in inches of at most 2540 dpi (pixels
of 10 um or more) is treated as absent too: it is the print resolution image editors stamp
on every file (72, 96, 100, 300 dpi), never a tomogram's voxel size; ImageJ turns such a
file into ``unit=inch``, which is treated the same way.

Only the first image series is read (the first OME image, the full-resolution level of a
pyramid).

Colour: a TIFF whose pages are RGB(A) is accepted only when the three colour channels are
identical (greyscale saved as RGB by an image editor), and then read as that one channel;
true colour, or a hyperstack with several channels or time points, is a
:class:`~uqtwin.errors.VolumeError`.

This module is long because reading a TIFF volume is one idea with four metadata
conventions, each a short function, and a layout inspection for lazy reading (about 510
lines).
"""

from __future__ import annotations

import glob
import logging
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from uqtwin.errors import VolumeError
from uqtwin.io._common import FileMeta, calibrated, fail, natural_key
from uqtwin.volume import unit_scale

#: Suffixes of the files that make up a folder of slices.
SLICE_SUFFIXES = (".tif", ".tiff")

#: Units ImageJ understands, for the ``unit`` entry of the description it reads.
_IMAGEJ_UNITS = {"um": "micron", "nm": "nm", "mm": "mm", "m": "m"}

#: Dtypes ImageJ can hold as one stack; other dtypes are written as a plain TIFF.
_IMAGEJ_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))

#: Inch resolutions at or below this (pixels >= 10 um) are print resolutions, not voxel sizes.
_MAX_PRINT_DPI = 2540.0


class _Collect(logging.Handler):
    """Keeps tifffile's error log: it reports broken IFD chains there instead of raising."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _tifffile_errors():
    logger = logging.getLogger("tifffile")
    handler = _Collect()
    logger.addHandler(handler)
    # Keep the messages out of the user's log: they become the VolumeError's text instead.
    propagate, logger.propagate = logger.propagate, False
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _rational(tag: Any) -> float | None:
    if tag is None:
        return None
    value = tag.value
    try:
        num, den = value if isinstance(value, (tuple, list)) else (value, 1)
        v = float(num) / float(den)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return v if np.isfinite(v) and v > 0 else None


def _check_complete(tif: tifffile.TiffFile, series: Any, path: Path) -> None:
    """Raise when image data lies beyond the end of the file (a cut-off download or copy)."""
    size = path.stat().st_size
    end = 0
    for page in tif.pages:
        offsets = getattr(page, "dataoffsets", ()) or ()
        counts = getattr(page, "databytecounts", ()) or ()
        for o, c in zip(offsets, counts, strict=False):
            end = max(end, int(o) + int(c))
    # Large ImageJ stacks keep one IFD and store the other slices contiguously after it.
    if getattr(series, "dataoffset", None) is not None:
        end = max(end, int(series.dataoffset) + int(series.nbytes))
    if end > size:
        raise fail(path, f"TIFF is truncated: its image data extends to byte {end} but the "
                         f"file has only {size} bytes")
    if tif.is_imagej:
        images = int((tif.imagej_metadata or {}).get("images", 1))
        if images > 1 and len(tif.pages) not in (1, images):
            raise fail(path, f"TIFF is truncated: ImageJ metadata announces {images} images "
                             f"but the file holds {len(tif.pages)}")


def _imagej_meta(tif: tifffile.TiffFile, page: Any, path: Path) -> FileMeta:
    ij = tif.imagej_metadata or {}
    unit = ij.get("unit")
    if unit is None:
        return FileMeta(notes=["ImageJ metadata has no unit (uncalibrated)"])
    x = _rational(page.tags.get("XResolution"))
    y = _rational(page.tags.get("YResolution"))
    z = ij.get("spacing")
    if str(unit).strip().lower() in ("inch", "in") and x is not None and x <= _MAX_PRINT_DPI:
        return FileMeta(notes=[f"ImageJ calibration of {x:g} pixels per inch is a print "
                               "resolution, not a voxel size"])
    doubts = []
    if z is None and int(ij.get("images", 1)) > 1:
        # ImageJ omits "spacing" when the voxel depth is 1 unit, which is also its default
        # for a stack whose depth nobody set: take 1 but say so when x/y differ from it.
        z = 1.0
        if any(v is not None and not np.isclose(v, 1.0) for v in (x, y)):
            doubts.append(f"ImageJ metadata has no z spacing, which means a voxel depth of "
                          f"1 {unit} (ImageJ's default, perhaps never set)")
    meta = calibrated([z, None if y is None else 1 / y, None if x is None else 1 / x], unit,
                      path)
    meta.doubts += doubts
    return meta


def _ome_meta(tif: tifffile.TiffFile, path: Path) -> FileMeta:
    try:
        root = ET.fromstring(tif.ome_metadata or "")
    except ET.ParseError as exc:
        return FileMeta(notes=[f"OME-XML cannot be parsed ({exc})"])
    pixels = next((el for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Pixels"), None)
    if pixels is None:
        return FileMeta()
    values: list[float | None] = []
    units = set()
    for axis in "ZYX":
        v = pixels.get(f"PhysicalSize{axis}")
        values.append(float(v) if v is not None else None)
        if v is not None:
            units.add(pixels.get(f"PhysicalSize{axis}Unit", "µm"))  # OME's default unit
    if not any(v is not None for v in values):
        return FileMeta()
    if len(units) == 1:
        return calibrated(values, units.pop(), path)
    # Mixed units per axis: bring all to um (OME allows e.g. Z in nm, X in um).
    metas = [calibrated([v], u, path) for v, u in
             zip(values, [pixels.get(f"PhysicalSize{a}Unit", "µm") for a in "ZYX"], strict=True)]
    out: list[float | None] = []
    for m in metas:
        if not m.known:
            out.append(None)
            continue
        assert m.spacing is not None and m.unit is not None
        out.append(m.spacing[0] * unit_scale(m.unit, "um"))
    return FileMeta(tuple(out), "um")  # type: ignore[arg-type]


def _resolution_meta(page: Any, path: Path) -> FileMeta:
    x = _rational(page.tags.get("XResolution"))
    y = _rational(page.tags.get("YResolution"))
    if x is None and y is None:
        return FileMeta()
    unit_tag = page.tags.get("ResolutionUnit")
    try:
        # The TIFF default when the tag is missing is INCH.
        unit = tifffile.RESUNIT(unit_tag.value).name if unit_tag is not None else "INCH"
    except ValueError:
        return FileMeta(notes=[f"ResolutionUnit {unit_tag.value!r} is not a TIFF unit"])
    if unit == "NONE":
        return FileMeta(notes=["ResolutionUnit is NONE"])
    dpi = max(v for v in (x, y) if v is not None)
    if unit == "INCH" and dpi <= _MAX_PRINT_DPI:
        return FileMeta(notes=[f"resolution of {dpi:g} dpi is a print resolution, not a voxel "
                               "size"])
    name = {"INCH": "inch", "CENTIMETER": "cm", "MILLIMETER": "mm", "MICROMETER": "um"}[unit]
    return calibrated([None, None if y is None else 1 / y, None if x is None else 1 / x], name,
                      path)


def _shaped_meta(tif: tifffile.TiffFile, path: Path) -> FileMeta:
    for md in tif.shaped_metadata or ():
        if isinstance(md, dict) and "spacing" in md:
            sp = np.atleast_1d(np.asarray(md["spacing"], dtype=float)).ravel()
            if sp.size == 1:
                sp = np.repeat(sp, 3)
            if sp.size == 3:
                return calibrated(list(sp), md.get("unit", "um"), path)
    return FileMeta()


def _file_meta(tif: tifffile.TiffFile, path: Path) -> FileMeta:
    try:
        return _parse_meta(tif, path)
    except Exception as exc:
        # Odd metadata must not make readable pixels unreadable: fall back to "unknown".
        return FileMeta(notes=[f"metadata unreadable ({type(exc).__name__}: {exc})"])


def _parse_meta(tif: tifffile.TiffFile, path: Path) -> FileMeta:
    page = tif.pages.first if hasattr(tif.pages, "first") else tif.pages[0]
    notes: list[str] = []
    if tif.is_imagej:
        # ImageJ's calibration already interprets the resolution tags; do not read them twice.
        return _imagej_meta(tif, page, path)
    for meta in (
        _ome_meta(tif, path) if tif.is_ome else FileMeta(),
        _shaped_meta(tif, path) if tif.is_shaped else FileMeta(),
        _resolution_meta(page, path),
    ):
        if meta.known:
            meta.notes = notes + meta.notes
            return meta
        notes += meta.notes
    return FileMeta(notes=notes)


def _open(path: Path) -> tuple[np.ndarray, str, FileMeta, int]:
    """Read the first image series of a TIFF with every tifffile failure as a VolumeError."""
    with _tifffile_errors() as logged:
        try:
            with tifffile.TiffFile(path) as tif:
                if not tif.series:
                    raise fail(path, "TIFF holds no image")
                series = tif.series[0]
                _check_complete(tif, series, path)
                if logged:
                    raise fail(path, "TIFF is truncated or corrupted: " + "; ".join(logged))
                arr = series.asarray()
                return arr, series.axes, _file_meta(tif, path), len(tif.series)
        except (VolumeError, MemoryError):
            raise
        except Exception as exc:
            detail = "; ".join(logged) or f"{type(exc).__name__}: {exc}"
            raise fail(path, f"cannot read TIFF, the file is truncated, corrupted or not a "
                             f"TIFF ({detail})") from None


def _drop_colour(arr: np.ndarray, axes: str, path: Path) -> tuple[np.ndarray, str]:
    """Reduce an RGB(A) sample axis to one channel when it is greyscale, else refuse."""
    if "S" not in axes:
        return arr, axes
    i = axes.index("S")
    n = arr.shape[i]
    if n > 1:
        rgb = np.moveaxis(arr, i, 0)
        if n not in (3, 4) or not (np.array_equal(rgb[0], rgb[1]) and
                                   np.array_equal(rgb[0], rgb[2])):
            raise fail(path, f"TIFF pages have {n} colour samples per pixel (RGB); uqtwin needs "
                             "one grey value per voxel. Convert to 8/16-bit greyscale first")
    return np.take(arr, 0, axis=i), axes.replace("S", "")


def _to_zyx(arr: np.ndarray, axes: str, path: Path, nseries: int, want: int) -> np.ndarray:
    """Bring a tifffile series to ``want`` dims (3: z, y, x; 2: y, x) or raise."""
    arr, axes = _drop_colour(arr, axes, path)
    for name, what in (("C", "channels"), ("T", "time points")):
        if name in axes and arr.shape[axes.index(name)] > 1:
            raise fail(path, f"TIFF has {arr.shape[axes.index(name)]} {what} (axes {axes}, "
                             f"shape {arr.shape}); save a single {what[:-1]} as a 3-D stack "
                             "(if they are z-slices, fix the order in ImageJ: Image > "
                             "Properties)")
    keep = [i for i, n in enumerate(arr.shape) if n > 1 or axes[i] in "YX"]
    if len(keep) > want:
        raise fail(path, f"TIFF image has axes {axes} of shape {arr.shape}; expected "
                         f"{'(z, y, x)' if want == 3 else '(y, x)'}")
    arr = arr.reshape([arr.shape[i] for i in keep])
    if want == 3 and arr.ndim == 2:
        extra = (f" (it holds {nseries} images of different shapes)" if nseries > 1 else
                 "; a volume needs a multi-page TIFF, or format='tiff-slices' for a folder of "
                 "2-D slices")
        raise fail(path, f"TIFF is 2-D, a single page of shape {arr.shape}{extra}")
    if arr.ndim != want:
        raise fail(path, f"TIFF image has axes {axes} of shape {arr.shape}; expected "
                         f"{'(z, y, x)' if want == 3 else '(y, x)'}")
    return arr


def read_tiff(path: Path) -> tuple[np.ndarray, FileMeta]:
    """Read a multi-page, ImageJ or OME TIFF as a (z, y, x) array and its spacing metadata.

    Parameters
    ----------
    path : Path
        The TIFF file.

    Returns
    -------
    array : numpy.ndarray, shape (nz, ny, nx)
    meta : FileMeta
        Spacing found in the file (see the module docstring for the order).
    """
    arr, axes, meta, nseries = _open(path)
    return _to_zyx(arr, axes, path, nseries, 3), meta


@dataclass(frozen=True)
class TiffLayout:
    """Where the voxels of a TIFF volume lie, for reading them chunk by chunk.

    Attributes
    ----------
    shape : tuple of 3 ints
        The volume's (z, y, x) shape, as :func:`read_tiff` gives it.
    dtype : numpy dtype
        As stored, in the file's byte order.
    offset : int or None
        Byte offset of the whole volume when it is stored contiguously and uncompressed
        (it can then be memory-mapped), else None.
    pages : tuple of ints
        The file's page index of each z-slice (used when ``offset`` is None).
    """

    shape: tuple[int, int, int]
    dtype: np.dtype
    offset: int | None
    pages: tuple[int, ...]


def tiff_layout(path: Path) -> tuple[TiffLayout, FileMeta]:
    """Check a TIFF volume and find its voxels without reading them.

    The same checks as :func:`read_tiff` (truncation, colour, channels, dims) run on the
    file's structure; the pixels stay on disk.

    Parameters
    ----------
    path : Path
        The TIFF file.

    Returns
    -------
    layout : TiffLayout
    meta : FileMeta
        Spacing found in the file.

    Raises
    ------
    VolumeError
        As :func:`read_tiff`, and for a layout that cannot be read by z-slices (RGB pages,
        a page axis other than z): read those without ``chunks``.
    """
    with _tifffile_errors() as logged:
        try:
            with tifffile.TiffFile(path) as tif:
                if not tif.series:
                    raise fail(path, "TIFF holds no image")
                series = tif.series[0]
                _check_complete(tif, series, path)
                if logged:
                    raise fail(path, "TIFF is truncated or corrupted: " + "; ".join(logged))
                shape, axes, dtype = tuple(series.shape), series.axes, series.dtype
                stored = np.dtype(dtype).newbyteorder(tif.byteorder)
                key = series.keyframe
                offset = series.dataoffset if getattr(key, "is_memmappable", False) else None
                pages = tuple(int(p.index) for p in series.pages if p is not None)
                page_shape = tuple(n for n in key.shape if n != 1)
                meta, nseries = _file_meta(tif, path), len(tif.series)
        except (VolumeError, MemoryError):
            raise
        except Exception as exc:
            detail = "; ".join(logged) or f"{type(exc).__name__}: {exc}"
            raise fail(path, f"cannot read TIFF, the file is truncated, corrupted or not a "
                             f"TIFF ({detail})") from None
    if "S" in axes and shape[axes.index("S")] > 1:
        raise fail(path, f"TIFF pages have {shape[axes.index('S')]} colour samples per pixel; "
                         "read it without chunks (a greyscale copy is checked whole)")
    # The checks of _to_zyx on a zero-stride stand-in: they look at the shape only.
    zyx = _to_zyx(np.broadcast_to(np.zeros((), dtype), shape), axes, path, nseries, 3).shape
    if offset is None and (len(pages) != zyx[0] or page_shape != zyx[1:]):
        raise fail(path, f"TIFF of axes {axes} and shape {shape} is not stored as one page "
                         "per z-slice; read it without chunks")
    return TiffLayout(zyx, stored, None if offset is None else int(offset), pages), meta


def slice_files(path: Path | str) -> list[Path]:
    """The TIFF slices of a folder, or matching a glob pattern, in natural order.

    Parameters
    ----------
    path : path-like
        A folder (every ``*.tif``/``*.tiff`` in it, hidden files skipped) or a glob pattern
        such as ``scan/slice_*.tif``.

    Returns
    -------
    list of Path
        Sorted so that ``slice_2`` comes before ``slice_10``.
    """
    p = Path(path)
    if p.is_dir():
        files = [f for f in p.iterdir()
                 if f.is_file() and f.suffix.lower() in SLICE_SUFFIXES
                 and not f.name.startswith(".")]
        where = f"in folder {p}"
    else:
        files = [Path(f) for f in glob.glob(str(p)) if Path(f).is_file()]
        where = f"matching {p}"
    if not files:
        raise fail(p, f"no TIFF slices found {where}")
    return sorted(files, key=lambda f: natural_key(f.name))


def read_tiff_slices(files: Sequence[Path], source: Any) -> tuple[np.ndarray, FileMeta]:
    """Stack 2-D TIFF slices (already in order) into a (z, y, x) array.

    Parameters
    ----------
    files : sequence of Path
        One 2-D image per file, from :func:`slice_files`.
    source : path-like
        The folder or pattern, named in errors.

    Returns
    -------
    array : numpy.ndarray, shape (len(files), ny, nx)
    meta : FileMeta
        Spacing from the first slice's metadata; z is only known from ImageJ's ``spacing``.
    """
    out: np.ndarray | None = None
    meta = FileMeta()
    first = files[0]
    for k, f in enumerate(files):
        arr, axes, m, nseries = _open(f)
        img = _to_zyx(arr, axes, f, nseries, 2)
        if img.ndim != 2:
            raise fail(f, f"slice is not a 2-D image (shape {img.shape})")
        if out is None:
            # Preallocate from the first slice so the volume is held in memory only once.
            out = np.empty((len(files), *img.shape), dtype=img.dtype)
            meta = m
        elif img.shape != out.shape[1:]:
            raise fail(source, f"slices have unequal shape: {first.name} is {out.shape[1:]} but "
                               f"{f.name} is {img.shape}")
        elif img.dtype != out.dtype:
            raise fail(source, f"slices have unequal dtype: {first.name} is {out.dtype} but "
                               f"{f.name} is {img.dtype}")
        out[k] = img
    assert out is not None
    return out, meta


def _write_kwargs(arr: np.ndarray, spacing: Sequence[float], unit: str) -> dict[str, Any]:
    """tifffile.imwrite arguments that store the spacing where ImageJ (or tifffile) finds it."""
    sz, sy, sx = spacing
    if arr.dtype in _IMAGEJ_DTYPES:
        md: dict[str, Any] = {"axes": "ZYX"}
        kw: dict[str, Any] = {"imagej": True, "metadata": md}
        if unit in _IMAGEJ_UNITS:
            md.update(spacing=sz, unit=_IMAGEJ_UNITS[unit])
            kw["resolution"] = (1.0 / sx, 1.0 / sy)
        return kw
    # ImageJ cannot hold this dtype: keep the exact spacing in tifffile's JSON description
    # and the x/y resolution in centimetres for other readers.
    kw = {"metadata": {"axes": "ZYX", "spacing": list(spacing), "unit": unit}}
    if unit != "voxel":
        cm = unit_scale(unit, "m") * 100.0
        kw.update(resolution=(1.0 / (sx * cm), 1.0 / (sy * cm)), resolutionunit="CENTIMETER")
    return kw


def write_tiff(arr: np.ndarray, path: Path, spacing: Sequence[float], unit: str) -> None:
    """Write a (z, y, x) array as a multi-page TIFF that keeps the voxel spacing.

    uint8, uint16 and float32 become an ImageJ hyperstack (Fiji shows the calibration,
    with um written as ImageJ's ``micron``); other dtypes a plain TIFF with the spacing in
    a JSON description, which :func:`read_tiff` reads back.

    Parameters
    ----------
    arr : numpy.ndarray, shape (nz, ny, nx)
    path : Path
    spacing : sequence of 3 floats
        Voxel size (z, y, x) in ``unit``.
    unit : str
        Canonical unit; ``"voxel"`` writes no calibration.
    """
    tifffile.imwrite(path, arr, **_write_kwargs(arr, spacing, unit))


def write_tiff_slices(arr: np.ndarray, path: Path, spacing: Sequence[float], unit: str) -> None:
    """Write a (z, y, x) array as a folder of 2-D TIFFs ``slice_0000.tif``, ... .

    Each slice carries the full calibration (ImageJ ``spacing`` for z), so reading the
    folder gives the spacing back.

    Parameters
    ----------
    arr : numpy.ndarray, shape (nz, ny, nx)
    path : Path
        The folder; created if missing.
    spacing : sequence of 3 floats
        Voxel size (z, y, x) in ``unit``.
    unit : str
        Canonical unit.
    """
    path.mkdir(parents=True, exist_ok=True)
    # Stale slices of an earlier, deeper volume would be read back as extra z-slices.
    for old in path.glob("slice_*.tif"):
        if old.stem[len("slice_"):].isdigit():
            old.unlink()
    width = max(4, len(str(arr.shape[0] - 1)))
    for k in range(arr.shape[0]):
        kw = _write_kwargs(arr, spacing, unit)
        kw["metadata"]["axes"] = "YX"
        tifffile.imwrite(path / f"slice_{k:0{width}d}.tif", arr[k], **kw)

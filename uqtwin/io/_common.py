"""Pieces shared by the format readers: file metadata, spacing resolution, hashing, errors.

Every reader returns the raw array plus a :class:`FileMeta` describing what the file itself
says about the voxel size; :func:`resolve_spacing` then merges that with what the caller
passed, so the precedence rules (caller wins, disagreement warns, nothing known warns) live
in one place and every format behaves the same.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from uqtwin.errors import VolumeError
from uqtwin.volume import check_spacing, normalize_unit, unit_scale

#: Lengths, in micrometres, of units that files use but the pipeline does not keep as such
#: (TIFF resolution units and ImageJ calibrations); spacings in these are converted to um.
_FOREIGN_UNITS_UM = {"inch": 25400.0, "in": 25400.0, "cm": 1.0e4, "centimeter": 1.0e4,
                     "centimetre": 1.0e4}

#: Unit strings meaning "not calibrated": the file has no physical voxel size.
_UNCALIBRATED = {"pixel", "pixels", "px", "voxel", "voxels", "none", ""}

#: Relative tolerance when comparing the caller's spacing with the file's: TIFF stores the
#: resolution as a rational number, so a typed-in 0.39 um comes back as 0.38999999...
_SPACING_RTOL = 1e-4


class SpacingWarning(UserWarning):
    """The voxel spacing is unknown, partly assumed, or disagrees with the file's metadata."""


@dataclass
class FileMeta:
    """What a file says about its voxel size.

    Attributes
    ----------
    spacing : tuple of 3 (float or None), or None
        Voxel size along (z, y, x) in ``unit``; ``None`` for an axis the file does not give
        (e.g. a TIFF with only XResolution/YResolution), ``None`` overall when it gives none.
    unit : str or None
        Canonical length unit of ``spacing`` (see :func:`uqtwin.volume.normalize_unit`).
    notes : list of str
        Why some metadata was ignored; appended to the "spacing unknown" warning.
    doubts : list of str
        Why the file's spacing may not be a measured one; warned when it is used.
    """

    spacing: tuple[float | None, float | None, float | None] | None = None
    unit: str | None = None
    notes: list[str] = field(default_factory=list)
    doubts: list[str] = field(default_factory=list)

    @property
    def known(self) -> bool:
        """True when at least one axis has a physical voxel size."""
        return self.spacing is not None and any(s is not None for s in self.spacing)


def fail(path: Any, problem: str) -> VolumeError:
    """Build a :class:`VolumeError` whose message starts with the file name.

    Returns the error rather than raising it, so that callers write ``raise fail(...)`` and
    the raise stays visible at the call site.

    Parameters
    ----------
    path : object
        The file (or folder) concerned; formatted with ``str``.
    problem : str
        What is wrong with it.

    Returns
    -------
    VolumeError
        With message ``"<path>: <problem>"``.
    """
    return VolumeError(f"{path}: {problem}")


def calibrated(
    spacing: Sequence[float | None], unit: Any, path: Any, notes: list[str] | None = None
) -> FileMeta:
    """Turn a spacing in a file's own unit into a :class:`FileMeta` in a canonical unit.

    Parameters
    ----------
    spacing : sequence of 3 (float or None)
        Voxel size along (z, y, x) in ``unit``; ``None`` where the file does not say.
    unit : str or bytes
        The unit as the file spells it (``"micron"``, ``"\\u00B5m"``, ``"inch"``, ``"cm"`` ...).
    path : path-like
        The file, for warnings.
    notes : list of str, optional
        Notes to carry into the result.

    Returns
    -------
    FileMeta
        With inch/cm converted to um; empty (unknown) when the unit is "pixel" or not a
        length, or when a value is not finite and positive.
    """
    notes = list(notes or [])
    if isinstance(unit, bytes):
        unit = unit.decode("utf-8", "replace")
    text = str(unit).strip()
    # ImageJ writes non-ASCII units escaped, e.g. "\u00B5m".
    if "\\u" in text:
        try:
            text = text.encode("ascii", "backslashreplace").decode("unicode_escape")
        except UnicodeDecodeError:
            pass
    if text.lower() in _UNCALIBRATED:
        return FileMeta(notes=notes)
    factor = 1.0
    if text.lower() in _FOREIGN_UNITS_UM:
        factor, canon = _FOREIGN_UNITS_UM[text.lower()], "um"
    else:
        try:
            canon = normalize_unit(text)
        except VolumeError:
            notes.append(f"the file's unit {text!r} is not a length unit uqtwin knows")
            return FileMeta(notes=notes)
    values: list[float | None] = []
    for s in spacing:
        if s is None:
            values.append(None)
            continue
        v = float(s)
        if not np.isfinite(v) or v <= 0:
            notes.append(f"the file's spacing {list(spacing)} is not positive")
            return FileMeta(notes=notes)
        values.append(v * factor)
    return FileMeta(tuple(values), canon, notes)  # type: ignore[arg-type]


def _fmt(spacing: Sequence[float], unit: str) -> str:
    return "(" + ", ".join(f"{s:.6g}" for s in spacing) + f") {unit}"


def resolve_spacing(
    path: Any,
    meta: FileMeta,
    spacing: Sequence[float] | float | None,
    unit: str | None,
) -> tuple[tuple[float, float, float], str]:
    """Decide the voxel spacing from the caller's values and the file's metadata.

    Parameters
    ----------
    path : path-like
        The file, named in warnings and errors.
    meta : FileMeta
        What the file says.
    spacing : float or sequence of 3 floats, optional
        The caller's voxel size (z, y, x); wins over the file. A disagreement with the
        file's metadata raises a :class:`SpacingWarning` naming both.
    unit : str, optional
        The caller's unit. With ``spacing``: the unit of that spacing (default: the file's
        unit, else ``"um"``). Without: the unit to express the file's spacing in.

    Returns
    -------
    spacing : tuple of 3 floats
        Voxel size (z, y, x) in ``unit``.
    unit : str
        Canonical unit; ``"voxel"`` (with spacing 1) when nothing is known.
    """
    try:
        want_unit = normalize_unit(unit) if unit is not None else None
        given = check_spacing(spacing) if spacing is not None else None
    except VolumeError as exc:
        raise fail(path, str(exc)) from None

    file_sp: tuple[float, float, float] | None = None
    if meta.known:
        assert meta.spacing is not None and meta.unit is not None
        known = [s for s in meta.spacing if s is not None]
        if None in meta.spacing and given is None:
            # A stack of calibrated 2-D pages (plain TIFF resolution tags, slice folders)
            # says nothing about the slice distance; CT voxels are nearly always cubic.
            missing = [d for d, s in zip("zyx", meta.spacing, strict=True) if s is None]
            warnings.warn(
                f"{path}: the file gives no voxel size along {', '.join(missing)}; assuming "
                f"isotropic voxels of {known[-1]:.6g} {meta.unit} (pass spacing= to set it)",
                SpacingWarning,
                stacklevel=3,
            )
        file_sp = tuple(known[-1] if s is None else s for s in meta.spacing)  # type: ignore[assignment]

    if given is not None:
        out_unit = want_unit or meta.unit or "um"
        if file_sp is not None and meta.spacing is not None:
            assert meta.unit is not None
            if "voxel" in (out_unit, meta.unit):
                agree = out_unit == meta.unit and np.allclose(given, file_sp, rtol=_SPACING_RTOL)
            else:
                scale = unit_scale(meta.unit, out_unit)
                agree = all(
                    np.isclose(g, f * scale, rtol=_SPACING_RTOL)
                    for g, f in zip(given, meta.spacing, strict=True)
                    if f is not None
                )
            if not agree:
                warnings.warn(
                    f"{path}: the given spacing {_fmt(given, out_unit)} disagrees with the "
                    f"file's metadata {_fmt(file_sp, meta.unit)}; using the given spacing",
                    SpacingWarning,
                    stacklevel=3,
                )
        return given, out_unit  # type: ignore[return-value]

    if file_sp is not None:
        assert meta.unit is not None
        for doubt in meta.doubts:
            warnings.warn(f"{path}: {doubt} (pass spacing= to set it)", SpacingWarning,
                          stacklevel=3)
        if want_unit is not None and want_unit != meta.unit:
            try:
                scale = unit_scale(meta.unit, want_unit)
            except VolumeError as exc:
                raise fail(path, str(exc)) from None
            return tuple(s * scale for s in file_sp), want_unit  # type: ignore[return-value]
        return file_sp, meta.unit

    why = ("; " + "; ".join(meta.notes)) if meta.notes else ""
    warnings.warn(
        f"{path}: voxel spacing unknown (no calibration in the file{why}); using 1 voxel "
        f"along each axis. Pass spacing=... and unit=... to read_volume to set it",
        SpacingWarning,
        stacklevel=3,
    )
    return (1.0, 1.0, 1.0), "voxel"


def natural_key(name: str) -> list[Any]:
    """Sort key that orders embedded numbers by value: ``slice_2`` before ``slice_10``.

    Used to order TIFF slice files, whose numbers are often not zero-padded.

    Parameters
    ----------
    name : str
        A file name.

    Returns
    -------
    list
        Alternating lower-cased text parts and integers, comparable between names of the
        same pattern.

    Examples
    --------
    >>> from uqtwin.io._common import natural_key
    >>> sorted(["slice_10.tif", "slice_2.tif", "Slice_1.tif"], key=natural_key)
    ['Slice_1.tif', 'slice_2.tif', 'slice_10.tif']
    """
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def _file_digest(path: Path) -> bytes:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.digest()


def sha256_of(path: str | Path | Iterable[str | Path]) -> str:
    """SHA-256 hex digest of a file, a folder (e.g. a zarr store) or a list of files.

    Parameters
    ----------
    path : path-like or iterable of path-like
        A file: the digest of its bytes (the same as ``sha256sum``). A folder: a digest over
        every file below it, in sorted order of relative path, each contributing its relative
        path and its own digest, so renaming or reordering changes the result. A list of
        files (e.g. TIFF slices): the same, over the list in the given order, by file name.

    Returns
    -------
    str
        64 hex characters.
    """
    if isinstance(path, (str, Path)):
        p = Path(path)
        if p.is_file():
            return _file_digest(p).hex()
        if not p.is_dir():
            raise fail(p, f"no such file: {p}")
        files = sorted(
            (f for f in p.rglob("*") if f.is_file()), key=lambda f: f.relative_to(p).as_posix()
        )
        named = [(f.relative_to(p).as_posix(), f) for f in files]
    else:
        named = [(Path(f).name, Path(f)) for f in path]
    h = hashlib.sha256()
    for name, f in named:
        h.update(name.encode("utf-8") + b"\0" + _file_digest(f))
    return h.hexdigest()


def squeeze_to_3d(arr: np.ndarray, path: Any, what: str = "array") -> np.ndarray:
    """Drop length-1 axes of an array with more than 3 dims (e.g. (1, z, y, x) or (t=1, ...)).

    Length-1 axes of a 3-D array are kept (a volume may legitimately be one slice thick).

    Parameters
    ----------
    arr : ndarray
        The array as read from a file.
    path : object
        The file, for the error message.
    what : str, optional
        What the array is, for the error message; default ``"array"``.

    Returns
    -------
    ndarray, 3-D
        ``arr`` itself if it is 3-D, else a reshaped view without its length-1 axes.

    Raises
    ------
    VolumeError
        If the array is not 3-D after dropping length-1 axes (or has fewer than 3 dims).

    Examples
    --------
    >>> import numpy as np
    >>> from uqtwin.io._common import squeeze_to_3d
    >>> squeeze_to_3d(np.zeros((1, 4, 5, 6)), "scan.h5").shape
    (4, 5, 6)
    """
    if arr.ndim > 3:
        squeezed = arr.reshape([n for n in arr.shape if n != 1])
        if squeezed.ndim == 3:
            return squeezed
    if arr.ndim != 3:
        raise fail(path, f"{what} is {arr.ndim}-D with shape {arr.shape}; a volume must be 3-D "
                         "(z, y, x)")
    return arr


def native(arr: np.ndarray) -> np.ndarray:
    """The array in native byte order (big-endian data would slow or break numba kernels).

    Parameters
    ----------
    arr : ndarray
        Any array.

    Returns
    -------
    ndarray
        ``arr`` itself if already native (or byte order does not apply, e.g. uint8), else a
        converted copy with the same values.
    """
    if arr.dtype.byteorder not in ("=", "|"):
        return arr.astype(arr.dtype.newbyteorder("="))
    return arr


def spacing_from_attrs(attrs: Any, path: Any) -> FileMeta:
    """Read ``spacing``/``voxel_size``/``element_size_um`` (z, y, x) and ``unit`` attributes.

    Used for HDF5 datasets and zarr arrays. ``element_size_um`` (the convention of ilastik
    and BigDataViewer exports) implies micrometres; the others take the ``unit`` attribute,
    or um when it is missing (tomography tools that write a bare ``spacing`` mean um).
    """
    for key in ("spacing", "voxel_size", "element_size_um"):
        if key not in attrs:
            continue
        raw = np.atleast_1d(np.asarray(attrs[key], dtype=float)).ravel()
        if raw.size == 1:
            raw = np.repeat(raw, 3)
        if raw.size != 3:
            return FileMeta(notes=[f"attribute {key!r} = {list(raw)} does not have 3 values"])
        if key == "element_size_um":
            unit: Any = "um"
        else:
            unit = attrs.get("unit", attrs.get("units", "um"))
            if isinstance(unit, (np.ndarray, list, tuple)):
                # One unit per axis is also seen; they must agree to be usable.
                units = {str(u.decode() if isinstance(u, bytes) else u) for u in np.ravel(unit)}
                if len(units) != 1:
                    return FileMeta(notes=[f"attribute 'unit' = {sorted(units)} mixes units"])
                unit = units.pop()
        return calibrated([float(v) for v in raw], unit, path)
    return FileMeta()

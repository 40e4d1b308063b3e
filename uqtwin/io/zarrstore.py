"""Zarr volumes (v2 and v3 stores, a bare array or a group) via zarr-python.

:func:`read_zarr` reads the array whole into memory; :func:`open_zarr` opens it lazily
(:class:`ZarrSource`, one read per chunk, picklable for worker processes). Both first check
that the stored chunk files agree with the declared chunk grid
(:func:`uqtwin.io.zarrcheck.check_zarr_chunks`). Spacing comes from the array's attributes
``spacing``, ``voxel_size`` or ``element_size_um`` (z, y, x) with ``unit``, else the
enclosing group's. For an OME-Zarr (NGFF 0.4/0.5) image group, the full-resolution level
and its ``scale`` transform are used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import zarr

from uqtwin.errors import VolumeError
from uqtwin.io._common import FileMeta, calibrated, fail, spacing_from_attrs, squeeze_to_3d
from uqtwin.io.lazy import expand_key, squeezed_shape
from uqtwin.io.zarrcheck import check_zarr_chunks


def _arrays(group: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Every array below a group, as (path, array); works with zarr 2 and 3."""
    out = [(f"{prefix}{name}", arr) for name, arr in group.arrays()]
    for name, sub in group.groups():
        out += _arrays(sub, f"{prefix}{name}/")
    return out


def _listing(found: list[tuple[str, Any]]) -> str:
    if not found:
        return "the store holds no arrays"
    return "available: " + ", ".join(f"{n} {tuple(a.shape)}" for n, a in found)


def _ngff(group: Any, path: Path) -> tuple[str, FileMeta] | None:
    """Full-resolution array path and spacing of an OME-Zarr image group, or None."""
    attrs = dict(group.attrs)
    ms = attrs.get("multiscales") or attrs.get("ome", {}).get("multiscales")
    if not ms:
        return None
    try:
        image = ms[0]
        level = image["datasets"][0]
        axes = image.get("axes", [])
        scale = [1.0] * len(axes)
        for t in (level.get("coordinateTransformations", []) +
                  image.get("coordinateTransformations", [])):
            if t.get("type") == "scale":
                scale = [a * b for a, b in zip(scale, t["scale"], strict=True)]
        space = [(ax, s) for ax, s in zip(axes, scale, strict=True)
                 if isinstance(ax, dict) and ax.get("type") == "space"]
        units = {ax.get("unit", "") for ax, _ in space}
        if len(space) != 3 or len(units) != 1:
            return level["path"], FileMeta(notes=["OME-Zarr axes are not 3 spatial axes with "
                                                  "one unit"])
        return level["path"], calibrated([s for _, s in space], units.pop(), path)
    except (KeyError, IndexError, TypeError, ValueError):
        # Malformed NGFF metadata: fall back to treating it as a plain group.
        return None


def _select(path: Path, dataset: str | None) -> tuple[Any, FileMeta]:
    """The zarr array to read (the only 3-D one, or OME-Zarr's first level, when not
    named) and its spacing metadata; its chunk files are checked against its grid."""
    node = zarr.open(store=str(path), mode="r")
    group_meta = FileMeta()
    if isinstance(node, zarr.Group):
        group_meta = spacing_from_attrs(dict(node.attrs), path)
        ngff = _ngff(node, path) if dataset is None else None
        if ngff is not None:
            dataset, group_meta = ngff
        if dataset is None:
            found = _arrays(node)
            cands = [n for n, a in found if len(a.shape) == 3]
            if len(cands) != 1:
                raise fail(path, f"{'no' if not cands else len(cands)} 3-D arrays found, "
                                 f"pass dataset=... ({_listing(found)})")
            dataset = cands[0]
        try:
            arr_node = node[dataset.strip("/")]
        except KeyError:
            raise fail(path, f"dataset {dataset!r} not found "
                             f"({_listing(_arrays(node))})") from None
        if isinstance(arr_node, zarr.Group):
            raise fail(path, f"dataset {dataset!r} is a group, not an array "
                             f"({_listing(_arrays(node))})")
    else:
        arr_node = node
    check_zarr_chunks(path, str(getattr(arr_node, "path", "") or ""))
    meta = spacing_from_attrs(dict(arr_node.attrs), path)
    if not meta.known:
        meta = group_meta if group_meta.known else meta
    return arr_node, meta


def read_zarr(path: Path, dataset: str | None = None) -> tuple[np.ndarray, FileMeta]:
    """Read a zarr array, or one array of a zarr group, as a (z, y, x) array.

    Parameters
    ----------
    path : Path
        The store (a ``.zarr`` folder).
    dataset : str, optional
        Path of the array inside a group. Without it a group must hold exactly one 3-D
        array (or be an OME-Zarr image, whose full-resolution level is used).

    Returns
    -------
    array : numpy.ndarray, shape (nz, ny, nx)
    meta : FileMeta
        Spacing from the array's or the group's attributes.
    """
    try:
        arr_node, meta = _select(path, dataset)
        arr = np.asarray(arr_node[...])
    except (VolumeError, MemoryError):
        raise
    except Exception as exc:
        raise fail(path, f"cannot read zarr store, it is missing metadata, truncated or not "
                         f"zarr ({type(exc).__name__}: {exc})") from None
    return squeeze_to_3d(arr, path, "zarr array"), meta


class ZarrSource:
    """One zarr array, opened anew for each chunk read (safe in threads and processes).

    Holds only the store's path and the array's path in it, so it pickles into a task
    graph. Length-1 axes beyond three (OME-Zarr's t and c) are dropped.

    Parameters
    ----------
    path : Path
        The store.
    component : str
        The array's path in the store (``""`` for a bare array).
    shape : tuple of ints
        The array's stored shape.
    dtype : numpy dtype
        As stored; reads return native byte order.
    chunks : tuple of ints
        The stored chunk shape.
    """

    def __init__(self, path: Path, component: str, shape: tuple[int, ...], dtype: Any,
                 chunks: tuple[int, ...]) -> None:
        self.path, self.component = Path(path), component
        self.stored_shape = tuple(int(n) for n in shape)
        dt = np.dtype(dtype)
        self.dtype = dt.newbyteorder("=") if dt.byteorder not in "=|" else dt
        self.shape = squeezed_shape(self.stored_shape)
        self.ndim = len(self.shape)
        self.chunks = tuple(c for c, n in zip(chunks, self.stored_shape, strict=True)
                            if len(self.stored_shape) <= 3 or n != 1)

    def __dask_tokenize__(self) -> tuple:
        st = self.path.stat()
        return ("zarr", str(self.path.resolve()), st.st_mtime_ns, self.component,
                self.stored_shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        full, shape = expand_key(key, self.stored_shape)
        arr = zarr.open_array(store=str(self.path), path=self.component or None, mode="r")
        return np.asarray(arr[full], dtype=self.dtype).reshape(shape)


def open_zarr(path: Path, dataset: str | None = None) -> tuple[ZarrSource, FileMeta]:
    """Open a zarr array lazily, checking now that its chunk files fit its chunk grid.

    Parameters
    ----------
    path : Path
    dataset : str, optional
        As for :func:`read_zarr`.

    Returns
    -------
    source : ZarrSource
        For :func:`uqtwin.io.lazy.lazy_array`; ``source.chunks`` is the stored chunk shape.
    meta : FileMeta
        Spacing from the array's or the group's attributes.
    """
    try:
        arr_node, meta = _select(path, dataset)
        src = ZarrSource(path, str(getattr(arr_node, "path", "") or ""), arr_node.shape,
                         arr_node.dtype, arr_node.chunks)
    except (VolumeError, MemoryError):
        raise
    except Exception as exc:
        raise fail(path, f"cannot read zarr store, it is missing metadata, truncated or not "
                         f"zarr ({type(exc).__name__}: {exc})") from None
    if src.ndim != 3:
        raise fail(path, f"zarr array is {len(src.stored_shape)}-D with shape "
                         f"{src.stored_shape}; a volume must be 3-D (z, y, x)")
    return src, meta


def write_zarr(arr: np.ndarray, path: Path, spacing: Any, unit: str,
               dataset: str | None) -> None:
    """Write a (z, y, x) array as a zarr store with ``spacing`` and ``unit`` attributes.

    Parameters
    ----------
    arr : numpy.ndarray, shape (nz, ny, nx)
    path : Path
        The store folder; overwritten.
    spacing : sequence of 3 floats
        Voxel size (z, y, x) in ``unit``.
    unit : str
    dataset : str or None
        Array path inside a new group; None writes a bare array at the store root.
    """
    attrs = {"spacing": [float(s) for s in spacing], "unit": unit}
    if dataset is None:
        z = zarr.open_array(store=str(path), mode="w", shape=arr.shape, dtype=arr.dtype)
    else:
        root = zarr.open_group(store=str(path), mode="w")
        # zarr 3 spells it create_array; zarr 2 only has create_dataset.
        create = getattr(root, "create_array", None) or root.create_dataset
        z = create(dataset, shape=arr.shape, dtype=arr.dtype)
        root.attrs.update(attrs)
    z[...] = arr
    z.attrs.update(attrs)

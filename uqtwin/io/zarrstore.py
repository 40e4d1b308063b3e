"""Zarr volumes (v2 and v3 stores, a bare array or a group) via zarr-python.

The array is read whole into memory (fine up to a few GB; lazy reading through dask is
future work). Spacing comes from the array's attributes ``spacing``, ``voxel_size`` or
``element_size_um`` (z, y, x) with ``unit``, else the enclosing group's. For an OME-Zarr
(NGFF 0.4/0.5) image group, the full-resolution level and its ``scale`` transform are used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import zarr

from uqtwin.errors import VolumeError
from uqtwin.io._common import FileMeta, calibrated, fail, spacing_from_attrs, squeeze_to_3d


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
        meta = spacing_from_attrs(dict(arr_node.attrs), path)
        if not meta.known:
            meta = group_meta if group_meta.known else meta
        arr = np.asarray(arr_node[...])
    except (VolumeError, MemoryError):
        raise
    except Exception as exc:
        raise fail(path, f"cannot read zarr store, it is missing metadata, truncated or not "
                         f"zarr ({type(exc).__name__}: {exc})") from None
    return squeeze_to_3d(arr, path, "zarr array"), meta


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

"""HDF5 volumes (``.h5``, ``.hdf5``, ``.he5``, NeXus ``.nxs``) via h5py.

The dataset is read whole into memory (fine up to a few GB; chunked/lazy reading through
dask is future work). Spacing comes from the dataset's attributes ``spacing``,
``voxel_size`` or ``element_size_um`` (z, y, x) with ``unit``, else from the same
attributes on the parent groups up to the file root.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np

from uqtwin.errors import VolumeError
from uqtwin.io._common import FileMeta, fail, spacing_from_attrs, squeeze_to_3d


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
        with h5py.File(path, "r") as f:
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
            arr = obj[()]
            meta = FileMeta()
            node: Any = obj
            # Walk up: many writers put the voxel size on the entry group, not the array.
            while node is not None:
                meta = spacing_from_attrs(node.attrs, path)
                if meta.known or meta.notes or node.name == "/":
                    break
                node = node.parent
    except (VolumeError, MemoryError):
        raise
    except Exception as exc:
        raise fail(path, f"cannot read HDF5, the file is truncated, corrupted or not HDF5 "
                         f"({type(exc).__name__}: {exc})") from None
    if not isinstance(arr, np.ndarray):
        raise fail(path, f"dataset {dataset!r} is a scalar, not a volume")
    return squeeze_to_3d(arr, path, f"dataset {dataset!r}"), meta


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

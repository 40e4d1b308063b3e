"""Whether a zarr array's stored chunks agree with its declared chunk grid.

A zarr array is metadata (``zarr.json`` in v3, ``.zarray`` in v2: shape, chunk shape,
codecs) plus one file per chunk. The two can disagree when chunk files written with one
chunk shape sit under metadata that declares another (a store re-chunked in place, copied
in part, or assembled by hand). zarr-python then reads silently wrong data or fails deep
inside a computation: a file outside the declared grid is ignored, and a file inside it is
decoded into a chunk of the wrong size. :func:`check_zarr_chunks` looks at the files only
(their names, sizes and compression headers, never their voxels) so the store is refused
when it is opened:

- a chunk key with the wrong number of indices, or an index beyond the grid;
- an uncompressed chunk (codec ``bytes`` alone; v2 without compressor or filters) whose
  size is not the chunk's voxels times the item size;
- a zstd or blosc chunk whose header gives a decoded size other than that.

Sharded arrays and other codecs are checked by their keys only.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

from uqtwin.io._common import fail

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def _zstd_size(head: bytes) -> int | None:
    """Decoded size a zstd frame header announces, or None when it does not say."""
    if len(head) < 6 or head[:4] != _ZSTD_MAGIC:
        return None
    fhd = head[4]
    fcs_flag, single, dict_flag = fhd >> 6, (fhd >> 5) & 1, fhd & 3
    pos = 5 + (0 if single else 1) + (0, 1, 2, 4)[dict_flag]
    size = (1 if single else 0, 2, 4, 8)[fcs_flag]
    if size == 0 or len(head) < pos + size:
        return None
    value = int.from_bytes(head[pos:pos + size], "little")
    return value + 256 if size == 2 else value


def _blosc_size(head: bytes) -> int | None:
    """Decoded size in a blosc header (bytes 4-8, little-endian), or None."""
    return int.from_bytes(head[4:8], "little") if len(head) >= 16 else None


def _layout(folder: Path) -> dict[str, Any] | None:
    """Shape, chunks, item size, key pattern and codec of the array in ``folder``."""
    v3, v2 = folder / "zarr.json", folder / ".zarray"
    if v3.is_file():
        meta = json.loads(v3.read_text(encoding="utf-8"))
        if meta.get("node_type") != "array":
            return None
        grid = meta.get("chunk_grid", {})
        if grid.get("name") != "regular":
            return None
        enc = meta.get("chunk_key_encoding", {"name": "default"})
        sep = enc.get("configuration", {}).get("separator",
                                                "/" if enc.get("name") == "default" else ".")
        codecs = [c.get("name") for c in meta.get("codecs", [])]
        dtype = meta.get("data_type")
        return {"shape": meta["shape"], "chunks": grid["configuration"]["chunk_shape"],
                "prefix": "c" + sep if enc.get("name") == "default" else "", "sep": sep,
                "dtype": dtype if isinstance(dtype, str) else None,
                "raw": codecs == ["bytes"],
                "codec": codecs[1] if len(codecs) == 2 and codecs[0] == "bytes" else None}
    if v2.is_file():
        meta = json.loads(v2.read_text(encoding="utf-8"))
        comp = meta.get("compressor")
        plain = not meta.get("filters")
        return {"shape": meta["shape"], "chunks": meta["chunks"], "prefix": "",
                "sep": meta.get("dimension_separator") or ".", "dtype": meta.get("dtype"),
                "raw": plain and comp is None,
                "codec": comp.get("id") if plain and isinstance(comp, dict) else None}
    return None


def _itemsize(dtype: str | None) -> int | None:
    import numpy as np

    try:
        return np.dtype(dtype).itemsize if dtype else None
    except TypeError:
        return None


def check_zarr_chunks(store: Path, component: str = "") -> int:
    """Raise when the chunk files of a zarr array disagree with its chunk grid.

    Parameters
    ----------
    store : Path
        The store's folder (a zip store or other kind is not checked).
    component : str
        The array's path inside the store (``""`` for a bare array).

    Returns
    -------
    int
        The number of chunk files checked.

    Raises
    ------
    VolumeError
        Naming the first offending chunk file, what the grid declares and what the file
        holds.

    Examples
    --------
    >>> import tempfile, zarr, numpy as np
    >>> from uqtwin.io.zarrcheck import check_zarr_chunks
    >>> path = tempfile.mkdtemp() + "/v.zarr"
    >>> z = zarr.open_array(store=path, mode="w", shape=(8, 8, 8), chunks=(4, 4, 8),
    ...                     dtype="uint16")
    >>> z[...] = 1
    >>> check_zarr_chunks(path)
    4
    """
    folder = Path(store) / component.strip("/")
    if not folder.is_dir():
        return 0
    lay = _layout(folder)
    if lay is None:
        return 0
    shape, chunks = [int(n) for n in lay["shape"]], [int(c) for c in lay["chunks"]]
    if len(chunks) != len(shape) or min(chunks, default=1) < 1:
        raise fail(store, f"zarr array {component or '/'} declares chunk shape {chunks} for "
                          f"an array of shape {shape}")
    grid = [math.ceil(n / c) for n, c in zip(shape, chunks, strict=True)]
    itemsize = _itemsize(lay["dtype"])
    want = math.prod(chunks) * itemsize if itemsize else None
    key_re = re.compile(r"^\d+(" + re.escape(lay["sep"]) + r"\d+)*$")
    stored: list[tuple[list[int], str, Path]] = []
    for root, dirs, files in os.walk(folder):
        rel_root = Path(root).relative_to(folder).as_posix()
        if rel_root != "." and ((folder / rel_root / "zarr.json").is_file()
                                or (folder / rel_root / ".zarray").is_file()):
            dirs[:] = []  # a nested array (v2 groups nest arrays inside arrays' folders)
            continue
        for name in files:
            key = name if rel_root == "." else f"{rel_root}/{name}"
            if lay["prefix"]:
                if not key.startswith(lay["prefix"]):
                    continue
                key = key[len(lay["prefix"]):]
            if key_re.match(key):  # else metadata or a foreign file
                stored.append(([int(i) for i in key.split(lay["sep"])],
                               lay["prefix"] + key, Path(root) / name))
    stored.sort()
    what = f"zarr array {component or '/'}: chunk file"
    # Keys first: a key outside the grid says the most (the grid was declared smaller).
    for index, key, _ in stored:
        if len(index) != len(shape) or any(i >= g for i, g in zip(index, grid, strict=True)):
            raise fail(store, f"{what} {key} lies outside the declared chunk grid {grid} "
                              f"(shape {shape} in chunks of {chunks}): the chunk files were "
                              "written with another chunk shape")
    for _, key, path in stored if want is not None else ():
        got: int | None = None
        if lay["raw"]:
            got = path.stat().st_size
        elif lay["codec"] in ("zstd", "blosc"):
            with open(path, "rb") as fh:
                head = fh.read(18)
            got = _zstd_size(head) if lay["codec"] == "zstd" else _blosc_size(head)
        if got is not None and got != want:
            raise fail(store, f"{what} {key} holds {got:,} bytes but the declared chunk shape "
                              f"{chunks} of {itemsize}-byte items needs {want:,}: the chunk "
                              "files were written with another chunk shape")
    return len(stored)

"""Tests of lazy reading (read_volume(..., chunks=...)): the same volume as an eager read,
only the chunks computed are read, and bad input is refused when the file is opened."""

from __future__ import annotations

import json
import pickle
import warnings

import dask
import dask.array as da
import h5py
import numpy as np
import pytest
import tifffile
import zarr

from uqtwin.errors import VolumeError
from uqtwin.io import SpacingWarning, read_volume, write_volume
from uqtwin.io.chunks import check_chunk_memory, resolve_chunks
from uqtwin.io.hdf5 import HDF5Source
from uqtwin.io.lazy import MemmapSource
from uqtwin.volume import make_volume

SHAPE = (10, 12, 14)
SPACING = (0.02, 0.01, 0.01)


def _volume(dtype=np.uint16):
    rng = np.random.default_rng(7)
    arr = (rng.normal(100, 20, SHAPE) if np.dtype(dtype).kind == "f"
           else rng.integers(0, 5000, SHAPE)).astype(dtype)
    return make_volume(arr, SPACING, "um")


def _write(kind, tmp_path, vol):
    """Write ``vol`` in one layout; return (path, read_volume keywords)."""
    arr = vol.values
    kw = {}
    if kind == "tiff-zlib":  # compressed pages: read page by page, not memory-mapped
        path = tmp_path / "v.tif"
        tifffile.imwrite(path, arr, compression="zlib",
                         metadata={"axes": "ZYX", "spacing": list(SPACING), "unit": "um"})
    elif kind == "hdf5-chunked-5d":  # (t, c, z, y, x) with t = c = 1, chunked storage
        path = tmp_path / "v.h5"
        with h5py.File(path, "w") as f:
            ds = f.create_dataset("a/v", data=arr[None, None], chunks=(1, 1, 4, 5, 6))
            ds.attrs["spacing"], ds.attrs["unit"] = SPACING, "um"
    elif kind == "zarr-v2-big-endian":
        path = tmp_path / "v.zarr"
        z = zarr.open_array(store=str(path), mode="w", shape=arr.shape,
                            dtype=arr.dtype.newbyteorder(">"), chunks=(4, 6, 7),
                            zarr_format=2)
        z[...] = arr
        z.attrs.update(spacing=list(SPACING), unit="um")
    elif kind == "raw-big-endian":
        path = tmp_path / "v.raw"
        arr.astype(arr.dtype.newbyteorder(">")).tofile(path)
        kw = {"shape": arr.shape, "dtype": arr.dtype, "byte_order": "big"}
    else:
        fmt, name = {"tiff": ("tiff", "v.tif"), "tiff-slices": ("tiff-slices", "s"),
                     "hdf5": ("hdf5", "v.h5"), "zarr": ("zarr", "v.zarr"),
                     "npy": ("npy", "v.npy"), "raw": ("raw", "v.raw")}[kind]
        path = write_volume(vol, tmp_path / name, fmt)
        if kind == "raw":
            kw = {"shape": arr.shape, "dtype": arr.dtype}
    if kind.startswith(("npy", "raw")):
        kw.update(spacing=SPACING, unit="um")
    return path, kw


KINDS = ["tiff", "tiff-zlib", "tiff-slices", "hdf5", "hdf5-chunked-5d", "zarr",
         "zarr-v2-big-endian", "npy", "raw", "raw-big-endian"]


@pytest.mark.parametrize("kind", KINDS)
def test_lazy_equals_eager(tmp_path, kind):
    vol = _volume(np.float32 if kind == "hdf5" else np.uint16)
    path, kw = _write(kind, tmp_path, vol)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpacingWarning)
        eager = read_volume(path, **kw)
        lazy = read_volume(path, chunks=(4, 5, 6), **kw)
    assert isinstance(lazy.data, da.Array)
    assert lazy.data.numblocks == (3, 3, 3)
    assert lazy.dtype == eager.dtype and lazy.dtype.isnative
    assert lazy.attrs == eager.attrs  # spacing, unit, source, format, sha256
    assert lazy.name == eager.name == "grey"
    for d in "zyx":
        np.testing.assert_array_equal(lazy[d].values, eager[d].values)
        assert lazy[d].attrs == eager[d].attrs
    got = lazy.values
    assert got.tobytes() == eager.values.tobytes() == vol.values.tobytes()
    slabs = read_volume(path, chunks=(3, -1, -1), **kw)  # whole z-slices: one read each
    assert slabs.data.numblocks == (4, 1, 1)
    assert slabs.values.tobytes() == got.tobytes()


def test_only_the_computed_chunks_are_read(tmp_path, monkeypatch):
    path, _ = _write("hdf5", tmp_path, _volume())
    reads = []
    original = HDF5Source.__getitem__

    def counting(self, key):
        reads.append(key)
        return original(self, key)

    monkeypatch.setattr(HDF5Source, "__getitem__", counting)
    lazy = read_volume(path, chunks=(5, 12, 14))
    assert reads == []  # opening reads no voxel
    with dask.config.set(scheduler="synchronous"):
        z7 = lazy[7].values
    assert len(reads) == 1 and reads[0][0] == slice(5, 10)
    np.testing.assert_array_equal(z7, _volume().values[7])


def test_lazy_volume_pickles_small_for_worker_processes(tmp_path):
    vol = _volume()
    for kind in ("npy", "hdf5", "zarr", "tiff-zlib"):
        path, kw = _write(kind, tmp_path, vol)
        lazy = read_volume(path, chunks=5, **kw)
        blob = pickle.dumps(lazy.data)
        assert len(blob) < vol.nbytes  # the graph holds paths, not voxels
        np.testing.assert_array_equal(pickle.loads(blob).compute(), vol.values)


def test_chunks_auto_follows_the_files_own_chunks(tmp_path):
    path, _ = _write("zarr-v2-big-endian", tmp_path, _volume())
    lazy = read_volume(path, chunks="auto")
    assert lazy.data.chunksize == SHAPE  # small: one chunk, a multiple of the stored ones
    assert resolve_chunks("auto", (512, 2048, 2048), "uint16",
                          previous=(1, 2048, 2048))[1:] == (2048, 2048)


def test_nan_is_found_in_its_chunk(tmp_path):
    vol = _volume(np.float32)
    arr = vol.values.copy()
    arr[8, 3, 4] = np.nan
    path = tmp_path / "v.npy"
    np.save(path, arr)
    lazy = read_volume(path, spacing=1.0, unit="um", chunks=5)
    assert float(lazy[:5].sum()) == pytest.approx(float(arr[:5].sum(dtype=np.float64)),
                                                  rel=1e-5)
    with pytest.raises(VolumeError, match=r"1 NaN.*\(z, y, x\) = \(8, 3, 4\)"):
        lazy.compute()


# --- bad input, refused when opened --------------------------------------------------------

@pytest.mark.parametrize("chunked", [False, True])
def test_truncated_hdf5(tmp_path, chunked):
    path = tmp_path / "v.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("v", data=_volume().values, chunks=(5, 6, 7) if chunked else None)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 300])
    for kw in ({}, {"chunks": 4}):
        with pytest.raises(VolumeError, match=r"v\.h5: HDF5 file is truncated: it has "
                                              rf"{len(data) - 300:,} bytes"):
            read_volume(path, **kw)


def test_truncated_raw_and_npy(tmp_path):
    raw = tmp_path / "v.raw"
    raw.write_bytes(bytes(2 * np.prod(SHAPE) - 10))
    with pytest.raises(VolumeError, match=r"truncated.*3360 bytes.*3350 bytes"):
        read_volume(raw, shape=SHAPE, dtype="uint16", chunks=4)
    npy = write_volume(_volume(), tmp_path / "v.npy")
    npy.write_bytes(npy.read_bytes()[:-50])
    with pytest.raises(VolumeError, match=r"\.npy file is truncated.*\(10, 12, 14\)"):
        read_volume(npy, spacing=1.0, chunks=4)


def _edit_chunk_shape(meta_path, key, chunks):
    meta = json.loads(meta_path.read_text())
    if key == "v3":
        meta["chunk_grid"]["configuration"]["chunk_shape"] = chunks
    else:
        meta["chunks"] = chunks
    meta_path.write_text(json.dumps(meta))


@pytest.mark.parametrize("lazy", [False, True])
def test_zarr_chunk_files_disagreeing_with_the_grid(tmp_path, lazy):
    kw = {"chunks": 4} if lazy else {}
    arr = _volume().values
    # v3, zstd: metadata re-declared with larger chunks -> files outside the grid.
    path = tmp_path / "a.zarr"
    zarr.open_array(store=str(path), mode="w", shape=SHAPE, dtype=arr.dtype,
                    chunks=(5, 6, 7))[...] = arr
    _edit_chunk_shape(path / "zarr.json", "v3", [10, 12, 14])
    with pytest.raises(VolumeError, match=r"chunk file c/0/0/1 lies outside the declared "
                                          r"chunk grid \[1, 1, 1\]"):
        read_volume(path, spacing=1.0, **kw)
    # ... and with smaller chunks: inside the grid, but a zstd frame of the old size.
    _edit_chunk_shape(path / "zarr.json", "v3", [5, 3, 7])
    with pytest.raises(VolumeError, match=r"holds 420 bytes but the declared chunk shape "
                                          r"\[5, 3, 7\] of 2-byte items needs 210"):
        read_volume(path, spacing=1.0, **kw)
    # v2 without compression: the file sizes give it away.
    path = tmp_path / "b.zarr"
    zarr.open_array(store=str(path), mode="w", shape=SHAPE, dtype=arr.dtype,
                    chunks=(5, 6, 7), zarr_format=2, compressor=None)[...] = arr
    _edit_chunk_shape(path / ".zarray", "v2", [5, 3, 7])
    with pytest.raises(VolumeError, match=r"chunk file 0\.0\.0 holds 420 bytes.*needs 210"):
        read_volume(path, spacing=1.0, **kw)


def test_chunk_memory_limit(tmp_path, monkeypatch):
    need = check_chunk_memory((512, 512, 512), (64, 128, 128), "uint16", 2**22)
    assert need == 64 * 128 * 128 * 2
    with pytest.raises(VolumeError, match=r"one chunk of \(64, 128, 128\) voxels needs "
                                          r"1,048,576 voxels x 16 bytes = 16,777,216 bytes "
                                          r"\(16\.0 MiB\) in flight, more than the memory "
                                          r"limit of 8,000,000 bytes"):
        check_chunk_memory((512, 512, 512), (64, 128, 128), "uint16", 8e6, bytes_per_voxel=16)
    # Dask's per-axis chunk tuples count by their largest chunk.
    assert check_chunk_memory((10, 10, 10), ((6, 4), (10,), (10,)), "uint8", 600) == 600
    # read_volume refuses before reading anything.
    path, _ = _write("hdf5", tmp_path, _volume())
    monkeypatch.setattr(HDF5Source, "__getitem__", lambda *a: pytest.fail("read a chunk"))
    with pytest.raises(VolumeError, match=r"v\.h5: one chunk of \(10, 12, 14\) voxels needs "
                                          r"1,680 voxels x 2 bytes = 3,360 bytes"):
        read_volume(path, chunks=-1, memory_limit=1000)
    assert read_volume(path, chunks=5, memory_limit=1000).data.chunksize == (5, 5, 5)


@pytest.mark.parametrize("bad", ["big", (4, 4), (4, 0, 4), 2.5j])
def test_bad_chunks(tmp_path, bad):
    path, kw = _write("npy", tmp_path, _volume())
    with pytest.raises(VolumeError, match="chunks"):
        read_volume(path, chunks=bad, **kw)


def test_memmap_source_reads_fortran_order(tmp_path):
    arr = np.asfortranarray(_volume().values)
    path = tmp_path / "f.npy"
    np.save(path, arr)
    lazy = read_volume(path, spacing=1.0, unit="um", chunks=(3, 5, 7))
    np.testing.assert_array_equal(lazy.values, arr)
    src = MemmapSource(path, SHAPE, "<u2", offset=0)
    assert src[0:1, 0:1, 0:1].shape == (1, 1, 1)

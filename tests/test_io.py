"""Tests of uqtwin.io: every format gives the same array and spacing back; bad files fail
with a VolumeError that names the problem."""

from __future__ import annotations

import hashlib
import warnings

import h5py
import numpy as np
import pytest
import tifffile
import zarr

from uqtwin.errors import VolumeError
from uqtwin.io import (
    SpacingWarning,
    infer_format,
    natural_key,
    read_volume,
    sha256_of,
    write_volume,
)
from uqtwin.volume import make_volume

SPACING = (0.02, 0.01, 0.01)  # um: FIB-SEM-like, z coarser than x and y
SHAPE = (7, 9, 11)

#: (format, file name) for every writer.
TARGETS = [
    ("tiff", "vol.tif"),
    ("tiff-slices", "slices"),
    ("hdf5", "vol.h5"),
    ("zarr", "vol.zarr"),
    ("npy", "vol.npy"),
    ("raw", "vol.raw"),
]


def _volume(dtype, spacing=SPACING, unit="um"):
    rng = np.random.default_rng(42)
    if np.dtype(dtype).kind == "f":
        arr = rng.normal(100.0, 20.0, SHAPE).astype(dtype)
    else:
        info = np.iinfo(dtype)
        arr = rng.integers(max(info.min, -1000), min(info.max, 60000), SHAPE, dtype=dtype,
                           endpoint=True)
    return make_volume(arr, spacing, unit)


def _read_back(path, fmt, vol):
    """Read with what each format needs; npy and raw do not keep the spacing."""
    kw = {}
    if fmt in ("npy", "raw"):
        kw = {"spacing": vol.attrs["spacing"], "unit": vol.attrs["unit"]}
    if fmt == "raw":
        kw.update(shape=vol.shape, dtype=vol.dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpacingWarning)  # a clean roundtrip warns about nothing
        return read_volume(path, **kw)


def _assert_same(got, vol):
    np.testing.assert_array_equal(got.values, vol.values)
    assert got.dtype == vol.dtype
    assert got.dims == ("z", "y", "x")
    np.testing.assert_allclose(got.attrs["spacing"], vol.attrs["spacing"], rtol=1e-6)
    assert got.attrs["unit"] == vol.attrs["unit"]
    np.testing.assert_allclose(got.x.values, vol.x.values, rtol=1e-6)


# --- every format, same answer -------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.uint16, np.float32, np.uint8])
@pytest.mark.parametrize(("fmt", "name"), TARGETS)
def test_roundtrip_every_format(tmp_path, fmt, name, dtype):
    vol = _volume(dtype)
    path = write_volume(vol, tmp_path / name, fmt)
    got = _read_back(path, fmt, vol)
    _assert_same(got, vol)
    assert got.attrs["format"] == fmt
    assert got.attrs["source"] == str(path)
    assert len(got.attrs["sha256"]) == 64


@pytest.mark.parametrize("dtype", [np.int32, np.float64, np.int8])
def test_tiff_roundtrip_dtypes_imagej_cannot_hold(tmp_path, dtype):
    vol = _volume(dtype)
    _assert_same(_read_back(write_volume(vol, tmp_path / "v.tiff"), "tiff", vol), vol)


@pytest.mark.parametrize("unit", ["nm", "mm"])
def test_tiff_roundtrip_other_units(tmp_path, unit):
    vol = _volume(np.uint16, spacing=(20.0, 10.0, 13.0), unit=unit)
    _assert_same(_read_back(write_volume(vol, tmp_path / "v.tif"), "tiff", vol), vol)


def test_imagej_file_is_calibrated_for_fiji(tmp_path):
    path = write_volume(_volume(np.uint16), tmp_path / "v.tif")
    with tifffile.TiffFile(path) as tif:
        assert tif.is_imagej
        assert tif.imagej_metadata["unit"] == "micron"
        assert tif.imagej_metadata["spacing"] == pytest.approx(0.02)


def test_unit_argument_converts_file_spacing(tmp_path):
    path = write_volume(_volume(np.uint8), tmp_path / "v.h5")
    got = read_volume(path, unit="nm")
    assert got.attrs["unit"] == "nm"
    np.testing.assert_allclose(got.attrs["spacing"], (20.0, 10.0, 10.0))


def test_ome_tiff_physical_size(tmp_path):
    arr = _volume(np.uint16).values
    path = tmp_path / "v.ome.tif"
    tifffile.imwrite(path, arr, ome=True, metadata={
        "axes": "ZYX", "PhysicalSizeX": 0.01, "PhysicalSizeXUnit": "µm",
        "PhysicalSizeY": 0.01, "PhysicalSizeYUnit": "µm",
        "PhysicalSizeZ": 20.0, "PhysicalSizeZUnit": "nm"})
    got = read_volume(path)
    np.testing.assert_array_equal(got.values, arr)
    np.testing.assert_allclose(got.attrs["spacing"], SPACING, rtol=1e-6)
    assert got.attrs["unit"] == "um"


def test_tiff_resolution_in_cm_gives_xy_and_assumes_cubic(tmp_path):
    path = tmp_path / "v.tif"
    # 0.5 um pixels = 20000 pixels per cm; no z information in baseline TIFF.
    tifffile.imwrite(path, _volume(np.uint8).values, resolution=(20000, 20000),
                     resolutionunit="CENTIMETER")
    with pytest.warns(SpacingWarning, match="isotropic"):
        got = read_volume(path)
    np.testing.assert_allclose(got.attrs["spacing"], (0.5, 0.5, 0.5))
    assert got.attrs["unit"] == "um"


def test_print_dpi_and_resunit_none_mean_unknown(tmp_path):
    arr = _volume(np.uint8).values
    for name, kw in [("dpi.tif", {"resolution": (72, 72), "resolutionunit": "INCH"}),
                     ("none.tif", {"resolution": (1, 1), "resolutionunit": "NONE"})]:
        tifffile.imwrite(tmp_path / name, arr, **kw)
        with pytest.warns(SpacingWarning, match="unknown"):
            got = read_volume(tmp_path / name)
        assert got.attrs["spacing"] == (1.0, 1.0, 1.0)
        assert got.attrs["unit"] == "voxel"


def test_imagej_stack_without_spacing_has_depth_one(tmp_path):
    # ImageJ writes no "spacing=" for a voxel depth of 1 unit.
    path = tmp_path / "v.tif"
    tifffile.imwrite(path, _volume(np.uint8).values, imagej=True, resolution=(2.0, 2.0),
                     metadata={"axes": "ZYX", "unit": "micron"})
    with pytest.warns(SpacingWarning, match="no z spacing"):
        got = read_volume(path)
    np.testing.assert_allclose(got.attrs["spacing"], (1.0, 0.5, 0.5))


def test_given_spacing_wins_and_disagreement_warns(tmp_path):
    path = write_volume(_volume(np.uint16), tmp_path / "v.tif")
    with pytest.warns(SpacingWarning, match=r"0\.39.*disagrees.*0\.02"):
        got = read_volume(path, spacing=0.39, unit="um")
    assert got.attrs["spacing"] == (0.39, 0.39, 0.39)
    # The same spacing in another unit is no disagreement.
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpacingWarning)
        got = read_volume(path, spacing=(20, 10, 10), unit="nm")
    assert got.attrs["unit"] == "nm"


def test_unknown_spacing_warns_and_uses_voxels(tmp_path):
    path = tmp_path / "v.npy"
    np.save(path, _volume(np.uint8).values)
    with pytest.warns(SpacingWarning, match="spacing unknown"):
        got = read_volume(path)
    assert got.attrs["spacing"] == (1.0, 1.0, 1.0)
    assert got.attrs["unit"] == "voxel"


# --- slices ---------------------------------------------------------------------------------

def test_natural_key_orders_numbers_by_value():
    names = [f"slice_{k}.tif" for k in (10, 2, 1, 12, 3)]
    assert sorted(names, key=natural_key) == [f"slice_{k}.tif" for k in (1, 2, 3, 10, 12)]


def test_slices_folder_sorted_naturally(tmp_path):
    folder = tmp_path / "scan"
    folder.mkdir()
    # Written out of order: plain string order would give 1, 10, 11, 12, 2, ...
    for k in (12, 3, 1, 10, 2, 11, 4, 5, 9, 6, 8, 7):
        tifffile.imwrite(folder / f"slice_{k}.tif", np.full((5, 6), k, dtype=np.uint8))
    (folder / "notes.txt").write_text("not a slice")
    got = read_volume(folder, spacing=(2.0, 1.0, 1.0))
    assert got.attrs["format"] == "tiff-slices"
    assert got.shape == (12, 5, 6)
    np.testing.assert_array_equal(got.values[:, 0, 0], np.arange(1, 13))
    with pytest.warns(SpacingWarning):
        globbed = read_volume(str(folder / "slice_1*.tif"))  # 1, 10, 11, 12
    np.testing.assert_array_equal(globbed.values[:, 0, 0], [1, 10, 11, 12])
    assert globbed.attrs["sha256"] != got.attrs["sha256"]


def test_slices_of_unequal_shape(tmp_path):
    tifffile.imwrite(tmp_path / "s_1.tif", np.zeros((5, 6), np.uint8))
    tifffile.imwrite(tmp_path / "s_2.tif", np.zeros((5, 7), np.uint8))
    with pytest.raises(VolumeError, match="unequal shape"):
        read_volume(tmp_path, format="tiff-slices")


def test_empty_slice_folder_pattern(tmp_path):
    with pytest.raises(VolumeError, match="no TIFF slices"):
        read_volume(str(tmp_path / "nothing_*.tif"))


# --- raw ------------------------------------------------------------------------------------

@pytest.mark.parametrize("byte_order", ["little", "big"])
def test_raw_byte_order_and_offset(tmp_path, byte_order):
    arr = _volume(np.uint16).values
    code = "<" if byte_order == "little" else ">"
    path = tmp_path / "v.bin"
    path.write_bytes(b"HEADER--" * 64 + arr.astype(code + "u2").tobytes())
    got = read_volume(path, shape=SHAPE, dtype="uint16", byte_order=byte_order, offset=512,
                      spacing=SPACING, unit="um")
    np.testing.assert_array_equal(got.values, arr)
    assert got.dtype.isnative


def test_raw_wrong_byte_order_gives_other_values(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint16).reshape(2, 3, 4) + 1
    path = tmp_path / "v.raw"
    path.write_bytes(arr.astype(">u2").tobytes())
    with pytest.warns(SpacingWarning):
        got = read_volume(path, shape=arr.shape, dtype=np.uint16)
    assert not np.array_equal(got.values, arr)


def test_raw_size_errors(tmp_path):
    path = tmp_path / "v.raw"
    path.write_bytes(bytes(7 * 9 * 11 * 2 - 10))
    with pytest.raises(VolumeError, match=r"truncated.*1386 bytes.*1376 bytes"):
        read_volume(path, shape=SHAPE, dtype="uint16")
    path.write_bytes(bytes(7 * 9 * 11 * 2 + 10))
    with pytest.raises(VolumeError, match=r"larger than expected.*1386 bytes.*1396 bytes"):
        read_volume(path, shape=SHAPE, dtype="uint16")
    with pytest.raises(VolumeError, match="needs shape and dtype"):
        read_volume(path)
    with pytest.raises(VolumeError, match="byte_order"):
        read_volume(path, shape=SHAPE, dtype="uint16", byte_order="middle")


# --- hdf5 and zarr specifics -----------------------------------------------------------------

def test_hdf5_dataset_selection_and_group_attrs(tmp_path):
    arr = _volume(np.uint8).values
    path = tmp_path / "scan.nxs"
    with h5py.File(path, "w") as f:
        entry = f.create_group("entry")
        entry.attrs["element_size_um"] = [0.02, 0.01, 0.01]
        entry.create_dataset("data/volume", data=arr)
        entry.create_dataset("data/dark", data=np.zeros((4, 5)))
        entry.create_dataset("flat", data=np.zeros((2, 4, 5)))
    with pytest.raises(VolumeError, match=r"2 3-D datasets.*/entry/data/volume.*/entry/flat"):
        read_volume(path)
    with pytest.raises(VolumeError, match=r"not found.*available: /entry/data/dark"):
        read_volume(path, dataset="/entry/missing")
    got = read_volume(path, dataset="entry/data/volume")
    np.testing.assert_array_equal(got.values, arr)
    np.testing.assert_allclose(got.attrs["spacing"], SPACING)


def test_zarr_v2_store_and_bare_array(tmp_path):
    arr = _volume(np.uint16).values
    v2 = zarr.open_array(store=str(tmp_path / "v2.zarr"), mode="w", shape=arr.shape,
                         dtype=arr.dtype, zarr_format=2)
    v2[...] = arr
    v2.attrs.update(voxel_size=[20, 10, 10], unit="nm")
    got = read_volume(tmp_path / "v2.zarr")
    np.testing.assert_array_equal(got.values, arr)
    assert got.attrs["spacing"] == (20.0, 10.0, 10.0)
    assert got.attrs["unit"] == "nm"

    bare = write_volume(_volume(np.float32), tmp_path / "bare.zarr", dataset="")
    _assert_same(_read_back(bare, "zarr", _volume(np.float32)), _volume(np.float32))

    with pytest.raises(VolumeError, match="not found"):
        read_volume(write_volume(_volume(np.uint8), tmp_path / "g.zarr"), dataset="nope")


def test_ome_zarr_uses_full_resolution_and_scale(tmp_path):
    arr = _volume(np.uint16).values
    root = zarr.open_group(store=str(tmp_path / "img.zarr"), mode="w")
    for level, a in (("0", arr), ("1", arr[::2, ::2, ::2])):
        root.create_array(level, shape=a.shape, dtype=a.dtype)[...] = a
    axes = [{"name": n, "type": "space", "unit": "micrometer"} for n in "zyx"]
    root.attrs["multiscales"] = [{"version": "0.4", "axes": axes, "datasets": [
        {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": list(SPACING)}]},
        {"path": "1", "coordinateTransformations": [{"type": "scale", "scale": [0.04, 0.02,
                                                                                 0.02]}]}]}]
    got = read_volume(tmp_path / "img.zarr")
    np.testing.assert_array_equal(got.values, arr)
    np.testing.assert_allclose(got.attrs["spacing"], SPACING)
    assert got.attrs["unit"] == "um"


def test_rewriting_slices_removes_stale_ones(tmp_path):
    write_volume(_volume(np.uint8), tmp_path / "s", "tiff-slices")
    small = make_volume(np.ones((3, 4, 5), np.uint8), SPACING, "um")
    write_volume(small, tmp_path / "s", "tiff-slices")
    assert read_volume(tmp_path / "s").shape == (3, 4, 5)


def test_sha256(tmp_path):
    # A known digest, worked out independently (FIPS 180-2, example "abc"; `sha256sum`).
    tiny = tmp_path / "abc.bin"
    tiny.write_bytes(b"abc")
    assert sha256_of(tiny) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    path = write_volume(_volume(np.uint8), tmp_path / "v.tif")
    data = path.read_bytes()
    assert sha256_of(path) == hashlib.sha256(data).hexdigest()
    # One byte changed (in the pixel data at the end), another digest.
    (tmp_path / "w.tif").write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    assert sha256_of(tmp_path / "w.tif") != sha256_of(path)
    # A folder: each file's relative path and digest, in sorted order of path.
    store = write_volume(_volume(np.uint8), tmp_path / "v.zarr")
    files = sorted((f for f in store.rglob("*") if f.is_file()),
                   key=lambda f: f.relative_to(store).as_posix())
    h = hashlib.sha256()
    for f in files:
        h.update(f.relative_to(store).as_posix().encode() + b"\0"
                 + hashlib.sha256(f.read_bytes()).digest())
    assert sha256_of(store) == h.hexdigest()
    assert read_volume(store).attrs["sha256"] == sha256_of(store)
    # A renamed file inside the folder changes the folder's digest.
    first = files[0]
    first.rename(first.with_name(first.name + "_"))
    assert sha256_of(store) != h.hexdigest()
    # A list of files: by name, in the given order.
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"a")
    b.write_bytes(b"b")
    assert sha256_of([a, b]) != sha256_of([b, a])


def test_big_endian_npy_becomes_native(tmp_path):
    arr = _volume(np.float32).values.astype(">f4")
    np.save(tmp_path / "v.npy", arr)
    got = read_volume(tmp_path / "v.npy", spacing=1.0, unit="um")
    assert got.dtype == np.float32 and got.dtype.isnative
    np.testing.assert_array_equal(got.values, arr)


def test_infer_format(tmp_path):
    for name, fmt in [("a.TIF", "tiff"), ("a.he5", "hdf5"), ("a.vol", "raw"), ("a.npy", "npy")]:
        (tmp_path / name).write_bytes(b"")
        assert infer_format(tmp_path / name) == fmt


# --- bad input ------------------------------------------------------------------------------

def test_missing_file(tmp_path):
    with pytest.raises(VolumeError, match="no such file"):
        read_volume(tmp_path / "nope.tif")


@pytest.mark.parametrize("keep", [0.5, -100, 100, 10])
def test_truncated_tiff(tmp_path, keep):
    path = write_volume(_volume(np.uint16), tmp_path / "v.tif")
    data = path.read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    path.write_bytes(data[:n])
    with pytest.raises(VolumeError, match="truncated"):
        read_volume(path)


def test_not_a_tiff(tmp_path):
    path = tmp_path / "v.tif"
    path.write_bytes(b"hello, not an image" * 10)
    with pytest.raises(VolumeError, match="not a TIFF"):
        read_volume(path)


def test_corrupted_hdf5_and_npy(tmp_path):
    (tmp_path / "v.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(50))
    with pytest.raises(VolumeError, match="cannot read HDF5"):
        read_volume(tmp_path / "v.h5")
    path = write_volume(_volume(np.uint16), tmp_path / "v.npy")
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(VolumeError, match="truncated"):
        read_volume(path, spacing=1.0)


def test_2d_tiff(tmp_path):
    tifffile.imwrite(tmp_path / "page.tif", np.zeros((5, 6), np.uint8))
    with pytest.raises(VolumeError, match="is 2-D"):
        read_volume(tmp_path / "page.tif")


def test_nan_volume(tmp_path):
    arr = _volume(np.float32).values.copy()
    arr[3, 4, 5] = np.nan
    np.save(tmp_path / "v.npy", arr)
    with pytest.raises(VolumeError, match=r"NaN.*\(3, 4, 5\)"):
        read_volume(tmp_path / "v.npy", spacing=1.0)
    tifffile.imwrite(tmp_path / "v.tif", arr, imagej=True, metadata={"axes": "ZYX"})
    with pytest.raises(VolumeError, match="v.tif.*NaN"):
        read_volume(tmp_path / "v.tif")


@pytest.mark.parametrize("spacing", [0.0, -1.0, (1.0, 0.0, 1.0), (1.0, 1.0)])
def test_bad_spacing(tmp_path, spacing):
    path = write_volume(_volume(np.uint8), tmp_path / "v.npy")
    with pytest.raises(VolumeError, match="spacing"):
        read_volume(path, spacing=spacing)


def test_unknown_format(tmp_path):
    (tmp_path / "v.xyz").write_bytes(b"12345")
    with pytest.raises(VolumeError, match="unknown format"):
        read_volume(tmp_path / "v.xyz")
    with pytest.raises(VolumeError, match="unknown format"):
        read_volume(tmp_path / "v.xyz", format="dicom")
    with pytest.raises(VolumeError, match="unknown length unit"):
        read_volume(tmp_path / "v.xyz", format="raw", shape=(1, 1, 5), dtype="u1",
                    spacing=1.0, unit="furlong")


def test_hdf5_missing_dataset(tmp_path):
    path = write_volume(_volume(np.uint8), tmp_path / "v.h5", dataset="/scan/volume")
    with pytest.raises(VolumeError, match=r"dataset '/scan/grey' not found.*/scan/volume"):
        read_volume(path, dataset="/scan/grey")


def test_colour_and_channels(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 255, (3, 5, 6, 3), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb")
    with pytest.raises(VolumeError, match="RGB"):
        read_volume(tmp_path / "rgb.tif")
    grey = np.repeat(rgb[..., :1], 3, axis=-1)
    tifffile.imwrite(tmp_path / "grey.tif", grey, photometric="rgb")
    with pytest.warns(SpacingWarning):
        got = read_volume(tmp_path / "grey.tif")
    np.testing.assert_array_equal(got.values, rgb[..., 0])
    tifffile.imwrite(tmp_path / "hs.tif", np.zeros((3, 2, 5, 6), np.uint8), imagej=True,
                     metadata={"axes": "ZCYX"})
    with pytest.raises(VolumeError, match="2 channels"):
        read_volume(tmp_path / "hs.tif")


# --- real data ------------------------------------------------------------------------------

def test_tf_electrode(shared_data):
    path = shared_data / "tf_electrode.tiff"
    if not path.exists():
        pytest.skip(f"{path} not found")
    # The file has no calibration (ResolutionUnit NONE); its README gives 0.39 um.
    vol = read_volume(path, spacing=0.39, unit="um")
    assert vol.shape == (256, 256, 256)
    assert vol.dtype == np.uint8
    assert set(np.unique(vol.values).tolist()) == {0, 85, 170}
    assert vol.attrs["spacing"] == (0.39, 0.39, 0.39)
    assert vol.attrs["format"] == "tiff"

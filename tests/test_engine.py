"""The ensemble engine: end to end on a small volume, determinism, persistence, resume."""

import numpy as np
import pytest
import tifffile
import xarray as xr

from uqtwin.data import DEMO_VOLUME
from uqtwin.engine.config import config_from_dict
from uqtwin.engine.pipeline import run, sample_seed
from uqtwin.engine.store import SampleStore
from uqtwin.errors import UqtwinInputError
from uqtwin.io import read_volume, write_volume
from uqtwin.results.dataset import open_results
from uqtwin.results.schema import schema_problems


@pytest.fixture(scope="module")
def small_volume(tmp_path_factory):
    """A 24³ crop of the shipped demo tomogram, anisotropic spacing, as a TIFF."""
    vol = read_volume(DEMO_VOLUME)
    crop = vol.isel(z=slice(0, 24), y=slice(0, 24), x=slice(0, 24))
    path = tmp_path_factory.mktemp("vol") / "small.tif"
    write_volume(crop.copy(data=crop.values).assign_attrs(spacing=(0.78, 0.39, 0.39)), path)
    return path


def _cfg(volume, out, **sampler):
    # The engine's mechanics do not depend on the sampler: the quick correlated one serves,
    # except where a test names another (the default is exercised end to end).
    return config_from_dict({
        "input": {"path": str(volume)},
        "denoise": {"enabled": False},
        "sampler": {"n_samples": 6, "seed": 3, "kind": "correlated", **sampler},
        "quantities": {"names": ["volume_fraction"]},
        "output": {"path": str(out / "results.nc")},
    })


def _same(a: xr.Dataset, b: xr.Dataset) -> None:
    attrs_a = {k: v for k, v in a.attrs.items() if k not in ("created", "config")}
    attrs_b = {k: v for k, v in b.attrs.items() if k not in ("created", "config")}
    xr.testing.assert_identical(a.assign_attrs(attrs_a).drop_attrs(deep=False).assign_attrs(attrs_a),
                                b.drop_attrs(deep=False).assign_attrs(attrs_b))


def test_end_to_end_results_follow_schema(small_volume, tmp_path):
    from uqtwin.engine.config import DEFAULT_SAMPLER

    lines = []
    ds = run(_cfg(small_volume, tmp_path, kind=DEFAULT_SAMPLER), log=lines.append)
    assert ds.attrs["sampler"] == DEFAULT_SAMPLER
    # the log ends with the time per stage: each stage once, per-sample ones per member
    table = lines[lines.index(next(x for x in lines if x.startswith("time per stage"))) + 2:]
    calls = {row.split()[0]: int(row.split()[-2]) for row in table}
    assert calls["read"] == calls["fit"] == calls["collect"] == 1
    assert "denoise" not in calls  # switched off in this configuration
    assert calls["draw"] == 6 and calls["volume_fraction"] == 6
    on_disk = open_results(tmp_path / "results.nc")
    assert schema_problems(on_disk) == []
    assert on_disk.sizes["sample"] == 6
    assert list(on_disk.phase.values) == ["pore", "binder", "active"]
    vf = on_disk.volume_fraction
    assert vf.attrs["units"] == "1" and vf.attrs["long_name"]
    np.testing.assert_allclose(vf.sum("phase"), 1.0)
    np.testing.assert_allclose(on_disk.attrs["spacing"], (0.78, 0.39, 0.39), rtol=1e-6)
    assert on_disk.attrs["length_unit"] == "um"
    assert len(on_disk.attrs["input_sha256"]) == 64
    assert on_disk.sample_seed.values.tolist() == [sample_seed(3, i) for i in range(6)]
    # samples differ (the ensemble is not a copy of one segmentation)
    assert np.ptp(ds.volume_fraction.sel(phase="binder").values) > 0
    # what each member drew, and the scan's measured imaging conditions, are recorded
    for name in ("active_boundary_share", "binder_solid_share", "binder_texture_length"):
        assert on_disk[name].dims == ("sample",) and on_disk[name].attrs["role"] == "nuisance"
        assert np.ptp(on_disk[name].values) > 0
    assert on_disk.psf_sigma.sizes["axis"] == 3 and (on_disk.psf_sigma > 0).all()
    for name in ("photons_per_voxel", "read_noise", "slice_drift"):
        assert on_disk[name].dims == ()
    from uqtwin.results.summary import summarize

    table = summarize(on_disk)
    assert "active_boundary_share" not in table["variable"].values
    assert table.loc["volume_fraction[binder]", "spread_from"]  # its largest source, named


def test_same_seed_same_numbers_whatever_the_workers(small_volume, tmp_path):
    one = run(_cfg(small_volume, tmp_path / "a").replace(
        engine=_cfg(small_volume, tmp_path).engine.__class__(workers=1)))
    two = run(_cfg(small_volume, tmp_path / "b").replace(
        engine=_cfg(small_volume, tmp_path).engine.__class__(workers=2)))
    _same(one, two)
    other = run(_cfg(small_volume, tmp_path / "c", seed=4))
    assert not np.array_equal(one.volume_fraction.values, other.volume_fraction.values)


def test_samples_side_by_side_give_the_bits_of_samples_one_at_a_time(small_volume, tmp_path):
    # with 2 workers each sample's compiled kernels get half the threads: the solver,
    # the surface meshes and the pore sizes must not change a bit with the thread count
    names = ["tortuosity_factor", "specific_surface_area", "pore_size_distribution"]
    runs = []
    for workers in (1, 2):
        cfg = _cfg(small_volume, tmp_path / str(workers), n_samples=4)
        cfg = cfg.replace(quantities=cfg.quantities.__class__(names=names),
                          engine=cfg.engine.__class__(workers=workers))
        runs.append(run(cfg))
    _same(*runs)
    assert np.isfinite(runs[0].tortuosity_factor.sel(phase="pore").values).all()


def test_threads_per_task_share_the_cores():
    import numba

    from uqtwin.engine.local import threads_per_task, with_compiled_threads

    total = numba.config.NUMBA_NUM_THREADS
    assert threads_per_task(1) == total
    assert threads_per_task(total) == 1
    assert threads_per_task(4 * total) == 1  # never zero
    before = numba.get_num_threads()
    seen = with_compiled_threads(1, numba.get_num_threads)
    assert seen == 1
    assert numba.get_num_threads() == before  # restored for the next task


def test_samples_run_one_after_another_where_kernels_cannot_run_concurrently(monkeypatch):
    import numba

    from uqtwin.engine.local import local_workers

    assert local_workers(1) == 1
    monkeypatch.setattr(numba, "threading_layer", lambda: "omp")
    assert local_workers(None) is None and local_workers(3) == 3
    monkeypatch.setattr(numba, "threading_layer", lambda: "workqueue")
    assert local_workers(None) == 1 and local_workers(3) == 1


def test_compute_local_reports_each_finished_task():
    import dask

    from uqtwin.engine.local import compute_local, with_compiled_threads

    tasks = [dask.delayed(with_compiled_threads, pure=False)(1, pow, i, 2,
                                                             dask_key_name=f"t-{i}")
             for i in range(5)]
    done = {}
    results = compute_local(tasks, 2, lambda key, result: done.__setitem__(key, result))
    assert results == (0, 1, 4, 9, 16)
    assert done == {f"t-{i}": i * i for i in range(5)}


def test_interrupted_run_resumes_to_identical_results(small_volume, tmp_path):
    reference = run(_cfg(small_volume, tmp_path / "ref"))
    cfg = _cfg(small_volume, tmp_path / "cut")

    def stop_after_three(done, total):
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(cfg.replace(engine=cfg.engine.__class__(workers=1)), progress=stop_after_three)
    store = SampleStore.for_output(cfg.output.path)
    assert len(store.finished()) == 3  # the finished samples survived the interruption
    with pytest.raises(UqtwinInputError, match="--resume"):
        run(cfg)
    resumed = run(cfg, resume=True)
    _same(resumed, reference)
    assert open_results(cfg.output.path).attrs["created"] == store.manifest()["created"]


def test_resume_refuses_a_different_run(small_volume, tmp_path):
    cfg = _cfg(small_volume, tmp_path)
    run(cfg)
    with pytest.raises(UqtwinInputError, match="different run"):
        run(_cfg(small_volume, tmp_path, seed=99), resume=True)


def test_resume_extends_the_ensemble(small_volume, tmp_path):
    cfg = _cfg(small_volume, tmp_path / "grow")
    run(cfg.replace(sampler=cfg.sampler.__class__(n_samples=3, seed=3, kind="correlated")))
    grown = run(cfg, resume=True)
    direct = run(_cfg(small_volume, tmp_path / "direct"))
    _same(grown, direct)


def test_labels_with_no_phase_named_for_them(tmp_path):
    grey = np.zeros((8, 8, 8), np.uint8)
    grey[:4] = 200
    path = tmp_path / "g.tif"
    tifffile.imwrite(path, grey)
    cfg = config_from_dict({"input": {"path": str(path), "spacing": [1, 1, 1]},
                            "denoise": {"enabled": False},
                            "phases": {"names": ["pore", "binder", "active"]},
                            "sampler": {"n_samples": 2},
                            "quantities": {"names": ["volume_fraction"]},
                            "output": {"path": str(tmp_path / "r.nc")}})
    with pytest.raises(UqtwinInputError):
        run(cfg)


def test_distributed_cluster_gives_the_same_numbers(small_volume, tmp_path):
    distributed = pytest.importorskip("distributed")
    local = run(_cfg(small_volume, tmp_path / "local"))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        remote = run(_cfg(small_volume, tmp_path / "dist"), scheduler=cluster.scheduler_address)
    _same(local, remote)


def test_draw_sample_cleans_up_specks_below_the_minimum_feature_size():
    """``[segment] min_feature_size`` opens and closes every sample; islands go too."""
    from uqtwin.engine.config import SegmentConfig
    from uqtwin.engine.pipeline import draw_sample

    labels = np.zeros((20, 20, 20), np.uint8)
    labels[:, :, 10:] = 2
    labels[5, 5, 5] = 1  # one-voxel speck of binder in the pore
    labels[12, 12, 3] = 2  # one-voxel speck of active in the pore

    class Fixed:
        def sample(self, seed):
            return labels.copy()

    phases = ("pore", "binder", "active")
    kept = draw_sample(Fixed(), 0, SegmentConfig(), phases)
    assert np.array_equal(kept, labels)
    cleaned = draw_sample(Fixed(), 0, SegmentConfig(min_feature_size=3), phases)
    assert cleaned[5, 5, 5] == 0 and cleaned[12, 12, 3] == 0
    assert np.array_equal(cleaned[:, :, 10:], labels[:, :, 10:])  # the slab is a feature
    merged = draw_sample(Fixed(), 0, SegmentConfig(min_island_voxels=2), phases)
    assert merged[5, 5, 5] == 0 and merged[12, 12, 3] == 0


@pytest.mark.slow
def test_a_sample_drawn_and_meshed_chunk_by_chunk_gives_the_in_memory_numbers(tmp_path,
                                                                              monkeypatch):
    """Large volumes are drawn and meshed chunk by chunk (above 2**25 voxels); forced here
    on a 64 x 64 x 48 crop: the same member and surface areas (within rounding)."""
    from uqtwin.engine.evaluate import RunInputs, evaluate_sample
    from uqtwin.engine.stages import prepare
    from uqtwin.morphology import boundaries
    from uqtwin.sample import ambiguity
    from uqtwin.timing import StageClock

    vol = read_volume(DEMO_VOLUME).isel(x=slice(0, 48))
    path = tmp_path / "crop.tif"
    write_volume(vol.copy(data=vol.values), path)
    cfg = config_from_dict({
        "input": {"path": str(path)},
        "denoise": {"enabled": False},
        "sampler": {"n_samples": 1, "seed": 5},
        "quantities": {"names": ["volume_fraction", "specific_surface_area"]},
        "output": {"path": str(tmp_path / "results.nc")},
    })
    prepared = prepare(cfg, clock=StageClock())
    inputs = RunInputs.of(prepared, cfg)
    whole = evaluate_sample(0, 7, prepared.sampler, {}, inputs)[1]
    monkeypatch.setattr(ambiguity, "CHUNKED_DRAW_VOXELS", 0)
    monkeypatch.setattr(ambiguity, "DRAW_CHUNK", 32)
    monkeypatch.setattr(boundaries, "CHUNKED_AREA_VOXELS", 0)
    monkeypatch.setattr(boundaries, "AREA_CHUNK", 32)
    chunked = evaluate_sample(0, 7, prepared.sampler, {}, inputs)[1]
    np.testing.assert_array_equal(chunked.volume_fraction, whole.volume_fraction)
    np.testing.assert_allclose(chunked.specific_surface_area, whole.specific_surface_area,
                               rtol=1e-9)
    assert (whole.specific_surface_area > 0).all()

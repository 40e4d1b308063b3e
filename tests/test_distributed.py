"""Ensembles on a dask.distributed cluster of worker processes: the numbers of the local
scheduler, and no finished sample lost when workers die or the run is interrupted."""

import os
import signal

import pytest
import xarray as xr

from uqtwin.data import DEMO_VOLUME
from uqtwin.engine.config import config_from_dict
from uqtwin.engine.pipeline import run
from uqtwin.engine.store import SampleStore
from uqtwin.io import read_volume, write_volume

distributed = pytest.importorskip("distributed")

# worker processes take ~2 s to start (and again after a kill)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def volume(tmp_path_factory):
    """A 16³ crop of the shipped demo tomogram, anisotropic spacing, as a TIFF."""
    vol = read_volume(DEMO_VOLUME)
    crop = vol.isel(z=slice(0, 16), y=slice(0, 16), x=slice(0, 16))
    path = tmp_path_factory.mktemp("vol") / "small.tif"
    write_volume(crop.copy(data=crop.values).assign_attrs(spacing=(0.78, 0.39, 0.39)), path)
    return path


def _cfg(volume, out):
    return config_from_dict({
        "input": {"path": str(volume)},
        "denoise": {"enabled": False},
        "sampler": {"n_samples": 6, "seed": 3, "kind": "correlated"},
        "quantities": {"names": ["volume_fraction"]},
        "output": {"path": str(out / "results.nc")},
    })


@pytest.fixture(scope="module")
def local(volume, tmp_path_factory):
    """The ensemble on dask's threaded scheduler, the reference of every cluster run."""
    return run(_cfg(volume, tmp_path_factory.mktemp("local")))


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        yield cluster


@pytest.fixture
def client(cluster):
    """A client beside the run's own, to see and kill the worker processes."""
    with distributed.Client(cluster) as client:
        client.wait_for_workers(2, timeout=60)  # a killed worker's nanny restarts it
        yield client


def _same(a: xr.Dataset, b: xr.Dataset) -> None:
    # identical but for when the run was made and the scheduler it names
    def plain(ds):
        attrs = {k: v for k, v in ds.attrs.items() if k not in ("created", "config")}
        return ds.drop_attrs(deep=False).assign_attrs(attrs)

    xr.testing.assert_identical(plain(a), plain(b))


def test_worker_processes_give_the_numbers_of_the_local_scheduler(volume, local, cluster,
                                                                  tmp_path):
    remote = run(_cfg(volume, tmp_path), scheduler=cluster.scheduler_address)
    _same(local, remote)


def test_workers_killed_mid_run_lose_no_finished_sample(volume, local, cluster, client,
                                                        tmp_path):
    # Every worker is killed after the second finished sample: the samples they were
    # running and the fitted model scattered to them are lost; the run sends the model
    # again and finishes on the restarted workers.
    pids = set(client.run(os.getpid).values())
    cfg = _cfg(volume, tmp_path)
    store = SampleStore.for_output(cfg.output.path)
    saved_before_the_kill = []

    def kill_after_two(done, total):
        if done == 2:
            saved_before_the_kill.extend(store.finished())
            for pid in pids:
                os.kill(pid, signal.SIGKILL)

    remote = run(cfg, scheduler=cluster.scheduler_address, progress=kill_after_two)
    assert len(saved_before_the_kill) == 2
    client.wait_for_workers(2, timeout=60)
    assert pids.isdisjoint(client.run(os.getpid).values())  # they really died
    assert store.finished() == list(range(6))
    _same(local, remote)


def test_interrupted_cluster_run_resumes_to_identical_results(volume, local, cluster, tmp_path):
    cfg = _cfg(volume, tmp_path)

    def stop_after_two(done, total):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(cfg, scheduler=cluster.scheduler_address, progress=stop_after_two)
    assert len(SampleStore.for_output(cfg.output.path).finished()) == 2
    resumed = run(cfg, scheduler=cluster.scheduler_address, resume=True)
    _same(local, resumed)

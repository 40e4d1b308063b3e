"""Figures of a results Dataset (uqtwin.plot), on small hand-made results."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from matplotlib.figure import Figure

from uqtwin import plot
from uqtwin.engine.pipeline import draw_sample, sample_seed
from uqtwin.errors import UqtwinInputError

PHASES = ["pore", "binder", "active"]


def make_results(tmp_path: Path, n: int = 12, shape=(8, 10, 12), store: bool = True
                 ) -> xr.Dataset:
    """A small results Dataset with every kind of variable the plots handle.

    With ``store`` a sample store (the fitted model, prepared.pkl) is written at the output
    path recorded in the config, so samples can be redrawn.
    """
    from uqtwin.data import demo_config

    rng = np.random.default_rng(0)
    cfg = demo_config(tmp_path, n_samples=n).to_dict()
    cfg["input"]["path"] = str(tmp_path / "gone.tif")  # the grey input no longer exists
    out = Path(cfg["output"]["path"])
    post = rng.dirichlet(np.ones(3), size=shape).transpose(3, 0, 1, 2).astype(np.float32)
    if store:
        from uqtwin.engine.pipeline import Prepared
        from uqtwin.engine.store import SampleStore
        from uqtwin.sample.model import PosteriorSampler

        st = SampleStore(out.with_name(out.name + ".samples"))
        st.create({"input_sha256": "abc"})
        st.save_pickle("prepared", Prepared(PosteriorSampler(post), (1.0, 1.0, 1.0), "um",
                                            tuple(PHASES), {}, "abc"))
    vf = rng.dirichlet([4, 2, 5], size=n)
    tau = 1.5 + rng.gamma(4, 0.3, size=(n, 3, 3))
    tau[0, 1, 2] = np.inf  # one non-percolating sample
    diff = rng.normal(0, 0.01, size=(n, 3, 3, 3)) + np.eye(3) * rng.uniform(0.1, 0.3, (n, 3, 1, 1))
    centres = np.linspace(0.5, 5.0, 10)
    psd = np.exp(-((centres - 2.5) ** 2)) * rng.uniform(0.8, 1.2, size=(n, 1))
    ds = xr.Dataset(
        {
            "volume_fraction": (("sample", "phase"), vf, {"units": "1",
                                                          "long_name": "volume fraction"}),
            "specific_surface_area": (("sample", "phase"), rng.uniform(0.2, 0.6, (n, 3)),
                                      {"units": "1/um", "long_name": "specific surface area"}),
            "tortuosity_factor": (("sample", "phase", "axis"), tau,
                                  {"units": "1", "long_name": "tortuosity factor"}),
            "percolates": (("sample", "phase", "axis"), np.isfinite(tau), {"units": "1"}),
            "diffusion_flux_mismatch": (("sample", "phase", "axis"),
                                        np.full((n, 3, 3), 1e-6), {"units": "1"}),
            "effective_diffusivity": (("sample", "phase", "axis", "axis2"), diff,
                                      {"units": "1", "long_name": "D_eff / D_bulk"}),
            "particle_size_distribution": (("sample", "particle_bin"), psd,
                                           {"units": "1", "long_name": "volume density"}),
            "pore_size_distribution": (("sample", "bin"), psd[:, ::-1],
                                       {"units": "1", "long_name": "pore volume density"}),
            "sample_seed": (("sample",), np.array([sample_seed(7, i) for i in range(n)])),
            "most_probable_phase": (("z", "y", "x"), np.argmax(post, 0).astype(np.uint8)),
            "posterior_entropy": (("z", "y", "x"),
                                  -(post * np.log(post)).sum(0).astype(np.float32)),
        },
        coords={"sample": np.arange(n), "phase": PHASES, "axis": list("zyx"),
                "axis2": list("zyx"),
                "particle_bin": ("particle_bin", centres, {"units": "um"}),
                "particle_bin_lower": ("particle_bin", centres - 0.25),
                "bin": centres},
        attrs={"config": json.dumps(cfg), "phases": json.dumps(PHASES), "hdi_prob": 0.9,
               "length_unit": "um", "spacing": np.array([0.5, 0.5, 0.5]),
               "input_sha256": "abc", "seed": 7, "sampler": "independent",
               "created": "2026-01-01T00:00:00+00:00", "uqtwin_version": "test",
               "schema_version": 1},
    )
    return ds


@pytest.fixture
def results(tmp_path) -> xr.Dataset:
    return make_results(tmp_path)


def _panel_titles(fig: Figure) -> list[str]:
    return [ax.get_title() for ax in fig.axes if ax.get_title()]


def test_hdi_matches_arviz():
    from uqtwin.results.conventions import arviz

    x = np.random.default_rng(1).gamma(2.0, size=200)
    lo, hi = plot.hdi(x, 0.9)
    ref = arviz().hdi(x, hdi_prob=0.9)
    assert (lo, hi) == pytest.approx(tuple(ref))
    assert plot.hdi(np.array([1.0, np.inf, 2.0, 3.0]), 0.9) == (1.0, 3.0)
    assert all(np.isnan(plot.hdi(np.array([np.inf]), 0.9)))


def test_variable_selection(results):
    assert plot.scalar_variables(results) == ["volume_fraction", "specific_surface_area",
                                              "tortuosity_factor"]
    assert plot.tensor_variables(results) == ["effective_diffusivity"]
    assert plot.distribution_variables(results) == ["particle_size_distribution",
                                                    "pore_size_distribution"]


def test_slices_without_grey_input(results):
    fig = plot.plot_slices(results)  # the input path no longer exists: two rows
    titles = _panel_titles(fig)
    assert sum("most probable phase" in t for t in titles) == 3
    assert sum("posterior entropy" in t for t in titles) == 3
    assert not any("grey" in t for t in titles)
    grey = np.arange(8 * 10 * 12, dtype=float).reshape(8, 10, 12)
    fig = plot.plot_slices(results, volume=grey)
    assert sum("grey value" in t for t in _panel_titles(fig)) == 3
    # the z mid-plane of the grey row is grey[4]
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), grey[4])


def test_posterior_predictive_panels_and_hdi(results):
    fig = plot.plot_posterior_predictive(results)
    titles = _panel_titles(fig)
    assert len(titles) == 9  # 3 variables × 3 phases
    assert "tortuosity_factor — binder" in titles
    ax = fig.axes[titles.index("volume_fraction — pore")]
    lo, hi = plot.hdi(results["volume_fraction"].sel(phase="pore").values, 0.9)
    bars = [line.get_xdata() for line in ax.lines if len(line.get_xdata()) == 2]
    assert any(np.allclose(b, [lo, hi]) for b in bars)
    # the infinite sample is counted in the legend of its panel
    ax = fig.axes[titles.index("tortuosity_factor — binder")]
    assert any("1 ∞" in t.get_text() for t in ax.get_legend().get_texts())


def test_size_distribution_band(results):
    fig = plot.plot_size_distributions(results)
    assert _panel_titles(fig) == ["particle_size_distribution", "pore_size_distribution"]
    # the bin centres (the dim's own coordinate), not the lower edges
    assert fig.axes[0].get_xlabel() == "particle_bin centre [um]"
    assert fig.axes[1].get_xlabel() == "bin centre"
    median = np.median(results["particle_size_distribution"].values, axis=0)
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), median)


def test_tensor_principal_values(results):
    eig = plot.principal_values(results["effective_diffusivity"])
    assert eig.dims == ("sample", "phase", "principal")
    t = results["effective_diffusivity"].values[3, 1]
    np.testing.assert_allclose(eig.values[3, 1], np.linalg.eigvalsh(0.5 * (t + t.T)))
    assert _panel_titles(plot.plot_tensors(results)) == ["effective_diffusivity"]


def test_running_summary_and_drift():
    v = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    run = plot.running_summary(v, 0.9)
    assert run["n"][0] == 2 and run["n"][-1] == 8
    assert run["mean"][-1] == pytest.approx(4.5)
    # a still-widening range drifts; a repeated constant block does not
    assert plot.interval_drift(v) > 0.1
    assert plot.interval_drift(np.tile([1.0, 2.0], 20)) == 0.0


def test_convergence_figure(results):
    fig = plot.plot_convergence(results)
    assert len(_panel_titles(fig)) == 9
    assert fig.axes[0].get_xlabel() == "number of samples"


def test_redraw_samples_reproduces_draw_sample(results, tmp_path):
    from uqtwin.engine.config import SegmentConfig
    from uqtwin.engine.store import SampleStore

    labels = plot.redraw_samples(results, [0, 2])
    prepared = SampleStore(tmp_path / "results.nc.samples").load_pickle("prepared")
    expected = draw_sample(prepared.sampler, int(results["sample_seed"][2]), SegmentConfig(),
                           PHASES)
    np.testing.assert_array_equal(labels[1], expected)
    assert labels[0].shape == (8, 10, 12)
    fig = plot.plot_sample_gallery(labels, PHASES, titles=["a", "b"])
    assert _panel_titles(fig) == ["a", "b"]


def test_engine_redraw_from_store(results, tmp_path):
    from uqtwin.engine.redraw import redraw_samples

    seeds = [int(results["sample_seed"][1])]
    store = tmp_path / "results.nc.samples"
    np.testing.assert_array_equal(redraw_samples(store, seeds)[0],
                                  plot.redraw_samples(results, [1])[0])
    with pytest.raises(UqtwinInputError, match="another input"):
        redraw_samples(store, seeds, input_sha256="other")


def test_redraw_samples_missing_store(tmp_path):
    ds = make_results(tmp_path, store=False)
    with pytest.raises(UqtwinInputError, match="no fitted model"):
        plot.redraw_samples(ds, [0])


def test_empty_results_give_message_figures():
    ds = xr.Dataset(attrs={"phases": json.dumps(PHASES)})
    for f in (plot.plot_slices, plot.plot_posterior_predictive, plot.plot_tensors,
              plot.plot_size_distributions, plot.plot_convergence):
        fig = f(ds)
        assert isinstance(fig, Figure) and fig.texts

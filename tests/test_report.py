"""The HTML report: self-contained, every section present, warnings that say the truth."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_plot import make_results
from typer.testing import CliRunner

from uqtwin.cli import app
from uqtwin.report import MIN_SAMPLES, find_warnings, render_report, write_report
from uqtwin.results.dataset import write_results

SECTIONS = ["About this report", "Warnings", "Input and provenance", "Pipeline settings",
            "Segmentation and its uncertainty", "Sampled microstructures",
            "Summary of the quantities", "Where the uncertainty comes from",
            "Distributions of the quantities",
            "Size distributions", "Tensors", "Convergence with the number of samples"]


@pytest.fixture(scope="module")
def report_file(tmp_path_factory) -> tuple[Path, str]:
    """A results file (with its sample store) and its report, rendered once."""
    tmp = tmp_path_factory.mktemp("report")
    ds = make_results(tmp)
    results = write_results(ds, tmp / "results.nc")
    out = write_report(results, tmp / "out" / "report.html")
    return out, out.read_text(encoding="utf-8")


def test_report_has_every_section(report_file):
    _, text = report_file
    headings = re.findall(r"<h2 id=\"\w+\">\d+\. ([^<]+)</h2>", text)
    assert headings == SECTIONS


def test_report_is_self_contained(report_file):
    path, text = report_file
    assert "<script" not in text.lower()
    assert not re.search(r"(src|href)=\"(https?:|//|file:)", text)
    assert "<link" not in text
    images = re.findall(r'<img src="([^"]+)"', text)
    assert len(images) == 6  # slices, gallery, distributions, sizes, tensors, convergence
    assert all(src.startswith("data:image/png;base64,") for src in images)
    # the gallery was redrawn from the store beside the file, not replaced by a note
    assert "cannot be shown" not in text
    assert path.parent.is_dir()


def test_report_provenance_and_table(report_file):
    _, text = report_file
    assert "abc" in text and "0.5 × 0.5 × 0.5 um" in text
    assert "tortuosity_factor[binder, x]" in text
    assert "highest-density interval" in text and "Posterior entropy" in text


def test_warnings(tmp_path):
    ds = make_results(tmp_path, store=False)
    titles = [w.title for w in find_warnings(ds)]
    assert "Non-percolating samples" in titles  # tau[0, binder, x] is inf
    assert "Few samples" in titles  # 12 < MIN_SAMPLES
    assert not any("converged" in t for t in titles)
    ds["diffusion_flux_mismatch"][3, 0, 0] = 0.05
    ds["effective_conductivity"] = (("sample",), np.full(ds.sizes["sample"], np.nan),
                                    {"units": "S/m"})
    warns = {w.title: w.detail for w in find_warnings(ds)}
    assert "1 of 108 solves" in warns["diffusion_flux_mismatch: solves not fully converged"]
    assert "effective_conductivity: not computed" in warns


def test_no_few_samples_warning_for_large_stable_ensemble(tmp_path):
    ds = make_results(tmp_path, n=MIN_SAMPLES + 20, store=False)
    titles = [w.title for w in find_warnings(ds)]
    assert "Few samples" not in titles


@pytest.mark.slow
def test_in_memory_results_without_store(tmp_path):
    ds = make_results(tmp_path, store=False)
    text = render_report(ds)
    assert "cannot be shown" in text  # explained, not an exception
    assert text.count("<img ") == 5


@pytest.mark.slow
def test_cli_report(tmp_path):
    ds = make_results(tmp_path, store=False)
    results = write_results(ds, tmp_path / "results.nc")
    res = CliRunner().invoke(app, ["report", str(results), "--out", str(tmp_path / "r.html")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "r.html").stat().st_size > 10_000
    res = CliRunner().invoke(app, ["report", str(tmp_path / "missing.nc")])
    assert res.exit_code == 2 and "no such results file" in res.output


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="no /usr/bin/chromium")
def test_report_renders_in_chromium(report_file, tmp_path):
    from PIL import Image

    path, _ = report_file
    shot = tmp_path / "shot.png"
    cmd = ["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
           "--window-size=1200,3000", path.resolve().as_uri()]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    img = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert img.shape == (3000, 1200)
    assert img.std() > 10  # text, tables and figures, not a blank page
    assert (img < 128).mean() > 0.01  # a fair amount of dark ink
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)

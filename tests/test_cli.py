"""The command line as a user meets it: clear one-line errors, no tracebacks, JSON output."""

import json

import numpy as np
import pytest
import tifffile
from typer.testing import CliRunner

from uqtwin.cli import app
from uqtwin.data import DEMO_TRUTH

runner = CliRunner()


def _invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_measure_json_on_shipped_truth():
    res = _invoke("measure", DEMO_TRUTH, "--phase", 0, "--spacing", 0.39, 0.39, 0.39, "--json",
                  "-q", "volume_fraction")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    truth = tifffile.imread(DEMO_TRUTH)
    assert out["volume_fraction"]["value"] == pytest.approx(np.mean(truth == 0), abs=1e-12)
    assert out["volume_fraction"]["units"] == "1"
    assert out["volume_fraction"]["dims"] == []


@pytest.mark.slow
def test_measure_json_on_tf_electrode(shared_data):
    res = _invoke("measure", shared_data / "tf_electrode.tiff", "--phase", 0,
                  "--spacing", 0.39, 0.39, 0.39, "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["volume_fraction"]["value"] == pytest.approx(0.44992, abs=5e-6)
    assert out["specific_surface_area"]["units"] == "1/um"
    assert out["specific_surface_area"]["value"] > 0
    tau = out["tortuosity_factor"]
    assert tau["dims"] == ["axis"] and tau["units"] == "1"
    np.testing.assert_allclose(tau["value"], [2.0772, 2.0764, 2.2098], rtol=3e-3)
    assert out["particle_diameter"]["dims"] == ["particle"]


def test_tf_electrode_volume_fractions(shared_data):
    from uqtwin import read_volume
    from uqtwin.engine.measure import measure_phase

    vol = read_volume(shared_data / "tf_electrode.tiff", spacing=(0.39, 0.39, 0.39), unit="um")
    got = [float(measure_phase(vol, label, ["volume_fraction"]).quantities.volume_fraction)
           for label in (0, 85, 170)]
    np.testing.assert_allclose(got, [0.44992, 0.40047, 0.14962], atol=5e-6)


@pytest.fixture()
def bad_files(tmp_path):
    files = {}
    nan = np.zeros((4, 4, 4), np.float32)
    nan[1, 2, 3] = np.nan
    files["nan"] = tmp_path / "nan.npy"
    np.save(files["nan"], nan)
    files["flat"] = tmp_path / "flat.tif"
    tifffile.imwrite(files["flat"], np.zeros((5, 5), np.uint8))
    good = tmp_path / "good.tif"
    tifffile.imwrite(good, np.zeros((6, 6, 6), np.uint8))
    files["truncated"] = tmp_path / "truncated.tif"
    files["truncated"].write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    files["raw"] = tmp_path / "short.raw"
    files["raw"].write_bytes(b"\0" * 100)
    files["good"] = good
    return files


@pytest.mark.parametrize(
    ("case", "extra", "needle"),
    [
        ("nan", [], "NaN"),
        ("flat", [], "2-D"),
        ("truncated", [], "truncated"),
        ("missing", [], "no such file"),
        ("good", ["--spacing", 1, 0, 1], "spacing"),
        ("good", [], "absent"),
    ],
)
def test_measure_bad_input_is_one_clear_line(bad_files, tmp_path, case, extra, needle):
    path = bad_files.get(case, tmp_path / "missing.tif")
    phase = 3 if case == "good" and not extra else 0
    res = _invoke("measure", path, "--phase", phase, *extra)
    assert res.exit_code == 2, res.output
    assert needle.lower() in res.output.lower()
    assert "Traceback" not in res.output


def test_run_with_bad_config_and_truncated_raw(bad_files, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[input]\npath = "{bad_files["raw"]}"\nformat = "raw"\nshape = [10, 10, 10]\n'
                   'dtype = "uint8"\n[output]\npath = "r.nc"\n')
    res = _invoke("run", cfg)
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "bytes" in res.output
    cfg.write_text('[input]\npath = "x.tif"\ncolour = 1\n')
    res = _invoke("run", cfg)
    assert res.exit_code == 2 and "'colour'" in res.output
    assert "[input]" in res.output  # table names survive the console's markup


@pytest.mark.slow
def test_demo_validate_summarize(tmp_path):
    out = tmp_path / "demo"
    res = _invoke("demo", "--out", out, "--samples", 3)
    assert res.exit_code == 0, res.output
    for name in ("results.nc", "results.summary.csv", "results.summary.md"):
        assert (out / name).is_file()
    assert "volume_fraction[pore]" in res.output
    assert "[sampler]" in res.output  # the sampler's stated assumption, markup escaped
    res = _invoke("validate", out / "results.nc")
    assert res.exit_code == 0 and "valid" in res.output
    res = _invoke("summarize", out / "results.nc", "--hdi-prob", 0.5)
    assert res.exit_code == 0 and "50% HDI" in res.output
    md = (out / "results.summary.md").read_text()
    assert md.startswith("| quantity |") and "volume_fraction[active]" in md
    res = _invoke("validate", tmp_path / "nothing.nc")
    assert res.exit_code == 2 and "no such results file" in res.output

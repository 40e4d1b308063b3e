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
    # The quantities asserted below only: all of them on 256³ take a minute.
    res = _invoke("measure", shared_data / "tf_electrode.tiff", "--phase", 0,
                  "--spacing", 0.39, 0.39, 0.39, "--json", "-q", "volume_fraction",
                  "-q", "specific_surface_area", "-q", "tortuosity_factor")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["volume_fraction"]["value"] == pytest.approx(0.44992, abs=5e-6)
    assert out["specific_surface_area"]["units"] == "1/um"
    assert out["specific_surface_area"]["value"] > 0
    tau = out["tortuosity_factor"]
    assert tau["dims"] == ["axis"] and tau["units"] == "1"
    np.testing.assert_allclose(tau["value"], [2.0772, 2.0764, 2.2098], rtol=3e-3)


def test_measure_lists_the_particles_of_the_phase():
    res = _invoke("measure", DEMO_TRUTH, "--phase", 2, "--json",
                  "-q", "particle_size_distribution")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    d = out["particle_diameter"]
    assert d["dims"] == ["particle"] and d["units"] == "um"
    # Border particles are left out of the list, so it counts at most the particles the
    # shared watershed finds; the spacing comes from the file (0.39 µm voxels).
    from uqtwin.morphology import particle_labels

    n_all = int(particle_labels(tifffile.imread(DEMO_TRUTH) == 2, (0.39,) * 3).max())
    assert 0 < len(d["value"]) <= n_all
    assert all(0.0 < v < 64 * 0.39 for v in d["value"])
    assert out["particle_count"]["value"] == len(d["value"])


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

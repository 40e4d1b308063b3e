"""The notebooks in notebooks/ run from top to bottom (small settings, < 60 s each)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")


def _execute(name: str, tmp_path: Path) -> object:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    return nb


def _outputs(nb) -> str:
    text = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                text.append(out["text"])
            elif "data" in out:
                text.append(out["data"].get("text/plain", ""))
                if "image/png" in out["data"]:
                    text.append("<png>")
    return "\n".join(text)


@pytest.mark.slow
def test_quickstart_runs(tmp_path):
    nb = _execute("quickstart.ipynb", tmp_path)
    out = _outputs(nb)
    assert "volume_fraction[pore]" in out
    assert out.count("<png>") >= 4  # slices, gallery, distributions, convergence
    assert "report.html" in out


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("pybamm") is None, reason="pybamm not installed")
def test_pybamm_ensemble_runs(tmp_path, monkeypatch):
    # The kernel inherits the environment: PyBaMM must not try to reach the internet.
    monkeypatch.setenv("PYBAMM_DISABLE_TELEMETRY", "true")
    nb = _execute("pybamm_ensemble.ipynb", tmp_path)
    out = _outputs(nb)
    assert "Positive electrode Bruggeman coefficient (electrolyte)" in out
    assert "A.h" in out and "<png>" in out

"""The public surface of uqtwin.solvers: tortuosity_factor's known answers, doctests, names."""

from __future__ import annotations

import ast
import doctest
import importlib
import pkgutil
import warnings
from pathlib import Path

import numpy as np
import pytest

import uqtwin.solvers
from uqtwin.solvers import NonPercolatingWarning, SolverOptions, effective_tensor, tortuosity_factor

TIGHT = SolverOptions(flux_tol=1e-9, change_tol=1e-9, max_iter=2000, dtype="float64")
ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(m.name for m in pkgutil.iter_modules(uqtwin.solvers.__path__,
                                                      "uqtwin.solvers."))


@pytest.mark.parametrize("module", ["uqtwin.solvers", *MODULES])
def test_examples_run_as_doctests(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


@pytest.mark.parametrize("axis", [0, 1, 2, "z", "y", "x"])
def test_straight_channels_have_tortuosity_one(axis):
    a = axis if isinstance(axis, int) else "zyx".index(axis)
    mask = np.zeros((6, 7, 5), dtype=bool)
    sl = [slice(2, 4)] * 3
    sl[a] = slice(None)
    mask[tuple(sl)] = True
    assert tortuosity_factor(mask, axis) == pytest.approx(1.0, rel=1e-6)


def _serpentine() -> np.ndarray:
    """A one-voxel path in a (z, y) plane: 3 cells along z, 3 along y, 3 along z.

    Its cells touch only their neighbours along the path, so the finite-volume solve is
    exactly a chain of resistors in series (the layers of the path).
    """
    mask = np.zeros((6, 4, 1), dtype=bool)
    mask[0:3, 0, 0] = True
    mask[2, 1:4, 0] = True
    mask[3:6, 3, 0] = True
    return mask


def _serpentine_tau(hz: float, hy: float, hx: float) -> float:
    # series resistance at unit diffusivity: the half cells at both fixed-value faces
    # and 5 z-faces (6 z-lengths in all) plus 3 y-faces; D_eff = L / (A R)
    area_z, area_y = hy * hx, hz * hx
    resistance = 6 * hz / area_z + 3 * hy / area_y
    d_eff = (6 * hz) / (4 * hy * 1 * hx * resistance)
    return (9 / 24) / d_eff


def test_series_layers_give_the_analytic_value():
    tau = tortuosity_factor(_serpentine(), 0, options=TIGHT)
    assert tau == pytest.approx(_serpentine_tau(1.0, 1.0, 1.0), rel=1e-8)
    assert tau == pytest.approx(2.25, rel=1e-8)  # ε = 9/24, R = 9, D_eff = 6 / (4 R)


@pytest.mark.parametrize("spacing", [(2.0, 0.5, 1.0), (0.7, 1.3, 3.0)])
def test_anisotropic_spacing_is_honoured(spacing):
    tau = tortuosity_factor(_serpentine(), "z", spacing, options=TIGHT)
    assert tau == pytest.approx(_serpentine_tau(*spacing), rel=1e-8)
    # a straight channel has τ = 1 whatever the voxel shape
    mask = np.zeros((6, 6, 6), dtype=bool)
    mask[:, 2:4, 2:4] = True
    assert tortuosity_factor(mask, 0, spacing) == pytest.approx(1.0, rel=1e-6)


def test_non_percolating_phase_gives_inf_and_a_warning():
    mask = np.ones((6, 5, 5), dtype=bool)
    mask[3] = False
    with pytest.warns(NonPercolatingWarning, match="does not percolate along z") as record:
        assert tortuosity_factor(mask, 0) == np.inf
    assert issubclass(record[0].category, UserWarning)
    with pytest.warns(NonPercolatingWarning, match="empty"):
        assert tortuosity_factor(np.zeros((4, 4, 4), bool), "x") == np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isfinite(tortuosity_factor(mask, 1))  # percolates sideways


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="axis"):
        tortuosity_factor(np.ones((3, 3, 3), bool), 3)
    with pytest.raises(ValueError, match="axis"):
        tortuosity_factor(np.ones((3, 3, 3), bool), "w")
    with pytest.raises(ValueError, match="3-D"):
        tortuosity_factor(np.ones((3, 3), bool), 0)


def test_same_numbers_as_the_quantity_solve():
    # the quantity solves the three axes together (quantities/transport.py): τ = ε / D_aa
    from scipy import ndimage

    rng = np.random.default_rng(5)
    mask = ndimage.gaussian_filter(rng.random((18, 16, 20)), 1.5) > 0.5
    spacing = (1.0, 0.8, 1.2)
    sol = effective_tensor(mask.astype(np.float32), spacing, options=SolverOptions())
    eps = float(mask.mean())
    for s in sol.axes:
        assert s.percolates
        assert tortuosity_factor(mask, s.axis, spacing) == eps / s.effective[s.axis]


def _imports_of_solvers(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("uqtwin.solvers"):
            for alias in node.names:
                yield node.module, alias.name


def test_no_private_names_are_imported_from_the_solvers():
    files = [p for d in ("uqtwin", "tests", "benchmarks") for p in (ROOT / d).rglob("*.py")]
    for path in files:
        for module, name in _imports_of_solvers(path):
            assert not name.startswith("_"), f"{path}: imports {module}.{name}"
            mod = importlib.import_module(module)
            if not hasattr(mod, "__path__"):  # a submodule: only its public names
                assert name in mod.__all__, f"{path}: {module}.{name} is not in __all__"


def test_every_module_declares_its_public_names():
    for module in ["uqtwin.solvers", *MODULES]:
        mod = importlib.import_module(module)
        for name in mod.__all__:
            assert hasattr(mod, name), f"{module}.__all__ lists missing {name}"
    for name in ("SolverOptions", "effective_tensor", "solve_axis", "tortuosity_factor"):
        assert name in uqtwin.solvers.__all__

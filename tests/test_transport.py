"""Transport quantities: tortuosity factor, effective diffusivity, effective conductivity."""

from __future__ import annotations

import numpy as np
import pytest

from uqtwin.materials import available_materials, load_material, property_value
from uqtwin.microstructure import Microstructure
from uqtwin.morphology import particle_labels
from uqtwin.quantities import transport
from uqtwin.quantities.registry import QUANTITIES, compute_quantities


def _channels():
    labels = np.ones((12, 12, 12), dtype=np.uint8)  # 1 = solid
    labels[:, 2:6, 2:6] = 0  # pore channel along z
    return Microstructure(labels, (1.0, 1.0, 1.0), "um", ("pore", "solid"))


def test_registered():
    for name in ("tortuosity_factor", "effective_diffusivity", "effective_conductivity"):
        assert name in QUANTITIES


def test_tortuosity_of_a_channel_with_non_percolating_axes():
    ms = _channels()
    with pytest.warns(transport.NonPercolatingWarning) as record:
        out = transport.tortuosity_factor(ms, phases=["pore"])
    messages = " ".join(str(w.message) for w in record)
    assert "'pore' does not percolate along y" in messages and "along x" in messages
    tau = out["tortuosity_factor"]
    assert tau.dims == ("phase", "axis")
    assert list(tau.coords["axis"].values) == ["z", "y", "x"]
    assert tau.sel(phase="pore", axis="z") == pytest.approx(1.0, abs=1e-5)
    assert np.isinf(tau.sel(phase="pore", axis="y")) and np.isinf(tau.sel(phase="pore", axis="x"))
    assert out["percolates"].sel(phase="pore").values.tolist() == [True, False, False]
    assert out["diffusion_flux_mismatch"].sel(phase="pore", axis="z") <= 1e-5


def test_both_quantities_share_one_solve(monkeypatch):
    ms = _channels()
    calls = []
    real = transport.effective_tensor

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(transport, "effective_tensor", counting)
    with pytest.warns(transport.NonPercolatingWarning):
        ds = compute_quantities(ms, ["tortuosity_factor", "effective_diffusivity"],
                                phases=["pore"])
    assert len(calls) == 1
    d = ds["effective_diffusivity"].sel(phase="pore")
    assert d.dims == ("axis", "axis2")
    eps = float(ms.mask("pore").mean())
    assert float(d.sel(axis="z", axis2="z")) == pytest.approx(eps, rel=1e-5)
    assert ds["tortuosity_factor"].attrs["units"] == "1"


def test_effective_diffusivity_laminate_tensor():
    labels = np.zeros((10, 10, 10), dtype=np.uint8)
    labels[:, :, 5:] = 1  # pore fills half the x range: parallel along z and y
    ms = Microstructure(labels, (1.0, 1.0, 1.0), "um", ("pore", "solid"))
    with pytest.warns(transport.NonPercolatingWarning):
        out = transport.effective_diffusivity(ms, phases=["pore"])
    d = out["effective_diffusivity"].sel(phase="pore").values
    np.testing.assert_allclose(np.diag(d), [0.5, 0.5, 0.0], atol=1e-5)
    ev = out["diffusivity_eigenvalues"].sel(phase="pore").values
    np.testing.assert_allclose(ev, [0.0, 0.5, 0.5], atol=1e-5)


def test_material_cards_load():
    names = available_materials()
    for name in ("nmc111", "graphite", "carbon_binder", "electrolyte"):
        assert name in names
        card = load_material(name)
        assert "source" in card["electronic_conductivity"]
    assert property_value(load_material("electrolyte"), "electronic_conductivity") == 0.0


def test_effective_conductivity_series_layers_from_cards():
    labels = np.zeros((8, 6, 6), dtype=np.uint8)
    labels[4:] = 1
    cards = {"am": load_material("nmc111"), "cbd": load_material("carbon_binder")}
    ms = Microstructure(labels, (0.5, 0.5, 0.5), "um", ("am", "cbd"), materials=cards)
    out = transport.effective_conductivity(ms)
    s1 = property_value(cards["am"], "electronic_conductivity")
    s2 = property_value(cards["cbd"], "electronic_conductivity")
    sigma = out["effective_conductivity"].values
    assert sigma[0, 0] == pytest.approx(2.0 / (1.0 / s1 + 1.0 / s2), rel=1e-5)
    assert sigma[1, 1] == pytest.approx(0.5 * (s1 + s2), rel=1e-5)


def test_effective_conductivity_without_cards_is_nan():
    ms = _channels()
    with pytest.warns(RuntimeWarning, match="no phase has an electronic conductivity"):
        out = transport.effective_conductivity(ms)
    assert np.isnan(out["effective_conductivity"].values).all()


def test_contact_resistance_lowers_conductivity_between_two_spheres():
    z, y, x = np.mgrid[0:24, 0:12, 0:12]
    a = (z - 6.0) ** 2 + (y - 5.5) ** 2 + (x - 5.5) ** 2 <= 6.5**2
    b = (z - 17.0) ** 2 + (y - 5.5) ** 2 + (x - 5.5) ** 2 <= 6.5**2
    labels = np.where(a | b, 1, 0).astype(np.uint8)
    labels[:1] = 1  # current collectors: plates at both ends
    labels[-1:] = 1
    ms = Microstructure(labels, (1.0, 1.0, 1.0), "um", ("pore", "am"))
    parts = particle_labels(ms.mask("am"), ms.spacing)
    assert parts[6, 6, 6] != parts[17, 6, 6] and parts[6, 6, 6] > 0
    opts = {"conductivities": {"am": 1.0}, "particle_phase": "am"}
    free = transport.effective_conductivity(ms, **opts)
    resisted = transport.effective_conductivity(ms, contact_resistance=1e-5, **opts)
    s0 = float(free["effective_conductivity"].sel(axis="z", axis2="z"))
    s1 = float(resisted["effective_conductivity"].sel(axis="z", axis2="z"))
    assert 0 < s1 < 0.9 * s0


@pytest.mark.slow
def test_tf_electrode_pore_tortuosity_all_axes(tf_electrode):
    ms = Microstructure((tf_electrode // 85).astype(np.uint8), (0.39, 0.39, 0.39), "um",
                        ("pore", "nmc", "cbd"))
    tau = transport.tortuosity_factor(ms, phases=["pore"])["tortuosity_factor"]
    np.testing.assert_allclose(tau.sel(phase="pore").values, [2.0772, 2.0764, 2.2098],
                               rtol=2e-3)


def test_warm_start_from_the_reference_context():
    from uqtwin.quantities.registry import prepare_context

    rng = np.random.default_rng(0)
    ref = (rng.random((20, 20, 20)) < 0.6).astype(np.uint8)
    sample = ref.copy()
    flip = rng.random(ref.shape) < 0.02
    sample[flip] = 1 - sample[flip]
    phases = ("solid", "pore")
    opts = {"tortuosity_factor": {"warm_start": True}}
    context = prepare_context(Microstructure(ref, (1, 1, 1), "um", phases),
                              ["tortuosity_factor"], phases=["pore"], options=opts)
    assert set(context) == {transport.WARM_START_KEY}
    warm_starts = context[transport.WARM_START_KEY]
    assert isinstance(warm_starts, transport.WarmStarts)
    assert set(warm_starts.by_phase) == {"pore"}
    from uqtwin.solvers import WarmStart

    assert all(isinstance(w, WarmStart) and w.coarse_lu is not None
               for w in warm_starts.for_phase("pore"))
    warm = compute_quantities(Microstructure(sample, (1, 1, 1), "um", phases, context=context),
                              ["tortuosity_factor"], phases=["pore"], options=opts)
    cold = compute_quantities(Microstructure(sample, (1, 1, 1), "um", phases),
                              ["tortuosity_factor"], phases=["pore"])
    np.testing.assert_allclose(warm.tortuosity_factor, cold.tortuosity_factor, rtol=1e-4)


def _binder_islands():
    # carbon-binder islands in NMC (10⁴ contrast) with some pore: the conduction solve
    # deflates the islands (uqtwin.solvers.deflation)
    rng = np.random.default_rng(21)
    labels = np.full((24, 24, 24), 2, dtype=np.uint8)  # active
    for _ in range(150):
        z, y, x = rng.integers(1, 21, size=3)
        labels[z:z + rng.integers(1, 4), y:y + rng.integers(1, 4), x:x + rng.integers(1, 4)] = 1
    labels[rng.random(labels.shape) < 0.05] = 0
    return Microstructure(labels, (0.39, 0.39, 0.39), "um", ("pore", "binder", "active"))


def test_effective_conductivity_of_binder_islands_is_within_tol_of_the_converged_answer():
    ms = _binder_islands()
    sigma = {"binder": 100.0, "active": 0.01}
    out = transport.effective_conductivity(ms, conductivities=sigma)
    tight = transport.effective_conductivity(ms, conductivities=sigma, tol=1e-9, max_iter=3000)
    got = np.diag(out["effective_conductivity"].values)
    exact = np.diag(tight["effective_conductivity"].values)
    assert exact.min() > 0.01  # the islands raise it above the NMC's
    np.testing.assert_allclose(got, exact, rtol=1e-4)


def test_effective_conductivity_warns_when_a_solve_stops_short():
    ms = _binder_islands()
    with pytest.warns(RuntimeWarning) as record:
        transport.effective_conductivity(ms, conductivities={"binder": 100.0, "active": 0.01},
                                         max_iter=2)
    messages = [str(w.message) for w in record]
    for axis in "zyx":
        assert (f"conduction solve along {axis} did not reach tol=0.0001: iteration limit "
                "after 2 iterations") in " ".join(messages)


def test_the_two_diffusion_quantities_share_one_prepared_warm_start(monkeypatch):
    from uqtwin.quantities.registry import prepare_context

    calls = []
    real = transport.effective_tensor

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(transport, "effective_tensor", counting)
    rng = np.random.default_rng(1)
    ref = (rng.random((12, 12, 12)) < 0.7).astype(np.uint8)
    names = ["effective_diffusivity", "tortuosity_factor"]
    opts = {name: {"warm_start": True} for name in names}
    context = prepare_context(Microstructure(ref, (1, 1, 1), "um", ("solid", "pore")),
                              names, phases=["pore"], options=opts)
    assert len(calls) == 1  # one reference solve serves both quantities
    assert set(context) == {transport.WARM_START_KEY}
    # without warm starts the state is empty, and a later quantity may still fill it
    off = prepare_context(Microstructure(ref, (1, 1, 1), "um", ("solid", "pore")),
                          names, phases=["pore"],
                          options={"tortuosity_factor": {"warm_start": False},
                                   "effective_diffusivity": {"warm_start": True}})
    assert off[transport.WARM_START_KEY].for_phase("pore") is not None

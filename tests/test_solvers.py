"""Known answers of the finite-volume diffusion solver (uqtwin.solvers)."""

from __future__ import annotations

import numpy as np
import pytest

from uqtwin.solvers import SolverOptions, connected_to_faces, effective_tensor, solve_axis

TIGHT = SolverOptions(flux_tol=1e-8, change_tol=1e-8)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_straight_channel_has_tau_one(axis):
    k = np.zeros((12, 14, 16))
    sl = [slice(3, 7)] * 3
    sl[axis] = slice(None)
    k[tuple(sl)] = 1.0
    s = solve_axis(k, (1.0, 1.0, 1.0), axis, options=TIGHT)
    eps = k.mean()
    assert s.percolates and s.converged
    assert eps / s.effective[axis] == pytest.approx(1.0, abs=1e-6)
    # no flux sideways in a straight channel
    assert np.abs(np.delete(s.effective, axis)).max() < 1e-6


def test_blocked_channel_does_not_percolate():
    k = np.zeros((12, 12, 12))
    k[:, 4:8, 4:8] = 1.0
    k[-1] = 0.0  # blocked at the outlet face
    s = solve_axis(k, (1.0, 1.0, 1.0), 0)
    assert not s.percolates
    assert "no 6-connected path" in s.reason
    assert np.all(s.effective == 0.0)
    # still open sideways? no: the channel touches no y face
    assert not solve_axis(k, (1.0, 1.0, 1.0), 1).percolates


def test_empty_phase_does_not_percolate():
    s = solve_axis(np.zeros((4, 4, 4)), (1.0, 1.0, 1.0), 2)
    assert not s.percolates and s.reason == "the phase is empty"


def test_layers_series_and_parallel():
    k = np.ones((20, 16, 18))
    k[:10] = 10.0  # two layers normal to z, equal thickness
    t = effective_tensor(k, (1.0, 1.0, 1.0), options=TIGHT)
    assert t.tensor[0, 0] == pytest.approx(2.0 / (1.0 / 10.0 + 1.0), rel=1e-6)  # 1.8181...
    assert t.tensor[1, 1] == pytest.approx(5.5, rel=1e-6)
    assert t.tensor[2, 2] == pytest.approx(5.5, rel=1e-6)
    assert np.abs(t.tensor - np.diag(np.diag(t.tensor))).max() < 1e-5


def test_taufactor_staircase_strip():
    # tests/test_taufactor.py::test_solver_on_slanted_strip_of_ones (TauFactor >= 1.1)
    n = 20
    img = np.zeros((n, n + 1, n + 1))
    for i in range(n):
        img[i, i:i + 2, i:i + 2] = 1
    s = solve_axis(img, (1.0, 1.0, 1.0), 0)
    assert img.mean() / s.effective[0] == pytest.approx(7.51667, rel=1e-3)


def _random_medium(shape, seed, porosity=0.6):
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    noise = ndimage.gaussian_filter(rng.standard_normal(shape), 1.0, mode="wrap")
    return (noise < np.quantile(noise, porosity)).astype(float)


def test_inflow_equals_outflow():
    k = _random_medium((24, 24, 24), 1)
    opts = SolverOptions(flux_tol=1e-6, change_tol=1e-6)
    for axis in range(3):
        s = solve_axis(k, (1.0, 1.0, 1.0), axis, options=opts)
        assert s.converged
        assert abs(s.flux_in - s.flux_out) <= 1e-6 * s.flux_in
        assert s.flux_mismatch <= 1e-6


def test_dead_ends_and_islands_do_not_change_the_answer():
    k = _random_medium((20, 20, 20), 2)
    keep = connected_to_faces(k > 0, 0)
    assert keep.sum() < (k > 0).sum()  # there is something to remove
    full = solve_axis(k, (1.0, 1.0, 1.0), 0, options=TIGHT)
    trimmed = solve_axis(np.where(keep, k, 0.0), (1.0, 1.0, 1.0), 0, options=TIGHT)
    assert full.effective[0] == pytest.approx(trimmed.effective[0], rel=1e-6)
    assert full.active_fraction == pytest.approx(keep.mean())


def test_anisotropic_spacing_matches_resampled_geometry():
    base = _random_medium((8, 8, 8), 3, porosity=0.7)
    errors = []
    for r in (1, 2, 4):
        # the same physical geometry: voxels 1/r x 1/2r x 1/2r and 1/2r x 1/2r x 1/2r
        aniso = np.kron(base, np.ones((r, 2 * r, 2 * r)))
        iso = np.kron(base, np.ones((2 * r, 2 * r, 2 * r)))
        ta = solve_axis(aniso, (2.0, 1.0, 1.0), 0).effective[0]
        ti = solve_axis(iso, (1.0, 1.0, 1.0), 0).effective[0]
        errors.append(abs(ta - ti) / ti)
    assert errors[-1] < errors[0]
    assert errors[-1] < 0.02


def test_anisotropic_spacing_exact_for_layers():
    k = np.ones((6, 5, 7))
    k[3:] = 4.0
    t = effective_tensor(k, (2.0, 0.5, 1.5), options=TIGHT).tensor
    assert t[0, 0] == pytest.approx(2.0 / (1.0 + 0.25), rel=1e-6)
    assert t[1, 1] == pytest.approx(2.5, rel=1e-6)
    assert t[2, 2] == pytest.approx(2.5, rel=1e-6)


def test_contact_resistance_two_cubes_in_series():
    n = 6
    k = np.full((2 * n, n, n), 2.0)  # S/m
    particles = np.ones(k.shape, dtype=np.int32)
    particles[n:] = 2
    h = 0.5
    rc = 0.7  # area-specific, units length / [k]
    s = solve_axis(k, (h, h, h), 0, particles=particles, contact_resistance=rc, options=TIGHT)
    length = 2 * n * h
    assert s.effective[0] == pytest.approx(length / (length / 2.0 + rc), rel=1e-6)
    # faces parallel to the contact plane see no contact
    s1 = solve_axis(k, (h, h, h), 1, particles=particles, contact_resistance=rc, options=TIGHT)
    assert s1.effective[1] == pytest.approx(2.0, rel=1e-6)


def _tilted_laminate(w):
    n = 12 * w
    y, x = np.mgrid[0:n, 0:n]
    layer = ((x + y) // w) % 2  # 45 degree layers in the (y, x) plane, thickness w/sqrt 2
    k = np.where(layer == 0, 1.0, 0.1)[None].repeat(2, axis=0)
    return effective_tensor(k, (1.0, 1.0, 1.0), options=SolverOptions(periodic=(True,) * 3))


def test_tilted_laminate_off_diagonal_and_principal_axes():
    ser, par = 2.0 / (1.0 + 10.0), 0.55  # continuum laminate: across and along the layers
    expected_off = (ser - par) / 2.0  # -0.184: D = R diag(par, ser) R^T at 45 degrees
    errors = []
    for w in (4, 8):
        t = _tilted_laminate(w)
        d = t.tensor
        assert d[1, 1] == pytest.approx(d[2, 2], rel=1e-4)
        assert d[1, 2] == pytest.approx(d[2, 1], rel=1e-3)
        assert d[0, 0] == pytest.approx(par, rel=1e-4)  # along z: parallel to every layer
        assert abs(d[0, 1]) < 1e-5 and abs(d[0, 2]) < 1e-5
        # principal axes: across the layers (1, 1)/sqrt 2 has the smallest eigenvalue
        v = t.principal_axes[:, int(np.argmin(t.eigenvalues))]
        assert abs(v[0]) < 1e-4 and abs(abs(v[1]) - abs(v[2])) < 1e-3 and v[1] * v[2] > 0
        assert min(t.eigenvalues) == pytest.approx(ser, rel=0.05)
        errors.append(abs(d[1, 2] - expected_off))
    # the staircase discretisation of the interfaces is an O(1/w) error in the off-diagonal
    assert errors[1] < 0.6 * errors[0]
    assert errors[1] < 0.15 * abs(expected_off)


def test_warm_start_reproduces_the_cold_answer():
    k = _random_medium((24, 24, 24), 4)
    cold = solve_axis(k, (1.0, 1.0, 1.0), 0, keep_potential=True)
    k2 = k.copy()
    k2[10:12, 10:12, 10:12] = 1.0 - k2[10:12, 10:12, 10:12]
    ref = solve_axis(k2, (1.0, 1.0, 1.0), 0, options=TIGHT).effective[0]
    warm = solve_axis(k2, (1.0, 1.0, 1.0), 0, x0=cold.potential)
    assert warm.effective[0] == pytest.approx(ref, rel=1e-4)
    assert warm.iterations <= cold.iterations


@pytest.mark.parametrize("periodic", [False, True])
def test_fused_face_conductances_equal_the_reference_construction(periodic):
    from uqtwin.solvers.conductances import face_conductances

    rng = np.random.default_rng(5)
    k = (rng.random((7, 6, 5)) * (rng.random((7, 6, 5)) < 0.6)).astype(np.float32)
    for axis in range(3):
        per = tuple(periodic and a != axis for a in range(3))
        fused = face_conductances(k, (1.0, 0.5, 2.0), axis, periodic=per)
        # particles without contacts take the numpy construction and change nothing
        ref = face_conductances(k, (1.0, 0.5, 2.0), axis, periodic=per,
                                particles=np.zeros(k.shape, int), contact_resistance=1.0)
        for f, r in zip(fused, ref, strict=True):
            assert f.shape == r.shape and f.dtype == r.dtype
            np.testing.assert_array_equal(f, r)


@pytest.mark.parametrize("shape", [(1, 5, 6), (2, 5, 6), (9, 6, 5)])
def test_fused_smoother_equals_two_half_sweeps(shape):
    from uqtwin.solvers.conductances import face_conductances
    from uqtwin.solvers.layout import padded_zeros
    from uqtwin.solvers.smoothers import rbgs_pair, rbgs_sweep

    rng = np.random.default_rng(6)
    k = (rng.random(shape) * (rng.random(shape) < 0.7)).astype(np.float32)
    g = face_conductances(k, (1.0, 1.0, 1.0), 0)
    x = padded_zeros(shape)
    b = padded_zeros(shape)
    x[1:-1, 1:-1, 1:-1] = rng.random(shape)
    b[1:-1, 1:-1, 1:-1] = rng.random(shape)
    for first in (0, 1):
        ref = x.copy()
        rbgs_sweep(*g, ref, b, first)
        rbgs_sweep(*g, ref, b, 1 - first)
        for nblocks in (1, 2, 3, 8):
            out = x.copy()
            rbgs_pair(*g, out, b, first, nblocks)
            np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


def _flip_block(k):
    k2 = k.copy()
    k2[10:12, 10:12, 10:12] = 1.0 - k2[10:12, 10:12, 10:12]
    k2[3, 4:7, 15] = 1.0 - k2[3, 4:7, 15]
    return k2


@pytest.mark.parametrize("axis", [0, 2])
def test_warm_start_object_reuses_the_coarse_solver(axis, monkeypatch):
    import pickle

    from uqtwin.solvers import WarmStart, multigrid

    k = _random_medium((24, 24, 24), 4)
    ref = solve_axis(k, (1.0, 1.0, 1.0), axis, keep_warm_start=True)
    ws = ref.warm_start
    assert isinstance(ws, WarmStart) and ref.potential is None
    assert ws.potential.shape == k.shape and ws.coarse_lu is not None
    k2 = _flip_block(k)
    cold = solve_axis(k2, (1.0, 1.0, 1.0), axis, options=TIGHT)
    calls = []
    real = multigrid.spla.splu
    monkeypatch.setattr(multigrid.spla, "splu", lambda a: calls.append(1) or real(a))
    warm = solve_axis(k2, (1.0, 1.0, 1.0), axis, x0=ws)
    assert not calls  # the reference's factorisation was used
    assert warm.converged
    assert warm.effective[axis] == pytest.approx(cold.effective[axis], rel=1e-4)
    tol = SolverOptions().flux_tol
    assert warm.flux_mismatch <= tol  # conservation under the lent coarse solver
    assert abs(warm.flux_in - warm.flux_out) <= tol * warm.flux_in
    np.testing.assert_allclose(warm.effective, cold.effective, atol=1e-4 * cold.effective[axis])
    monkeypatch.undo()
    # picklable (dask workers): the coarse matrix travels and is refactorised on arrival
    back = pickle.loads(pickle.dumps(ws))
    np.testing.assert_array_equal(back.potential, ws.potential)
    again = solve_axis(k2, (1.0, 1.0, 1.0), axis, x0=back)
    assert again.effective[axis] == pytest.approx(warm.effective[axis], rel=1e-12)


def test_warm_start_tensor_matches_cold_tensor():
    k = _random_medium((20, 20, 20), 7)
    ref = effective_tensor(k, keep_warm_start=True)
    k2 = _flip_block(k)
    cold = effective_tensor(k2, options=TIGHT)
    warm = effective_tensor(k2, x0=tuple(s.warm_start for s in ref.axes))
    # off-diagonals come from the fluxes: to the tolerance of the diagonal's scale
    np.testing.assert_allclose(warm.tensor, cold.tensor, rtol=1e-4,
                               atol=1e-4 * np.abs(cold.tensor).max())
    assert all(s.converged and s.flux_mismatch <= SolverOptions().flux_tol for s in warm.axes)


def test_warm_start_of_another_shape_is_rejected():
    k = _random_medium((12, 12, 12), 8)
    ref = solve_axis(k, (1.0, 1.0, 1.0), 0, keep_warm_start=True)
    with pytest.raises(ValueError, match="x0 has shape"):
        solve_axis(k[:10], (1.0, 1.0, 1.0), 0, x0=ref.warm_start)


@pytest.mark.slow
def test_tf_electrode_pore_axis0(tf_electrode):
    k = (tf_electrode == 0).astype(np.float32)
    s = solve_axis(k, (1.0, 1.0, 1.0), 0)
    tau = k.mean() / s.effective[0]
    assert tau == pytest.approx(2.0772, rel=3e-3)
    assert s.converged and s.flux_mismatch <= SolverOptions().flux_tol


def test_energy_estimate_is_an_upper_bound_converging_faster_than_the_fluxes():
    k = _random_medium((24, 24, 24), 9)
    exact = solve_axis(k, (1.0, 1.0, 1.0), 1, options=TIGHT).effective[1]
    length, area = 24.0, 24.0 * 24.0
    previous = np.inf
    for m in (3, 4, 5):
        s = solve_axis(k, (1.0, 1.0, 1.0), 1,
                       options=SolverOptions(flux_tol=0.0, change_tol=0.0, max_iter=m))
        assert not s.converged and s.iterations == m
        # Dirichlet principle: the dissipation of any potential with the face values
        # exceeds the exact one (τ from it is a lower bound)
        assert s.effective[1] >= exact * (1 - 1e-9)
        err_energy = s.effective[1] / exact - 1
        err_flux = max(abs(f * length / area / exact - 1) for f in (s.flux_in, s.flux_out))
        # quadratic in the potential's error, the fluxes linear: >10x closer here
        assert err_energy < 0.1 * err_flux
        assert err_energy < previous  # CG lowers the energy at every step
        previous = err_energy


@pytest.mark.parametrize("seed", [10, 11])
def test_default_tolerances_give_tau_to_1e4(seed):
    k = _random_medium((32, 32, 32), seed, porosity=0.45)
    opts = SolverOptions()
    for axis in range(3):
        exact = solve_axis(k, (1.0, 1.0, 1.0), axis, options=TIGHT).effective[axis]
        s = solve_axis(k, (1.0, 1.0, 1.0), axis)
        assert s.converged
        assert s.flux_mismatch <= opts.flux_tol and s.change <= opts.change_tol
        assert abs(s.effective[axis] / exact - 1) <= 1e-4


def test_relax_cells_gives_new_cells_their_neighbours_level():
    from uqtwin.solvers.conductances import face_conductances
    from uqtwin.solvers.layout import padded_index, padded_zeros
    from uqtwin.solvers.operators import dirichlet_rhs
    from uqtwin.solvers.smoothers import relax_cells

    k = np.ones((6, 5, 12), dtype=np.float32)
    g = face_conductances(k, (1.0, 1.0, 1.0), 2)
    b = dirichlet_rhs(g[2], 2, k.shape)
    x = padded_zeros(k.shape, np.float64)
    x[1:-1, 1:-1, 1:-1] = 1.0 - (np.arange(12) + 0.5) / 12  # the exact solution
    exact = x.copy()
    new = np.zeros(k.shape, bool)
    new[2, 2, 5] = True  # a lone cell
    new[1:5, 1:4, 7:11] = True  # a block, no cell of its inside touches a known one
    x[1:-1, 1:-1, 1:-1][new] = 0.0
    relax_cells(*g, x, b, padded_index(np.flatnonzero(new), k.shape), 1000, 1e-9)
    np.testing.assert_allclose(x, exact, atol=1e-7)


def test_warm_start_fills_a_cluster_the_sample_joins():
    k = np.zeros((24, 24, 24), dtype=np.float32)
    k[:, 4:20, 4:12] = 1.0  # the network, along every axis
    k[6:18, 6:18, 13:20] = 1.0  # a block the reference leaves out (touches no face)
    ref = solve_axis(k, (1.0, 1.0, 1.0), 0, keep_warm_start=True)
    assert np.all(ref.warm_start.potential[6:18, 6:18, 13:20] == 0)
    k2 = k.copy()
    k2[10, 10, 12] = 1.0  # joins the block to the network through one voxel
    exact = solve_axis(k2, (1.0, 1.0, 1.0), 0, options=TIGHT)
    cold = solve_axis(k2, (1.0, 1.0, 1.0), 0)
    warm = solve_axis(k2, (1.0, 1.0, 1.0), 0, x0=ref.warm_start)
    assert warm.effective[0] == pytest.approx(exact.effective[0], rel=1e-4)
    assert warm.iterations < cold.iterations


def test_reported_change_is_the_drop_of_the_dissipation_between_iterates():
    # the stopping test tracks the dissipation through CG's recurrence (no pass over the
    # volume per iteration); it must equal the dissipation evaluated from the iterates
    k = _random_medium((24, 24, 24), 12)
    for m in (2, 3, 4):
        opts = [SolverOptions(flux_tol=0.0, change_tol=0.0, max_iter=i) for i in (m - 1, m)]
        before, after = (solve_axis(k, (1.0, 1.0, 1.0), 2, options=o) for o in opts)
        direct = (before.effective[2] - after.effective[2]) / after.effective[2]
        assert after.change == pytest.approx(direct, rel=1e-3, abs=1e-9)


@pytest.mark.parametrize("periodic", [(False, False, False), (True, False, True)])
def test_tensor_shares_conductances_across_axes_without_changing_any_solve(periodic):
    # effective_tensor computes the face conductances once and only re-drives the two
    # outer layers per axis: every column must be the bits of the single-axis solve
    k = _random_medium((20, 18, 22), 13, porosity=0.5)
    opts = SolverOptions(periodic=periodic)
    spacing = (1.0, 0.7, 1.3)
    tensor = effective_tensor(k, spacing, options=opts)
    for axis in range(3):
        single = solve_axis(k, spacing, axis, options=opts)
        np.testing.assert_array_equal(tensor.axes[axis].effective, single.effective)
        assert tensor.axes[axis].iterations == single.iterations


def test_tensor_with_contact_resistance_matches_the_single_axis_solves():
    from scipy import ndimage

    k = _random_medium((20, 20, 20), 14, porosity=0.6)
    particles, _ = ndimage.label(k > 0)
    particles = np.where(k > 0, 1 + (np.arange(k.size).reshape(k.shape) // 1000) % 3, 0)
    tensor = effective_tensor(k, particles=particles, contact_resistance=0.5)
    for axis in range(3):
        single = solve_axis(k, (1.0, 1.0, 1.0), axis, particles=particles,
                            contact_resistance=0.5)
        np.testing.assert_allclose(tensor.axes[axis].effective, single.effective, rtol=1e-6,
                                   atol=1e-9)


def test_same_numbers_for_any_number_of_compiled_threads():
    # the engine runs samples side by side with fewer threads each: the solver's sums
    # are taken per plane, so the thread count does not change a single bit
    assert_same_bits_for_any_thread_count(_random_medium((24, 20, 28), 15))


def assert_same_bits_for_any_thread_count(k) -> None:
    """The effective tensor of ``k`` solved with 1 thread and with all: the same bits."""
    import numba

    runs = []
    previous = numba.get_num_threads()
    try:
        for n in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(n)
            runs.append(effective_tensor(k).tensor)
    finally:
        numba.set_num_threads(previous)
    for t in runs[1:]:
        np.testing.assert_array_equal(t, runs[0])


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_redriven_coarse_grids_equal_grids_coarsened_from_the_driven_faces(axis):
    from uqtwin.solvers.conductances import drive_faces, face_conductances
    from uqtwin.solvers.multigrid import coarsen_levels, drive_levels

    k = _random_medium((21, 18, 23), 16)  # odd sizes: coarse cells with one child
    driven = face_conductances(k, (1.0, 0.8, 1.2), axis)
    base = face_conductances(k, (1.0, 0.8, 1.2), None)
    # driving the undriven conductances gives the driven ones, bit for bit
    redriven = drive_faces(base, k, (1.0, 0.8, 1.2), axis)
    for g, d in zip(redriven, driven, strict=True):
        np.testing.assert_array_equal(g, d)
    direct = coarsen_levels(*driven, coarsest_size=64)
    shared = coarsen_levels(*base, coarsest_size=64)
    before = [tuple(g.copy() for g in (lv.gz, lv.gy, lv.gx)) for lv in shared]
    levels = drive_levels(shared, redriven[axis], axis)
    for a, b in zip(direct, levels, strict=True):
        for ga, gb in zip((a.gz, a.gy, a.gx), (b.gz, b.gy, b.gx), strict=True):
            np.testing.assert_array_equal(ga, gb)
    # nothing shared was modified
    for lv, old in zip(shared, before, strict=True):
        for g, o in zip((lv.gz, lv.gy, lv.gx), old, strict=True):
            np.testing.assert_array_equal(g, o)
    for g, o in zip(base, before[0], strict=True):
        np.testing.assert_array_equal(g, o)


def test_w_and_v_cycles_converge_to_the_same_answer():
    k = _random_medium((28, 28, 28), 17, porosity=0.45)
    tight = solve_axis(k, (1.0, 1.0, 1.0), 0, options=TIGHT).effective[0]
    w = solve_axis(k, (1.0, 1.0, 1.0), 0)
    v = solve_axis(k, (1.0, 1.0, 1.0), 0, options=SolverOptions(cycle="V"))
    for s in (w, v):
        assert s.converged and s.effective[0] == pytest.approx(tight, rel=1e-4)
    assert w.iterations <= v.iterations


def test_solver_options_are_checked():
    with pytest.raises(ValueError, match="cycle"):
        SolverOptions(cycle="F")
    with pytest.raises(ValueError, match="sweeps"):
        SolverOptions(coarse_sweeps=0)


# --- the compact path of media of one conductivity (uqtwin.solvers.binary) ------------


def _general_path(monkeypatch):
    """Route every solve through the general path (face-conductance arrays)."""
    from uqtwin.solvers import diffusion

    monkeypatch.setattr(diffusion, "_binary", lambda *args: None)


@pytest.mark.parametrize("spacing, periodic", [
    ((1.0, 1.0, 1.0), (False, False, False)),
    ((1.0, 0.5, 2.0), (False, False, False)),
    ((1.0, 1.0, 1.0), (True, False, True)),
])
def test_mask_path_gives_the_general_path_to_the_bit(spacing, periodic, monkeypatch):
    """Tight tolerances (float64 iterate): every iterate, hence every number, equal."""
    k = _random_medium((22, 18, 20), 7, porosity=0.5)
    opts = SolverOptions(flux_tol=1e-8, change_tol=1e-8, periodic=periodic)
    compact = effective_tensor(k > 0, spacing, options=opts, keep_potential=True)
    with monkeypatch.context() as m:
        _general_path(m)
        general = effective_tensor(k.astype(np.float32), spacing, options=opts,
                                   keep_potential=True)
    np.testing.assert_array_equal(compact.tensor, general.tensor)
    for c, g in zip(compact.axes, general.axes, strict=True):
        assert c.iterations == g.iterations and c.converged
        assert (c.flux_in, c.flux_out, c.change) == (g.flux_in, g.flux_out, g.change)
        np.testing.assert_array_equal(c.potential, g.potential)


@pytest.mark.parametrize("periodic", [(False, False, False), (True, False, True)])
def test_mask_path_at_default_tolerances_within_rounding_of_the_general_path(periodic,
                                                                              monkeypatch):
    """Default tolerances: float32 iterate, no residual array; τ moves by rounding only."""
    k = _random_medium((32, 32, 32), 8, porosity=0.45)
    opts = SolverOptions(periodic=periodic)
    compact = effective_tensor(k, (1.0, 1.0, 1.0), options=opts)
    with monkeypatch.context() as m:
        _general_path(m)
        general = effective_tensor(k, (1.0, 1.0, 1.0), options=opts)
    for c, g in zip(compact.axes, general.axes, strict=True):
        assert c.iterations == g.iterations and c.converged
        assert c.effective[c.axis] == pytest.approx(g.effective[g.axis], rel=1e-8)
        assert c.flux_mismatch <= 1e-4
    # off the diagonal (volume-averaged fluxes: linear in the potential's rounding)
    np.testing.assert_allclose(compact.tensor, general.tensor, rtol=0,
                               atol=1e-6 * np.abs(general.tensor).max())


def test_boolean_and_scaled_inputs_give_the_float_answer():
    k = _random_medium((20, 20, 24), 9)
    ref = solve_axis(k.astype(np.float32), (1.0, 1.0, 1.0), 2, options=TIGHT)
    as_bool = solve_axis(k > 0, (1.0, 1.0, 1.0), 2, options=TIGHT)
    np.testing.assert_array_equal(as_bool.effective, ref.effective)
    scaled = solve_axis(0.3 * k, (1.0, 1.0, 1.0), 2, options=TIGHT)
    np.testing.assert_allclose(scaled.effective, 0.3 * ref.effective, rtol=1e-7, atol=1e-12)


def test_two_conductivities_take_the_general_path():
    from uqtwin.solvers.medium import binary_unit, uniform_conductivity

    k = _random_medium((12, 12, 12), 3)
    assert uniform_conductivity(k) == 1.0 and uniform_conductivity(k > 0) == 1.0
    k[k > 0][:5] = 2.0
    k[0, 0, 0] = 2.0
    assert uniform_conductivity(k) is None
    assert uniform_conductivity(np.zeros((2, 2, 2))) is None
    np.testing.assert_array_equal(binary_unit(2.0, (1.0, 2.0, 4.0)), [16.0, 4.0, 1.0])


@pytest.mark.parametrize("axis, periodic", [(0, (False, False, False)),
                                            (1, (True, False, False)),
                                            (2, (False, True, False))])
def test_mask_kernels_equal_the_kernels_on_the_written_out_conductances(axis, periodic):
    from uqtwin.solvers import binary
    from uqtwin.solvers.conductances import face_conductances
    from uqtwin.solvers.layout import fill_ghosts, padded_zeros
    from uqtwin.solvers.operators import apply_operator, dirichlet_rhs, residual
    from uqtwin.solvers.smoothers import rbgs_pair, rbgs_sweep
    from uqtwin.solvers.transfer import coarsen_faces, residual_restrict

    shape = (9, 8, 7)
    rng = np.random.default_rng(12)
    keep = rng.random(shape) < 0.7
    spacing = (1.0, 0.5, 2.0)
    side = tuple(bool(p) and a != axis for a, p in enumerate(periodic))
    g = face_conductances(keep.astype(np.float32), spacing, axis, periodic=side)
    from uqtwin.solvers.medium import binary_unit, prepare_binary

    medium = prepare_binary(keep, binary_unit(1.0, spacing))
    m, unit = medium.mask, medium.unit
    binary.mask_ghosts(m, axis, side)
    for a in range(3):  # the faces the mask implies
        out = np.empty_like(g[a])
        binary.mask_faces(m, unit, a, out, 0)
        np.testing.assert_array_equal(out, g[a])
    x = padded_zeros(shape)
    x[1:-1, 1:-1, 1:-1] = rng.random(shape)
    fill_ghosts(x, side)
    b = padded_zeros(shape)
    b[1:-1, 1:-1, 1:-1] = rng.random(shape)
    y_ref, y = padded_zeros(shape), padded_zeros(shape)
    apply_operator(*g, x, y_ref)
    binary.mask_apply(m, unit, x, y)
    np.testing.assert_array_equal(y, y_ref)
    x64 = x.astype(np.float64)
    r_ref, r = padded_zeros(shape), padded_zeros(shape)
    residual(*g, x64, dirichlet_rhs(g[axis], axis, shape), r_ref)
    binary.mask_residual(m, unit, x64, axis, r)
    np.testing.assert_array_equal(r, r_ref)
    coarse = tuple((n + 1) // 2 for n in shape)
    rc_ref, rc = padded_zeros(coarse), padded_zeros(coarse)
    residual_restrict(*g, x, b, rc_ref, 2, 2, 2)
    binary.mask_residual_restrict(m, unit, x, b, rc, 2, 2, 2, -1)
    np.testing.assert_array_equal(rc, rc_ref)
    for a in range(3):
        s = list(coarse)
        s[a] += 1
        ref, out = np.empty(s, np.float32), np.empty(s, np.float32)
        coarsen_faces(g[a], a, 2, 2, 2, ref)
        binary.coarsen_mask_faces(m, unit, a, 2, 2, 2, out)
        np.testing.assert_array_equal(out, ref)
    for first in (0, 1):
        ref, out = x.copy(), x.copy()
        if any(side):
            rbgs_sweep(*g, ref, b, first)
            binary.mask_rbgs_sweep(m, unit, out, b, first, -1)
        else:
            rbgs_pair(*g, ref, b, first, 3)
            binary.mask_rbgs_pair(m, unit, out, b, first, 3, -1)
        np.testing.assert_array_equal(out, ref)


def test_fused_residual_restriction_equals_residual_then_restriction():
    from uqtwin.solvers.conductances import face_conductances
    from uqtwin.solvers.layout import padded_zeros
    from uqtwin.solvers.operators import coarse_residual
    from uqtwin.solvers.transfer import residual_restrict, restrict

    rng = np.random.default_rng(13)
    for shape, ratios in (((9, 8, 7), (2, 2, 2)), ((1, 6, 5), (1, 2, 2)), ((6, 5, 1), (2, 2, 1))):
        k = (rng.random(shape) * (rng.random(shape) < 0.8)).astype(np.float32)
        g = face_conductances(k, (1.0, 1.0, 1.0), 0)
        x, b, r = padded_zeros(shape), padded_zeros(shape), padded_zeros(shape)
        x[1:-1, 1:-1, 1:-1] = rng.random(shape)
        b[1:-1, 1:-1, 1:-1] = rng.random(shape)
        coarse = tuple((n + q - 1) // q for n, q in zip(shape, ratios, strict=True))
        ref, out = padded_zeros(coarse), padded_zeros(coarse)
        coarse_residual(*g, x, b, r)
        restrict(r, ref, *ratios)
        residual_restrict(*g, x, b, out, *ratios)
        np.testing.assert_array_equal(out, ref)

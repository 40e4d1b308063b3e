"""Deflation of high-conductivity clusters (uqtwin.solvers.deflation, .clusters): known answers."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

from uqtwin.solvers import SolverOptions, effective_tensor, solve_axis
from uqtwin.solvers.clusters import (
    high_conductivity_clusters,
    isolated_clusters,
    join_periodic_clusters,
)
from uqtwin.solvers.conductances import face_conductances
from uqtwin.solvers.deflation import DeflatedPreconditioner, cluster_space
from uqtwin.solvers.layout import padded_zeros

TIGHT = SolverOptions(flux_tol=1e-9, change_tol=1e-9, max_iter=3000)
PLAIN = SolverOptions(deflation="off")
PLAIN_TIGHT = SolverOptions(flux_tol=1e-9, change_tol=1e-9, max_iter=3000, deflation="off")
LOW, HIGH = 0.01, 100.0  # NMC and carbon-binder, S/m: contrast 10⁴


def _islands(shape, seed, count, *, margin=1):
    """Boxes of 1-3 cells of HIGH in a LOW matrix, ``margin`` cells off every face."""
    rng = np.random.default_rng(seed)
    k = np.full(shape, LOW, dtype=np.float32)
    for _ in range(count):
        size = rng.integers(1, 4, size=3)
        lo = [rng.integers(margin, n - margin - s + 1) for n, s in zip(shape, size, strict=True)]
        k[tuple(slice(a, a + s) for a, s in zip(lo, size, strict=True))] = HIGH
    return k


def _direct(k, axis, spacing=(1.0, 1.0, 1.0)):
    """Conductivity along ``axis`` from a sparse direct solve of the same finite volumes.

    The face conductances are the solver's (float32), the assembly, the solve (float64
    LU) and the flux are this function's own.
    """
    g = [v.astype(np.float64) for v in face_conductances(k, spacing, axis)]
    shape = k.shape
    idx = np.arange(k.size).reshape(shape)
    diag = np.zeros(k.size)
    rows, cols, vals = [], [], []
    for a in range(3):
        n = shape[a]
        inner = np.take(g[a], np.arange(1, n), axis=a).ravel()
        lo = np.take(idx, np.arange(0, n - 1), axis=a).ravel()
        hi = np.take(idx, np.arange(1, n), axis=a).ravel()
        rows += [lo, hi]
        cols += [hi, lo]
        vals += [-inner, -inner]
        np.add.at(diag, lo, inner)
        np.add.at(diag, hi, inner)
    g_in = np.take(g[axis], 0, axis=axis)
    g_out = np.take(g[axis], shape[axis], axis=axis)
    first = np.take(idx, 0, axis=axis).ravel()
    last = np.take(idx, shape[axis] - 1, axis=axis).ravel()
    np.add.at(diag, first, g_in.ravel())
    np.add.at(diag, last, g_out.ravel())
    a_mat = sp.csr_matrix((np.concatenate([*vals, diag]),
                           (np.concatenate([*rows, idx.ravel()]),
                            np.concatenate([*cols, idx.ravel()]))), shape=(k.size, k.size))
    b = np.zeros(k.size)
    b[first] = g_in.ravel()
    u = spsolve(a_mat.tocsc(), b)
    flux = float(np.sum(g_in.ravel() * (1.0 - u[first])))
    h = np.asarray(spacing, dtype=float)
    area = np.prod([shape[c] * h[c] for c in range(3) if c != axis])
    return flux * shape[axis] * h[axis] / area


def _random_medium(shape, seed, porosity=0.6):
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    noise = ndimage.gaussian_filter(rng.standard_normal(shape), 1.0, mode="wrap")
    return (noise < np.quantile(noise, porosity)).astype(np.float32)


# --- the rule ---------------------------------------------------------------------------


def test_rule_needs_contrast_and_disconnected_clusters():
    k = np.full((8, 8, 8), LOW)
    k[2, 2, 2] = k[5, 5, 5] = HIGH
    labels, m = high_conductivity_clusters(k)
    assert m == 2 and labels[2, 2, 2] != labels[5, 5, 5]
    assert high_conductivity_clusters(np.where(k > LOW, 10 * LOW, LOW)) is None  # contrast 10
    one = np.full((8, 8, 8), LOW)
    one[2:4, 2:4, 2:4] = HIGH
    assert high_conductivity_clusters(one) is None  # a single cluster: not "islands"
    assert high_conductivity_clusters(one, min_clusters=1)[1] == 1
    assert high_conductivity_clusters(np.zeros((3, 3, 3))) is None
    # pore (0) does not count as the low phase: a binary field has no contrast
    assert high_conductivity_clusters(_random_medium((12, 12, 12), 0)) is None


def test_clusters_pinned_by_a_driven_face_are_left_out():
    k = np.full((10, 6, 6), LOW, dtype=np.float32)
    k[0:2, 1:3, 1:3] = HIGH  # touches the inlet of axis 0 (and no face of the others)
    k[4:6, 2:4, 2:4] = HIGH  # isolated
    k[7:9, 0:2, 3:5] = HIGH  # touches the y = 0 side
    labels, m = high_conductivity_clusters(k)
    assert m == 3
    for axis, expected in ((0, 2), (1, 2), (2, 3)):
        g = face_conductances(k, (1.0, 1.0, 1.0), axis)
        lab, n = isolated_clusters(labels, m, g, (False,) * 3)
        assert n == expected
        assert lab[5, 3, 3] > 0  # the isolated one is always kept
        assert np.array_equal(np.unique(lab), np.arange(n + 1))


def test_clusters_touching_across_a_periodic_side_are_joined():
    labels = np.zeros((4, 5, 6), dtype=np.int32)
    labels[1, 2, 0] = 1
    labels[1, 2, 5] = 2  # its neighbour across the x side
    labels[2, 0, 3] = 3
    assert join_periodic_clusters(labels, 3, (False, False, False))[1] == 3
    joined, m = join_periodic_clusters(labels, 3, (False, False, True))
    assert m == 2 and joined[1, 2, 0] == joined[1, 2, 5] == 1 and joined[2, 0, 3] == 2


def test_single_phase_and_low_contrast_media_are_solved_as_without_deflation():
    pores = _random_medium((20, 20, 20), 1)
    two_phase = np.where(_random_medium((20, 20, 20), 2) > 0, 10.0, 1.0)  # contrast 10
    for k in (pores, two_phase):
        auto, off = effective_tensor(k), effective_tensor(k, options=PLAIN)
        np.testing.assert_array_equal(auto.tensor, off.tensor)
        assert [s.iterations for s in auto.axes] == [s.iterations for s in off.axes]
        assert all(s.deflated_clusters == 0 for s in auto.axes)


# --- known answers ------------------------------------------------------------------------


def test_high_contrast_layers_give_the_exact_harmonic_and_arithmetic_means():
    k = np.full((22, 12, 14), LOW, dtype=np.float32)
    for z0 in range(2, 20, 4):
        k[z0:z0 + 2] = HIGH  # 5 high layers of 2 cells between 6 low ones
    series = 22.0 / (6 * 2 / LOW + 5 * 2 / HIGH)
    parallel = (6 * LOW + 5 * HIGH) / 11
    for options, rel in ((SolverOptions(), 1e-4), (TIGHT, 1e-7)):
        t = effective_tensor(k, options=options)
        assert t.axes[0].deflated_clusters == 5  # the layers are islands along z only
        assert t.axes[1].deflated_clusters == t.axes[2].deflated_clusters == 0
        assert all(s.converged for s in t.axes)
        assert t.tensor[0, 0] == pytest.approx(series, rel=rel)
        assert t.tensor[1, 1] == pytest.approx(parallel, rel=rel)
        assert t.tensor[2, 2] == pytest.approx(parallel, rel=rel)


def test_islands_at_high_contrast_match_a_direct_solve():
    k = _islands((24, 24, 24), 3, 150)
    exact = _direct(k, 0)
    assert exact > 1.2 * LOW  # the islands matter (Maxwell-Garnett-like enhancement)
    deflated = solve_axis(k, axis=0)
    plain = solve_axis(k, axis=0, options=PLAIN)
    assert deflated.deflated_clusters > 50 and plain.deflated_clusters == 0
    assert deflated.converged and deflated.flux_mismatch <= 1e-4 and deflated.change <= 1e-4
    assert deflated.effective[0] == pytest.approx(exact, rel=1e-4)
    # iteration counts are deterministic: upper bounds, and far fewer than without
    assert deflated.iterations <= 20
    assert plain.iterations >= 2 * deflated.iterations
    for options in (TIGHT, PLAIN_TIGHT):
        s = solve_axis(k, axis=0, options=options)
        assert s.converged
        assert s.effective[0] == pytest.approx(exact, rel=1e-7)


def test_dilute_conducting_spheres_follow_maxwell_garnett():
    # four spheres of radius 3.5 voxels (φ = 0.011) in a periodic matrix: the contrast
    # 10⁴ makes them perfect conductors, K/k = (1 + 2φ) / (1 − φ) = 1.034 (Maxwell
    # Garnett); the staircase spheres and the O(φ²) terms change the 3.4 % enhancement
    # by a few per cent of itself
    n, r = 40, 3.5
    zz, yy, xx = np.mgrid[0:n, 0:n, 0:n]
    k = np.full((n, n, n), LOW, dtype=np.float32)
    for c in ((10, 10, 10), (10, 30, 30), (30, 10, 30), (30, 30, 10)):
        d2 = sum(np.minimum(abs(g - ci), n - abs(g - ci)) ** 2
                 for g, ci in zip((zz, yy, xx), c, strict=True))
        k[d2 <= r * r] = HIGH
    phi = float(np.mean(k == HIGH))
    expected = LOW * (1 + 2 * phi) / (1 - phi)
    s = solve_axis(k, axis=1, options=SolverOptions(periodic=(True, True, True)))
    assert s.deflated_clusters == 4 and s.converged
    assert s.effective[1] == pytest.approx(expected, rel=3e-3)


def test_flux_is_conserved_through_every_slice():
    # islands are plates normal to the driven axis on every other layer: no
    # high-conductivity face crosses a slice, so the float32 potential returned resolves
    # each slice's current to ~1e-7 (a face of G = 100 would add 100 x its rounding)
    rng = np.random.default_rng(4)
    k = np.full((20, 18, 22), LOW, dtype=np.float32)
    for _ in range(120):
        z, y, x = 2 * rng.integers(1, 10) - 1, rng.integers(0, 15), rng.integers(0, 19)
        k[z, y:y + rng.integers(1, 4), x:x + rng.integers(1, 4)] = HIGH
    s = solve_axis(k, axis=0, keep_potential=True, options=TIGHT)
    assert s.deflated_clusters > 20 and s.converged
    g = face_conductances(k, (1.0, 1.0, 1.0), 0)[0].astype(np.float64)
    u = s.potential.astype(np.float64)
    slices = [np.sum(g[0] * (1.0 - u[0]))]
    slices += [np.sum(g[f] * (u[f - 1] - u[f])) for f in range(1, u.shape[0])]
    slices.append(np.sum(g[-1] * u[-1]))
    slices = np.array(slices)
    assert np.ptp(slices) <= 1e-6 * slices.mean()
    assert slices.mean() * 20 / (18 * 22) == pytest.approx(s.effective[0], rel=1e-6)
    # the default tolerances bound the inflow/outflow mismatch (not each inner slice:
    # the current through a high-conductivity face is 10⁴ times as sensitive to the
    # potential as the dissipation is)
    d = solve_axis(k, axis=0)
    assert abs(d.flux_in - d.flux_out) <= 1e-4 * d.flux_in
    assert d.effective[0] == pytest.approx(s.effective[0], rel=1e-4)


def test_deflated_and_plain_solves_agree_on_the_whole_tensor():
    k = _islands((20, 20, 20), 5, 90, margin=0)  # islands touching faces too
    rng = np.random.default_rng(6)
    k = np.where(rng.random(k.shape) < 0.1, 0.0, k).astype(np.float32)  # some pore
    spacing = (1.0, 0.8, 1.2)
    deflated = effective_tensor(k, spacing, options=TIGHT)
    plain = effective_tensor(k, spacing, options=PLAIN_TIGHT)
    assert all(s.deflated_clusters > 0 for s in deflated.axes)
    scale = np.abs(plain.tensor).max()
    np.testing.assert_allclose(deflated.tensor, plain.tensor, rtol=1e-6, atol=1e-7 * scale)
    default = effective_tensor(k, spacing)
    np.testing.assert_allclose(np.diag(default.tensor), np.diag(plain.tensor), rtol=1e-4)


def test_periodic_sides_with_islands_across_them():
    k = _islands((16, 18, 20), 7, 80, margin=0)
    k[5:8, 0, 4:7] = HIGH  # an island cut by the y side: one cluster, wrapped
    k[5:8, -1, 4:7] = HIGH
    options = dict(flux_tol=1e-9, change_tol=1e-9, max_iter=3000, periodic=(True,) * 3)
    deflated = effective_tensor(k, options=SolverOptions(**options))
    plain = effective_tensor(k, options=SolverOptions(deflation="off", **options))
    assert all(s.converged and s.deflated_clusters > 0 for s in deflated.axes)
    scale = np.abs(plain.tensor).max()
    np.testing.assert_allclose(deflated.tensor, plain.tensor, rtol=1e-6, atol=1e-7 * scale)


def test_warm_start_with_deflation_reproduces_the_cold_answer():
    k = _islands((24, 24, 24), 8, 150)
    ref = solve_axis(k, axis=2, keep_warm_start=True)
    k2 = k.copy()
    k2[10:13, 10:13, 10:13] = HIGH  # a new island
    k2[3, 3:5, 15] = LOW
    exact = solve_axis(k2, axis=2, options=TIGHT).effective[2]
    cold = solve_axis(k2, axis=2)
    warm = solve_axis(k2, axis=2, x0=ref.warm_start)
    assert warm.deflated_clusters > 0 and warm.converged
    assert warm.effective[2] == pytest.approx(exact, rel=1e-4)
    assert warm.iterations <= cold.iterations


def test_same_bits_for_any_thread_count_with_deflation():
    from test_solvers import assert_same_bits_for_any_thread_count

    assert_same_bits_for_any_thread_count(_islands((20, 22, 18), 9, 100))


# --- the coarse space and the preconditioner ------------------------------------------------


def _operator(g, periodic):
    from uqtwin.solvers.multigrid import sparse_operator

    return sparse_operator(*g, periodic).tocsr()


@pytest.mark.parametrize("periodic", [(False, False, False), (False, True, True)])
def test_coarse_space_is_z_transposed_a_z(periodic):
    k = _islands((10, 9, 11), 10, 25, margin=0)
    g = face_conductances(k, (1.0, 1.0, 1.0), 0, periodic=periodic)
    labels, m = isolated_clusters(*high_conductivity_clusters(k), g, periodic)
    space = cluster_space(labels, m, g, periodic)
    a_mat = _operator(g, periodic)
    z_mat = sp.csr_matrix((np.ones(int((labels > 0).sum())),
                           (np.flatnonzero(labels), labels[labels > 0] - 1)),
                          shape=(k.size, m))
    az = (a_mat @ z_mat).toarray()
    padded = np.arange(padded_zeros(k.shape).size).reshape(np.add(k.shape, 2))
    rows = np.searchsorted(padded[1:-1, 1:-1, 1:-1].ravel(), space.rows)
    np.testing.assert_allclose(space.az.toarray(), az[rows], rtol=1e-12, atol=1e-12)
    assert np.abs(np.delete(az, rows, axis=0)).max() < 1e-4 * np.abs(az).max()
    e = (z_mat.T @ a_mat @ z_mat).toarray()
    np.testing.assert_allclose(np.diag(e), 1.0 / space.coarse, rtol=1e-6)
    np.testing.assert_allclose(e - np.diag(np.diag(e)), 0.0, atol=1e-4 * np.abs(e).max())


def test_balancing_preconditioner_is_symmetric_and_exact_on_the_coarse_space():
    k = _islands((10, 9, 11), 11, 8)
    g = face_conductances(k, (1.0, 1.0, 1.0), 1)
    labels, m = isolated_clusters(*high_conductivity_clusters(k), g, (False,) * 3)
    space = cluster_space(labels, m, g)
    diag = padded_zeros(k.shape, np.float64)
    diag[1:-1, 1:-1, 1:-1] = np.asarray(_operator(g, (False,) * 3).diagonal()).reshape(k.shape)

    def jacobi(r, z):
        z[...] = 0.0
        z[1:-1, 1:-1, 1:-1] = r[1:-1, 1:-1, 1:-1] / diag[1:-1, 1:-1, 1:-1]

    pre = DeflatedPreconditioner(jacobi, space)
    rng = np.random.default_rng(12)
    u, v = padded_zeros(k.shape, np.float64), padded_zeros(k.shape, np.float64)
    u[1:-1, 1:-1, 1:-1] = rng.standard_normal(k.shape)
    v[1:-1, 1:-1, 1:-1] = rng.standard_normal(k.shape)
    mu, mv = np.zeros_like(u), np.zeros_like(v)
    u0 = u.copy()
    pre.apply(u, mu)
    pre.apply(v, mv)
    np.testing.assert_array_equal(u, u0)  # the residual is given back unchanged
    assert np.sum(u * mv) == pytest.approx(np.sum(v * mu), rel=1e-12)
    assert np.sum(u * mu) > 0
    # M_d (A Z c) = Z c: the coarse space is solved exactly
    c = rng.standard_normal(m)
    zc = np.zeros(k.size)
    zc[labels.ravel() > 0] = c[labels.ravel()[labels.ravel() > 0] - 1]
    azc = padded_zeros(k.shape, np.float64)
    azc[1:-1, 1:-1, 1:-1] = (_operator(g, (False,) * 3) @ zc).reshape(k.shape)
    out = np.zeros_like(azc)
    pre.apply(azc, out)
    np.testing.assert_allclose(out[1:-1, 1:-1, 1:-1].ravel(), zc, atol=1e-9 * np.abs(c).max())


# --- stopping ---------------------------------------------------------------------------


def test_change_ahead_asks_for_the_tail_only_when_convergence_is_slow():
    from uqtwin.solvers.stopping import change_ahead

    assert change_ahead(1e-5, 1.0, 0.0) == 1e-5  # first iteration: the change itself
    assert change_ahead(1e-5, 1.0, 10.0) == 1e-5  # q = 0.1
    assert change_ahead(1e-5, 1.0, 2.0) == 1e-5  # q = 0.5: tail = change
    assert change_ahead(1e-5, 0.8, 1.0) == pytest.approx(4e-5)  # q = 0.8: 4x
    assert change_ahead(1e-5, 1.0, 1.0) == np.inf


def test_unreachable_tolerances_report_the_precision_floor():
    k = _islands((12, 12, 12), 13, 30)
    s = solve_axis(k, axis=0, options=SolverOptions(flux_tol=0.0, change_tol=0.0,
                                                    max_iter=5000))
    assert not s.converged and s.stop_reason == "precision floor"
    assert s.iterations < 5000
    assert s.flux_mismatch < 1e-9  # it got as far as float64 potentials allow
    limited = solve_axis(k, axis=0, options=SolverOptions(max_iter=2))
    assert not limited.converged and limited.stop_reason == "iteration limit"
    assert solve_axis(k, axis=0).stop_reason == ""


@pytest.mark.slow
def test_kernels_compiled_in_process_and_loaded_from_cache_give_the_same_bits(tmp_path):
    # fastmath let LLVM reassociate sums differently in the two: results moved by ~1e-5
    import os
    import subprocess
    import sys

    script = (
        "import numpy as np\n"
        "from uqtwin.solvers import effective_tensor, SolverOptions\n"
        "rng = np.random.default_rng(0)\n"
        "k = np.where(rng.random((24, 24, 24)) < 0.15, 100.0, 0.01).astype(np.float32)\n"
        # float32 storage only: the float64 kernels are the same source (compiling both
        # doubled the test's time, ~60 s, for no other code path)
        "t = effective_tensor(k, options=SolverOptions(flux_tol=1e-9, change_tol=1e-9))\n"
        "print(t.tensor.tobytes().hex(), [s.iterations for s in t.axes])\n"
    )
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    runs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                           text=True, check=True, timeout=900).stdout for _ in range(2)]
    assert any(tmp_path.rglob("*.nbi"))  # the second run loaded from this cache
    assert runs[0] == runs[1]

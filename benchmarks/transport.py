"""Benchmark: uqtwin's tortuosity solver against TauFactor and PoreSpy, side by side.

Every solve runs in its own subprocess (so that peak resident memory is that solver's),
one after the other in one invocation (so that the machine load is comparable). Cases:
``porespy.generators.blobs(shape=[N]*3, porosity=0.45, blobiness=1.5, seed=42)`` for the
given sizes, transport along the last array axis, and the pore phase of the shared
``tf_electrode.tiff`` (256³) along array axis 0. The reference τ is uqtwin's solve
converged to 1e-9. Then the ensemble timing through the engine's warm-start path: 32
copies of the 128³ blobs with 2 % of the interface voxels flipped, each solved (three
axes, pore phase) from the reference's ``prepare`` hook, against one cold solve of the
reference and against cold solves of the same samples (τ must agree to 1e-4); the first
four samples are also solved to 1e-9 for the accuracy of both (outside the timings).
The uqtwin rows use the default tolerances (``SolverOptions()``).

Peers that are not installed are skipped (``pip install .[bench]``). Usage::

    OMP_WAIT_POLICY=PASSIVE python benchmarks/transport.py [--sizes 128 200] [--no-peers]
    OMP_WAIT_POLICY=PASSIVE python benchmarks/transport.py --ensemble-only [--ensemble 32]
    OMP_WAIT_POLICY=PASSIVE python benchmarks/transport.py --memory 500
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def _peak_rss_gb() -> float:
    """Peak resident memory of this process (VmHWM; ru_maxrss survives exec on Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _rss_gb() -> float:
    """Current resident memory of this process (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024**2
    return float("nan")


def _run_uqtwin(im, axis, tol):
    from uqtwin.solvers import SolverOptions, solve_axis

    # the boolean phase itself (1 byte a voxel): the solver's compact path for media of
    # one conductivity, the same numbers as float32 ones (uqtwin.solvers.binary)
    k = np.asarray(im, dtype=bool)
    solve_axis(k[:16, :16, :16], (1.0, 1.0, 1.0), axis)  # load the compiled kernels first
    opts = SolverOptions() if tol is None else SolverOptions(flux_tol=tol, change_tol=tol)
    before = _rss_gb()
    t0 = time.perf_counter()
    s = solve_axis(k, (1.0, 1.0, 1.0), axis, options=opts)
    dt = time.perf_counter() - t0
    tau = k.mean() / s.effective[axis] if s.percolates else float("inf")
    return {"tau": float(tau), "seconds": dt, "iterations": s.iterations,
            "rss_before_solve_gb": before, "voxels": int(k.size)}


def _run_taufactor(im, axis, tol):
    import taufactor
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    img = np.moveaxis(im, axis, 0).astype(np.float32)  # TauFactor drives along axis 0
    t0 = time.perf_counter()
    s = taufactor.Solver(img, device="cpu")
    tau = s.solve(verbose=False, conv_crit=1e-3)
    dt = time.perf_counter() - t0
    return {"tau": float(np.asarray(tau).ravel()[0]), "seconds": dt, "iterations": int(s.iter)}


def _run_porespy(im, axis, tol):
    import porespy as ps

    t0 = time.perf_counter()
    r = ps.simulations.tortuosity_fd(im.astype(bool), axis=axis)
    dt = time.perf_counter() - t0
    return {"tau": float(r.tortuosity), "seconds": dt, "iterations": None}


RUNNERS = {"uqtwin": _run_uqtwin, "taufactor": _run_taufactor, "porespy": _run_porespy}


def _child(args):
    im = np.load(args.image)
    tol = None if args.tol is None else float(args.tol)
    out = RUNNERS[args.solver](im, args.axis, tol)
    out["peak_rss_gb"] = _peak_rss_gb()
    print("RESULT " + json.dumps(out))


def _spawn(solver, image, axis, tol=None, timeout=1800):
    cmd = [sys.executable, __file__, "--child", "--solver", solver, "--image", str(image),
           "--axis", str(axis)] + ([] if tol is None else ["--tol", str(tol)])
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", PYTHONPATH=str(ROOT))
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout {timeout}s"}
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"error": (p.stderr.strip().splitlines() or ["failed"])[-1][:200]}


def _memory(n):
    """Peak resident memory of one solve of an ``n``³ random medium (porosity 0.45)."""
    im = _gaussian_pores(n, 0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "field.npy"
        np.save(path, im)
        r = _spawn("uqtwin", path, 0, timeout=3600)
    print(json.dumps({"memory": n, **r}))
    if "error" not in r:
        per_voxel = r["peak_rss_gb"] * 1024**3 / im.size
        solve = (r["peak_rss_gb"] - r["rss_before_solve_gb"]) * 1024**3 / im.size
        print(f"\n{n}³ random field (porosity {im.mean():.3f}), axis 0: τ = {r['tau']:.6f}, "
              f"{r['seconds']:.1f} s, {r['iterations']} CG iterations, peak RSS "
              f"{r['peak_rss_gb']:.2f} GB (the solving process, input included): "
              f"{per_voxel:.1f} bytes a voxel; {r['rss_before_solve_gb']:.2f} GB before the "
              f"solve (interpreter, compiled kernels, the input), the solve itself "
              f"{solve:.1f} bytes a voxel")


def _available(name):
    try:
        __import__(name)
        return True
    except Exception:  # noqa: BLE001 - any import failure means "skip this peer"
        return False


def _blobs(n):
    try:
        import porespy as ps

        return ps.generators.blobs(shape=[n] * 3, porosity=0.45, blobiness=1.5, seed=42), "porespy"
    except ImportError:  # same statistics, not the same voxels
        return _gaussian_pores(n, 42), "gaussian-filter fallback"


def _gaussian_pores(n, seed, porosity=0.45):
    """Thresholded Gaussian random field, ``n``³, correlation length ``n / 60`` voxels."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    f = ndimage.gaussian_filter(rng.standard_normal((n,) * 3), n / 40 / 1.5)
    return f < np.quantile(f, porosity)


def _perturb(im, rng, fraction=0.02):
    """Flip a random ``fraction`` of the interface voxels (a segmentation-noise sample)."""
    from scipy import ndimage

    interface = im ^ ndimage.binary_erosion(im) | (~im & ndimage.binary_dilation(im))
    idx = np.flatnonzero(interface)
    flip = rng.choice(idx, size=int(fraction * idx.size), replace=False)
    out = im.copy().ravel()
    out[flip] = ~out[flip]
    return out.reshape(im.shape)


def _ensemble(im, n_samples, chunk=8):
    """The engine's warm-start path on ``n_samples`` perturbed copies of ``im`` (pore = True).

    Exactly what a run with ``tortuosity_factor = {warm_start = true}`` does: the
    ``prepare`` hook solves the reference (most probable segmentation) once, then the
    samples' ``compute_quantities`` (three axes, phase "pore") start from it, run by the
    engine's local scheduler (:func:`uqtwin.engine.local.compute_local`: dask threads, one
    sample per core, each with ``cores // workers`` compiled threads). Timed against one
    cold ``compute_quantities`` with all cores (the same three solves). The samples go in
    chunks of ``chunk``; after each chunk its samples are solved cold one after the other
    (so warm and cold see the same load on a shared machine; τ must agree) and one at a
    time warm (the serial figure). "One cold solve" is the median of all cold solves.
    """
    import dask

    from uqtwin.engine.local import (
        compute_local,
        local_workers,
        threads_per_task,
        with_compiled_threads,
    )
    from uqtwin.microstructure import Microstructure
    from uqtwin.quantities.registry import compute_quantities, prepare_context
    from uqtwin.solvers import solve_axis

    phases = ("solid", "pore")
    opts = {"tortuosity_factor": {"warm_start": True}}

    def ms_of(mask, context=None):
        return Microstructure(mask.astype(np.uint8), (1.0, 1.0, 1.0), "um", phases,
                              context=context)

    def tau(ds):
        return ds["tortuosity_factor"].sel(phase="pore").values

    def iters(ds):
        return ds["diffusion_iterations"].sel(phase="pore").values

    k0 = im.astype(np.float32)
    solve_axis(k0[:16, :16, :16], (1.0, 1.0, 1.0), 2)  # load the compiled kernels first
    t0 = time.perf_counter()
    cold_ref = compute_quantities(ms_of(im), ["tortuosity_factor"], phases=["pore"])
    t_cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    context = prepare_context(ms_of(im), ["tortuosity_factor"], phases=["pore"],
                              options=opts)
    t_prepare = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    samples = [_perturb(im, rng) for _ in range(n_samples)]
    workers = local_workers(None)  # as the engine: one sample per core where it can
    threads = threads_per_task(workers)
    warm, cold, t_c = [], [], []
    t_warm = t_serial = 0.0
    for lo in range(0, n_samples, chunk):
        part = samples[lo:lo + chunk]
        tasks = [dask.delayed(with_compiled_threads, pure=False)(
            threads, compute_quantities, ms_of(s, context), ["tortuosity_factor"],
            phases=["pore"], options=opts) for s in part]
        t0 = time.perf_counter()
        warm.extend(compute_local(tasks, workers))
        t_warm += time.perf_counter() - t0
        for s in part:
            t1 = time.perf_counter()
            cold.append(compute_quantities(ms_of(s), ["tortuosity_factor"], phases=["pore"]))
            t_c.append(time.perf_counter() - t1)
        t0 = time.perf_counter()
        for s in part:
            compute_quantities(ms_of(s, context), ["tortuosity_factor"], phases=["pore"],
                               options=opts)
        t_serial += time.perf_counter() - t0
    t_cold_all = sum(t_c)
    t_cold_median = float(np.median([t_cold, *t_c]))
    tw = np.array([tau(d) for d in warm])
    tc = np.array([tau(d) for d in cold])
    # accuracy (outside the timings): the first few samples solved to 1e-9
    n_tight = min(4, n_samples)
    tight = np.array([tau(compute_quantities(ms_of(s), ["tortuosity_factor"], phases=["pore"],
                                             options={"tortuosity_factor": {"tol": 1e-9}}))
                      for s in samples[:n_tight]])
    return {"samples": n_samples, "cold_seconds": t_cold, "cold_median_seconds": t_cold_median,
            "cold_iterations": iters(cold_ref).tolist(), "prepare_seconds": t_prepare,
            "threads_per_sample": threads, "cores": os.cpu_count(),
            "ensemble_seconds": t_warm, "ratio": t_warm / t_cold_median,
            "ratio_vs_reference_solve": t_warm / t_cold,
            "ratio_with_prepare": (t_warm + t_prepare) / t_cold_median,
            "serial_seconds": t_serial, "serial_ratio": t_serial / t_cold_median,
            "warm_iterations_mean": float(np.mean([iters(d) for d in warm])),
            "cold_iterations_mean": float(np.mean([iters(d) for d in cold])),
            "cold_ensemble_seconds": t_cold_all,
            "tau_max_rel_dev": float(np.max(np.abs(tw / tc - 1))),
            "tight_samples": n_tight,
            "tau_warm_max_rel_err": float(np.max(np.abs(tw[:n_tight] / tight - 1))),
            "tau_cold_max_rel_err": float(np.max(np.abs(tc[:n_tight] / tight - 1))),
            "tau_mean": tw.mean(axis=0).tolist(), "tau_std": tw.std(axis=0).tolist(),
            "tau_reference": tau(cold_ref).tolist()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[128, 200])
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--no-electrode", action="store_true")
    ap.add_argument("--ensemble", type=int, default=32)
    ap.add_argument("--ensemble-only", action="store_true",
                    help="only the ensemble timing (no per-solver cases)")
    ap.add_argument("--memory", type=int, default=0, metavar="N",
                    help="only a memory check: one uqtwin solve (axis 0) of an N³ "
                         "thresholded Gaussian random field in its own process")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--solver", help=argparse.SUPPRESS)
    ap.add_argument("--image", help=argparse.SUPPRESS)
    ap.add_argument("--axis", type=int, default=2, help=argparse.SUPPRESS)
    ap.add_argument("--tol", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return _child(args)
    if args.memory:
        return _memory(args.memory)

    peers = [] if args.no_peers else [p for p in ("taufactor", "porespy") if _available(p)]
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            im, origin = _blobs(n)
            path = Path(tmp) / f"blobs{n}.npy"
            np.save(path, np.ascontiguousarray(im))
            cases.append((f"blobs {n}³ ({origin}), axis 2", path, 2))
        tf = SHARED / "tf_electrode.tiff"
        if not args.no_electrode and tf.exists():
            import tifffile

            path = Path(tmp) / "tf_electrode.npy"
            np.save(path, tifffile.imread(tf) == 0)
            cases.append(("tf_electrode pore 256³, axis 0", path, 0))
        rows = []
        for name, path, axis in ([] if args.ensemble_only else cases):
            ref = _spawn("uqtwin", path, axis, tol=1e-9)
            res = {"uqtwin": _spawn("uqtwin", path, axis)}
            for p in peers:
                res[p] = _spawn(p, path, axis)
            rows.append((name, ref, res))
            print(json.dumps({"case": name, "reference": ref, **res}), flush=True)
        ens = None
        if args.ensemble:
            im128, _ = _blobs(128)
            ens = _ensemble(im128, args.ensemble)
            print(json.dumps({"ensemble": ens}), flush=True)

    print("\n| case | solver | τ | Δτ vs ref | time [s] | iterations | peak RSS [GB] "
          "| speed-up vs TauFactor |")
    print("|---|---|---|---|---|---|---|---|")
    for name, ref, res in rows:
        t_tf = res.get("taufactor", {}).get("seconds")
        for solver, r in res.items():
            if "error" in r:
                print(f"| {name} | {solver} | failed: {r['error']} | | | | | |")
                continue
            dev = (r["tau"] / ref["tau"] - 1) * 100 if "tau" in ref else float("nan")
            sp = f"{t_tf / r['seconds']:.1f}x" if t_tf else "–"
            print(f"| {name} | {solver} | {r['tau']:.5f} | {dev:+.3f}% | {r['seconds']:.1f} | "
                  f"{r['iterations'] if r['iterations'] is not None else '–'} | "
                  f"{r['peak_rss_gb']:.2f} | {sp} |")
        print(f"| {name} | reference (uqtwin, tol 1e-9) | {ref.get('tau', float('nan')):.5f} "
              f"| | {ref.get('seconds', float('nan')):.1f} | {ref.get('iterations')} | | |")
    if ens:
        _print_ensemble(ens)


def _print_ensemble(ens):
    fmt = ", ".join
    print(f"\nEnsemble (engine path: prepare hook + compute_quantities through the engine's "
          f"local scheduler, tortuosity_factor "
          f"warm_start=true, phase pore, 3 axes), {ens['samples']} samples of blobs 128³ "
          f"with 2 % of the interface voxels flipped:\n")
    print("| | time [s] | × one cold solve | CG iterations (z, y, x) |")
    print("|---|---|---|---|")
    c = ens["cold_median_seconds"]
    print(f"| one cold solve (median of the {ens['samples'] + 1} cold solves, 3 axes) | "
          f"{c:.2f} | 1 | |")
    print(f"| cold solve of the reference | {ens['cold_seconds']:.2f} | "
          f"{ens['cold_seconds'] / c:.2f} | {fmt(str(i) for i in ens['cold_iterations'])} |")
    print(f"| prepare hook (reference solve kept for reuse) | {ens['prepare_seconds']:.2f} | "
          f"{ens['prepare_seconds'] / c:.2f} | |")
    print(f"| {ens['samples']} samples, warm start, engine ({ens['cores']} at once, "
          f"{ens['threads_per_sample']} thread each) | {ens['ensemble_seconds']:.1f} | "
          f"**{ens['ratio']:.2f}** ({ens['ratio_with_prepare']:.2f} with the prepare hook) | "
          f"mean {ens['warm_iterations_mean']:.1f} |")
    print(f"| {ens['samples']} samples, warm start, one at a time (all threads each) | "
          f"{ens['serial_seconds']:.1f} | {ens['serial_ratio']:.2f} | |")
    print(f"| {ens['samples']} samples, cold | {ens['cold_ensemble_seconds']:.1f} | "
          f"{ens['cold_ensemble_seconds'] / c:.2f} | mean {ens['cold_iterations_mean']:.1f} |")
    spread = zip(ens['tau_mean'], ens['tau_std'], strict=True)
    print(f"\nτ warm vs cold, same samples: max relative deviation "
          f"{ens['tau_max_rel_dev']:.1e}; τ (z, y, x) = "
          f"{fmt(f'{m:.4f} ± {sd:.4f}' for m, sd in spread)}"
          f" (reference {fmt(f'{t:.4f}' for t in ens['tau_reference'])})")
    print(f"τ against the same samples solved to tol 1e-9 (first {ens['tight_samples']}): "
          f"max relative error warm {ens['tau_warm_max_rel_err']:.1e}, cold "
          f"{ens['tau_cold_max_rel_err']:.1e}")


if __name__ == "__main__":
    main()

r"""Benchmark: the conduction solve with and without deflation of the binder islands.

The effective electronic conductivity of an electrode (carbon-binder 100 S/m, NMC
0.01 S/m, pore 0: the demo's material cards) is solved on each member twice with the
default tolerances, once with plain multigrid-preconditioned CG
(``SolverOptions(deflation="off")``) and once with the default ``deflation="auto"``
(:mod:`uqtwin.solvers.deflation`), in one process and alternating which goes first; the
call is the one :func:`uqtwin.quantities.transport.effective_conductivity` makes
(:func:`uqtwin.solvers.effective_tensor` on the conductivity field, three axes). The
reference is the deflated solve converged to ``--ref-tol`` (1e-9); ``--cross-check``
also converges the plain solve of the first member of each source that far (slow: it
needs thousands of iterations) to show that the reference does not depend on deflation.

Members (any combination):

* ``--npz FILE ...``: saved label volumes (arrays ``labels`` of shape (n, nz, ny, nx),
  0 pore / 1 binder / 2 active, and ``spacing``), e.g. members of an ensemble run;
* ``--demo N``: the first N members the demo configuration's sampler draws
  (:func:`uqtwin.data.demo_config`, seeds as the engine's; the fit takes ~20 s);
* ``--synthetic N``: 64³ phantoms, spheres (:func:`uqtwin.phantoms.spheres_with_binder`)
  with a nanoporous binder film or bridges (:func:`uqtwin.phantoms.nanoporous_binder`)
  whose solid part breaks into islands, cycling through three textures.

``--baseline MODULE`` adds the default solver of another revision ("before"): a package
importable as ``MODULE`` that provides ``effective_tensor`` and ``SolverOptions``, e.g.
the solvers of commit ``REV`` made importable under another name::

    mkdir -p /tmp/base && git archive REV uqtwin | tar -x -C /tmp/base
    mv /tmp/base/uqtwin /tmp/base/uqtwin_base
    grep -rl 'uqtwin\.' /tmp/base/uqtwin_base | xargs sed -i 's/uqtwin\./uqtwin_base./g'
    PYTHONPATH=/tmp/base python benchmarks/deflation.py --baseline uqtwin_base.solvers ...

Usage (2 cores shared: pin the threads and compare ratios, not seconds)::

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 python benchmarks/deflation.py --synthetic 6
    NUMBA_NUM_THREADS=1 python benchmarks/deflation.py --npz old.npz new.npz --cross-check
"""

from __future__ import annotations

import argparse
import importlib
import time
import warnings

import numpy as np

from uqtwin import solvers
from uqtwin.solvers import SolverOptions

SIGMA = np.array([0.0, 100.0, 0.01], dtype=np.float32)  # pore, binder, active (S/m)
TEXTURES = (  # (domain, solid share, solid binder fraction) of the nanoporous binder
    ("film", 0.3, 0.10),
    ("film", 0.4, 0.12),
    ("bridges", 0.5, 0.12),
)


def _synthetic(n: int):
    from uqtwin.phantoms import ACTIVE, nanoporous_binder, spheres_with_binder

    for i in range(n):
        domain, share, fraction = TEXTURES[i % len(TEXTURES)]
        active = spheres_with_binder((64, 64, 64), binder_thickness=0, porosity=0.35,
                                     seed=i) == ACTIVE
        labels = nanoporous_binder(active, fraction=fraction, solid_share=share,
                                   domain=domain, seed=i)
        yield f"synthetic {i} ({domain}, share {share})", labels, (1.0, 1.0, 1.0)


def _demo(n: int):
    import tempfile

    from uqtwin.data import demo_config
    from uqtwin.engine import pipeline

    if n <= 0:
        return
    with tempfile.TemporaryDirectory() as tmp:
        cfg = demo_config(tmp, n_samples=n)
        prep = pipeline.prepare(cfg, lambda *a, **k: None)
        for i in range(n):
            seed = pipeline.sample_seed(cfg.sampler.seed, i)
            labels = pipeline.draw_sample(prep.sampler, seed, cfg.segment, prep.phases)
            yield f"demo {i}", labels, tuple(float(s) for s in prep.spacing)


def _npz(paths):
    for path in paths:
        data = np.load(path)
        spacing = tuple(float(s) for s in data["spacing"])
        for i, labels in enumerate(data["labels"]):
            yield f"{path.rsplit('/', 1)[-1]} {i}", labels, spacing


def _runner(module, options):
    def run(k, spacing):
        t0 = time.perf_counter()
        sol = module.effective_tensor(k, spacing, options=options)
        return sol, time.perf_counter() - t0

    return run


def _axes(sol, attr):
    return ",".join(str(getattr(s, attr, 0)) for s in sol.axes)


def _modes(baseline: str | None) -> dict:
    """Name -> solve function: the baseline's default solver (if any), plain, deflated."""
    modes = {}
    if baseline:
        modes["before"] = _runner(importlib.import_module(baseline),
                                  importlib.import_module(baseline).SolverOptions())
    modes["plain"] = _runner(solvers, SolverOptions(deflation="off"))
    modes["deflated"] = _runner(solvers, SolverOptions())
    return modes


def _header(modes) -> str:
    names = list(modes)
    cols = (["member", "clusters (z,y,x)"] + [f"iterations {m}" for m in names]
            + [f"time {m} [s]" for m in names]
            + [f"speed-up deflated vs {m}" for m in names if m != "deflated"]
            + [f"max rel. error {m}" for m in names] + ["converged " + " / ".join(names)])
    return "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--npz", nargs="+", default=[], help="saved label volumes")
    ap.add_argument("--demo", type=int, default=0, help="members drawn by the demo sampler")
    ap.add_argument("--synthetic", type=int, default=0, help="64³ phantom members")
    ap.add_argument("--baseline", default=None,
                    help="importable solver package of another revision (see the docstring)")
    ap.add_argument("--repeats", type=int, default=1, help="timings per solve (min taken)")
    ap.add_argument("--ref-tol", type=float, default=1e-9)
    ap.add_argument("--cross-check", action="store_true",
                    help="converge the plain solve of each source's first member too")
    args = ap.parse_args(argv)
    if not (args.npz or args.demo or args.synthetic):
        args.synthetic = 6
    warnings.simplefilter("ignore")  # non-convergence shows in the table
    modes = _modes(args.baseline)
    tight = _runner(solvers, SolverOptions(flux_tol=args.ref_tol, change_tol=args.ref_tol,
                                           max_iter=5000))
    # compile (or load) every kernel of every path before timing: a 32³ two-phase medium
    # with islands has multigrid levels and deflates
    warm = np.where(np.random.default_rng(0).random((32, 32, 32)) < 0.2, SIGMA[1], SIGMA[2])
    for run in modes.values():
        run(warm, (1.0, 1.0, 1.0))

    members = [*_npz(args.npz), *_demo(args.demo), *_synthetic(args.synthetic)]
    print(_header(modes))
    names = list(modes)
    totals = dict.fromkeys(names, 0.0)
    worst = dict.fromkeys(names, 0.0)
    ratios = {m: [] for m in names if m != "deflated"}
    seen = set()
    for name, labels, spacing in members:
        k = SIGMA[labels]
        best = dict.fromkeys(names, np.inf)
        sols = {}
        for rep in range(args.repeats):
            for mode in names[rep % len(names):] + names[:rep % len(names)]:  # rotate
                sol, dt = modes[mode](k, spacing)
                best[mode] = min(best[mode], dt)
                sols[mode] = sol
        ref, _ = tight(k, spacing)
        exact = np.diag(ref.tensor)
        err = {m: float(np.max(np.abs(np.diag(s.tensor) / exact - 1))) for m, s in sols.items()}
        source = name.rsplit(" ", 1)[0]
        note = ""
        if args.cross_check and source not in seen:
            check, _ = _runner(solvers, SolverOptions(flux_tol=args.ref_tol,
                                                      change_tol=args.ref_tol,
                                                      max_iter=20000, deflation="off"))(k, spacing)
            note = (f" (reference: {_axes(ref, 'iterations')} it.; plain to "
                    f"{args.ref_tol:g}: {_axes(check, 'iterations')} it., differs by "
                    f"{np.max(np.abs(np.diag(check.tensor) / exact - 1)):.1e})")
        seen.add(source)
        if not all(a.converged for a in ref.axes):
            note += " (reference not converged)"
        for m in names:
            totals[m] += best[m]
            worst[m] = max(worst[m], err[m])
        for m in ratios:
            ratios[m].append(best[m] / best["deflated"])
        cells = ([f"{name}{note}", _axes(sols["deflated"], "deflated_clusters")]
                 + [_axes(sols[m], "iterations") for m in names]
                 + [f"{best[m]:.2f}" for m in names]
                 + [f"{ratios[m][-1]:.2f}x" for m in ratios]
                 + [f"{err[m]:.1e}" for m in names]
                 + [" / ".join(str(all(a.converged for a in sols[m].axes)) for m in names)])
        print("| " + " | ".join(cells) + " |", flush=True)
    print(f"\nall {len(members)} members: total time "
          + ", ".join(f"{m} {totals[m]:.2f} s" for m in names) + "; "
          + "; ".join(f"deflated vs {m}: {totals[m] / totals['deflated']:.2f}x in total, "
                      f"per member median {np.median(r):.2f}x, range "
                      f"{min(r):.2f}-{max(r):.2f}x" for m, r in ratios.items())
          + "; max relative error of the diagonal against the reference: "
          + ", ".join(f"{m} {worst[m]:.1e}" for m in names))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

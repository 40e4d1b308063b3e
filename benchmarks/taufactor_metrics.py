"""Surface areas and connectivity: uqtwin side by side with TauFactor's metrics.

Compares, in one process, uqtwin's smoothed-marching-cubes surface area and its
percolating fraction with TauFactor 1.2's ``taufactor.metrics`` (``specific_surface_area``
by its three methods, ``extract_through_feature``) and PoreSpy 3.2's surface area
(``metrics.mesh_surface_area`` of ``tools.mesh_region``) on a ball of known area and on
the pore phase of ``../shared/data/tf_electrode.tiff``. Prints Markdown tables; each
surface-area time is the best of ``--repeat`` runs (default 2), after one warm-up call of
each tool. TauFactor and PoreSpy come from the optional ``bench`` extra (``pip install
torch==2.13.0`` first, then ``pip install .[bench]``); without them the script prints
uqtwin's rows only.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/taufactor_metrics.py [--surface-only]
        [--repeat 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from uqtwin.morphology import surface_area
from uqtwin.morphology.boundaries import interfacial_areas
from uqtwin.quantities.connectivity import cluster_fractions

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _timed(fn, repeat=1):
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return out, best


def _ball(n=64, r=20.0):
    c = (n - 1) / 2 + 0.3
    z, y, x = np.ogrid[:n, :n, :n]
    return ((z - c) ** 2 + (y - c) ** 2 + (x - c) ** 2 <= r * r).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--surface-only", action="store_true",
                        help="only the surface-area table")
    parser.add_argument("--repeat", type=int, default=2,
                        help="surface areas: best of this many timed runs")
    args = parser.parse_args()
    repeat = max(1, args.repeat)
    try:
        import taufactor.metrics as tm
    except ImportError:
        tm = None
    try:
        import porespy as ps
    except ImportError:
        ps = None
    # Warm-up: numba's cached kernels, torch's and PoreSpy's first calls.
    warm = _ball(16, 5.0)
    surface_area(warm.astype(bool))
    if tm is not None:
        tm.specific_surface_area(warm, phases={"p": 1}, method="gradient", device="cpu")
    if ps is not None:
        ps.metrics.mesh_surface_area(ps.tools.mesh_region(warm.astype(bool)))
    cases = [("ball r = 20 in 64³ (exact area 5026.5)", _ball(), 4 * np.pi * 20.0**2)]
    if (SHARED / "tf_electrode.tiff").is_file():
        import tifffile

        tf = tifffile.imread(SHARED / "tf_electrode.tiff")
        cases.append(("tf_electrode pore, 256³", (tf == 0).astype(np.uint8), None))
    print("| volume | tool, method | area [voxel²] | vs exact | time [s] |")
    print("|---|---|---|---|---|")
    for name, mask, exact in cases:
        area, dt = _timed(lambda m=mask: surface_area(m.astype(bool)), repeat)
        rows = [("uqtwin, smoothed marching cubes", area, dt)]
        area0, dt0 = _timed(lambda m=mask: surface_area(m.astype(bool), iterations=0),
                            repeat)
        rows.append(("uqtwin, plain marching cubes", area0, dt0))
        if tm is not None:
            for method in ("gradient", "face_counting", "marching_cubes"):
                res, dt = _timed(lambda m=mask, k=method: tm.specific_surface_area(
                    m, phases={"p": 1}, method=k, device="cpu"), repeat)
                # TauFactor reports area per total volume
                rows.append((f"TauFactor, {method}", float(res["p"]) * mask.size, dt))
        if ps is not None:
            # PoreSpy pads with zeros, so the box sides are counted as surface too.
            a, dt = _timed(lambda m=mask: ps.metrics.mesh_surface_area(
                ps.tools.mesh_region(m.astype(bool))), repeat)
            rows.append(("PoreSpy, `mesh_surface_area` (ball(1) blur + marching cubes)",
                         float(a), dt))
        for tool, a, dt in rows:
            rel = f"{100 * (a / exact - 1):+.1f} %" if exact else ""
            print(f"| {name} | {tool} | {a:,.0f} | {rel} | {dt:.3f} |", flush=True)
    if len(cases) > 1 and not args.surface_only:
        mask = cases[1][1]
        print()
        print("| tf_electrode pore | tool | percolating fraction z, y, x | time [s] |")
        print("|---|---|---|---|")
        fr, dt = _timed(lambda: cluster_fractions(mask.astype(bool), 6)[:, 0])
        print(f"| | uqtwin (6-connected) | {', '.join(f'{v:.5f}' for v in fr)} | {dt:.2f} |")
        if tm is not None:
            vals, total = [], 0.0
            for ax in ("x", "y", "z"):  # TauFactor's axis names, array axes 0, 1, 2
                out, dt = _timed(lambda a=ax: tm.extract_through_feature(mask, 1, a,
                                                                        connectivity=1))
                vals.append(float(np.ravel(out[1])[0]))
                total += dt
            print(f"| | TauFactor `extract_through_feature` (connectivity 1) | "
                  f"{', '.join(f'{v:.5f}' for v in vals)} | {total:.2f} |")

        labels = np.searchsorted([0, 85, 170], tf).astype(np.uint8)  # 0 pore, 1 NMC, 2 CBD
        names = ("pore", "NMC", "CBD")
        print()
        print("| tf_electrode | tool | volume fractions pore, NMC, CBD | time [s] |")
        print("|---|---|---|---|")
        vf, dt = _timed(lambda: np.bincount(labels.ravel(), minlength=3) / labels.size)
        print(f"| | uqtwin | {', '.join(f'{v:.5f}' for v in vf)} | {dt:.2f} |")
        if tm is not None:
            res, dt = _timed(lambda: tm.volume_fraction(labels, phases={n: i for i, n
                                                                        in enumerate(names)}))
            print(f"| | TauFactor `volume_fraction` | "
                  f"{', '.join(f'{float(res[n]):.5f}' for n in names)} | {dt:.2f} |")
        pairs = [(0, 1), (0, 2), (1, 2)]
        print()
        print("| tf_electrode | tool, method | interface area pore–NMC, pore–CBD, NMC–CBD "
              "[voxel²] | time [s] |")
        print("|---|---|---|---|")
        ia, dt = _timed(lambda: interfacial_areas(labels, (1, 1, 1), pairs, n_phases=3))
        print(f"| | uqtwin, smoothed marching cubes | {', '.join(f'{v:,.0f}' for v in ia)} "
              f"| {dt:.2f} |")
        ia0, dt = _timed(lambda: interfacial_areas(labels, (1, 1, 1), pairs, n_phases=3,
                                                   smoothing_iterations=0))
        print(f"| | uqtwin, plain marching cubes | {', '.join(f'{v:,.0f}' for v in ia0)} "
              f"| {dt:.2f} |")
        if tm is not None:
            res, dt = _timed(lambda: tm.interfacial_areas(labels, normalize=False,
                                                          device="cpu"))
            print(f"| | TauFactor `interfacial_areas`, face counting | "
                  f"{', '.join(f'{res.get(p, 0.0):,.0f}' for p in pairs)} | {dt:.2f} |")


if __name__ == "__main__":
    sys.exit(main())

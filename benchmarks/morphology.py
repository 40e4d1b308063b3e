"""Morphology benchmark: uqtwin against PoreSpy, each case in its own process.

Usage::

    python benchmarks/morphology.py [--volumes blobs200 tf_electrode] [--skip-porosimetry]
        [--cases uqtwin_surface_area porespy_surface_area] [--repeat 2]

Prints a Markdown table (value, wall time, peak resident memory of the process, and the
peak before the timed call: interpreter and volume, e.g. PoreSpy's blob generator).
Wall time and peak include importing the library and numba's JIT (or loading its
on-disk cache: `--repeat 2` shows the warm figure). Needs
``pip install porespy openpnm`` (the ``bench`` extra). Volumes: ``blobs200`` is
``porespy.generators.blobs(shape=[200]*3, porosity=0.45, blobiness=1.5, seed=42)`` (pore
= True; generated once into the temporary directory, then loaded), ``tf_electrode`` the
shared 256³ NMC electrode (pore = 0, active = 85).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
#: The blob volume, generated once (PoreSpy's generator alone peaks at ~0.6 GB and imports
#: PoreSpy, which would hide both in every case's figures).
BLOBS_CACHE = Path(tempfile.gettempdir()) / "uqtwin_bench_blobs200.npy"


def _load(volume: str):

    if volume == "blobs200":
        import numpy as np

        if BLOBS_CACHE.exists():
            pore = np.load(BLOBS_CACHE)
        else:
            import porespy as ps

            pore = ps.generators.blobs(shape=[200] * 3, porosity=0.45, blobiness=1.5, seed=42)
            pore = pore.astype(bool)
            np.save(BLOBS_CACHE, pore)
        return pore, ~pore, (1.0, 1.0, 1.0)
    import tifffile

    labels = tifffile.imread(SHARED / "tf_electrode.tiff")
    # Voxel units, as PoreSpy works in voxels.
    return labels == 0, labels == 85, (1.0, 1.0, 1.0)


def _case(volume: str, case: str) -> dict:
    """Run one case in this process; report value and wall time (voxel units)."""
    import numpy as np

    pore, solid, spacing = _load(volume)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    t0 = time.perf_counter()
    if case == "uqtwin_local_thickness":
        from uqtwin.morphology import local_thickness

        lt = local_thickness(pore, spacing)[pore]
        value = f"mean d {lt.mean():.3f}"
    elif case == "porespy_local_thickness":
        import porespy as ps

        lt = ps.filters.local_thickness(pore)[pore]  # radius, method "bf"
        value = f"mean d {2 * lt.mean():.3f}"
    elif case == "uqtwin_intrusion":
        from uqtwin.morphology import intrusion_size

        d = intrusion_size(pore, spacing, face="z-")[pore]
        value = f"reached {np.mean(d > 0):.4f}, mean d {d[d > 0].mean():.3f}"
    elif case == "porespy_porosimetry":
        import porespy as ps

        inlets = np.zeros_like(pore)
        inlets[0] = True
        r = ps.filters.porosimetry(pore, inlets=inlets)[pore]  # radius, method "dt"
        value = f"reached {np.mean(r > 0):.4f}, mean d {2 * r[r > 0].mean():.3f}"
    elif case == "uqtwin_particles":
        from uqtwin.morphology import particle_labels, particle_table

        t = particle_table(particle_labels(solid, spacing), spacing, with_sphericity=False)
        k = ~t["border"]
        dv = (t["volume"][k] * t["diameter"][k]).sum() / t["volume"][k].sum()
        value = f"{len(t['label'])} regions, vol-mean d (non-border) {dv:.3f}"
    elif case == "porespy_snow2":
        import porespy as ps

        snow = ps.filters.snow_partitioning(solid, r_max=4, sigma=0.4)
        regions = snow.regions
        n = int(regions.max())
        counts = np.bincount(regions.ravel())[1:]
        d = np.cbrt(6 * counts[counts > 0] / np.pi)
        dv = (counts[counts > 0] * d).sum() / counts.sum()
        value = f"{n} regions, vol-mean d (all) {dv:.3f}"
    elif case == "uqtwin_surface_area":
        from uqtwin.morphology import surface_area

        value = f"area {surface_area(pore, spacing):.1f}"
    elif case == "porespy_surface_area":
        import porespy as ps

        # PoreSpy's recipe: ball(1) blur, zero padding (box sides count), marching cubes.
        value = f"area {ps.metrics.mesh_surface_area(ps.tools.mesh_region(pore)):.1f}"
    elif case == "mc_surface_area":
        from uqtwin.morphology import surface_area

        value = f"area {surface_area(pore, spacing, iterations=0):.1f}"
    elif case == "uqtwin_connectivity":
        from uqtwin.quantities.connectivity import cluster_fractions

        f = cluster_fractions(pore, 26)
        value = "percolating z,y,x " + ", ".join(f"{v:.4f}" for v in f[:, 0])
    else:
        raise SystemExit(f"unknown case {case}")
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    return {"volume": volume, "case": case, "value": value, "time_s": wall, "peak_gb": peak,
            "base_gb": base}


CASES = [
    "uqtwin_surface_area", "mc_surface_area", "porespy_surface_area",
    "uqtwin_local_thickness", "porespy_local_thickness",
    "uqtwin_intrusion", "porespy_porosimetry",
    "uqtwin_particles", "porespy_snow2",
    "uqtwin_connectivity",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volumes", nargs="+", default=["blobs200", "tf_electrode"])
    parser.add_argument("--skip-porosimetry", action="store_true")
    parser.add_argument("--cases", nargs="+", choices=CASES, default=CASES,
                        help="run only these cases (default: all)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each case this many times, show the last (warm caches)")
    parser.add_argument("--case", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--prepare", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        _load(args.prepare)
        return
    if args.case:
        print(json.dumps(_case(*args.case)))
        return
    print("| volume | case | value | time (s) | peak RSS (GB) | RSS before call (GB) |")
    print("|---|---|---|---|---|---|")
    for volume in args.volumes:
        if volume == "blobs200" and not BLOBS_CACHE.exists():
            subprocess.run([sys.executable, __file__, "--prepare", volume], check=True, cwd=ROOT)
        for case in args.cases:
            if args.skip_porosimetry and case == "porespy_porosimetry":
                continue
            for _ in range(max(1, args.repeat)):
                proc = subprocess.run(
                    [sys.executable, __file__, "--case", volume, case],
                    capture_output=True, text=True, cwd=ROOT,
                )
            if proc.returncode:
                err = proc.stderr.strip().splitlines()[-1]
                print(f"| {volume} | {case} | failed: {err} | | | |")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"| {volume} | {case} | {r['value']} | {r['time_s']:.1f} | "
                  f"{r['peak_gb']:.2f} | {r['base_gb']:.2f} |", flush=True)


if __name__ == "__main__":
    main()

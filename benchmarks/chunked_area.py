r"""Benchmark: surface area of a phase, whole vs chunk by chunk (time, peak memory, error).

The active phase of ``../shared/data/tf_electrode.tiff`` (256³ labels; without it a random
blob volume) is stored as a ``.npy`` file and memory-mapped, then its surface area is
computed by :func:`uqtwin.morphology.surface_area` on the whole mask and by
:func:`uqtwin.morphology.surface_area_by_chunks` with several chunk sides and halos. Each
row runs in a fresh process; peak memory is its ``VmHWM`` (Linux).

Usage::

    python benchmarks/chunked_area.py [--rows "whole" "128,16" "64,16" "128,8"]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "tf_electrode.tiff"
STORE = Path("/tmp/uqtwin_chunked_area.npy")


def _mask() -> np.ndarray:
    if SHARED.exists():
        import tifffile

        raw = tifffile.imread(SHARED)
        return raw == raw.max()
    from scipy import ndimage

    rng = np.random.default_rng(0)
    return ndimage.gaussian_filter(rng.random((256, 256, 256)), 3.0) > 0.5


def child(row: str) -> None:
    from uqtwin.morphology import surface_area, surface_area_by_chunks

    mask = np.load(STORE, mmap_mode="r")
    start = time.perf_counter()
    if row == "whole":
        area = surface_area(np.asarray(mask))
    else:
        chunk, halo = (int(v) for v in row.split(","))
        area = surface_area_by_chunks(mask, chunk=chunk, halo=halo)
    seconds = time.perf_counter() - start
    status = Path("/proc/self/status").read_text().split("\n")
    peak = next(int(x.split()[1]) for x in status if x.startswith("VmHWM")) / 1024
    print(f"{area!r} {seconds:.2f} {peak:.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", nargs="*", default=["whole", "128,16", "64,16", "128,8"])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return
    np.save(STORE, _mask())
    # compile (or load from numba's cache) once, outside the measured processes
    subprocess.run([sys.executable, __file__, "--child", "64,16"], check=True,
                   capture_output=True)
    results = {}
    for row in args.rows:
        out = subprocess.run([sys.executable, __file__, "--child", row], check=True,
                             capture_output=True, text=True).stdout.split()
        results[row] = (float(out[0]), float(out[1]), float(out[2]))
    whole = results.get("whole", (None,))[0]
    print("| chunk, halo | area (voxel²) | relative to whole | s | peak MiB |")
    print("|---|---|---|---|---|")
    for row, (area, seconds, peak) in results.items():
        rel = f"{(area - whole) / whole:.1e}" if whole and row != "whole" else "—"
        print(f"| {row} | {area:.1f} | {rel} | {seconds:.2f} | {peak:.0f} |")


if __name__ == "__main__":
    main()

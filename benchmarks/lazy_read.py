r"""Benchmark: peak memory of reading a volume whole vs lazily, chunk by chunk.

A 512³ uint16 TIFF (256 MiB of voxels; ImageJ-contiguous, and a zlib-compressed copy) is
read by :func:`uqtwin.io.read_volume` eagerly and with ``chunks=`` (dask's threaded
scheduler), and its mean is computed. Each row runs in a fresh subprocess, so its peak
resident memory (``VmHWM``, Linux) is that read's alone.

Usage::

    python benchmarks/lazy_read.py [--size 512] [--folder /tmp/lazybench]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

#: name -> (file variant, chunks); ``None`` chunks reads whole, "imports" reads nothing.
ROWS = {
    "imports only": ("plain", "imports"),
    "eager": ("plain", None),
    "lazy, chunks (64, N, N)": ("plain", "slab"),
    "lazy, chunks 'auto'": ("plain", "auto"),
    "lazy, chunks (64, N, N), zlib pages": ("zlib", "slab"),
    "eager, zlib pages": ("zlib", None),
}


def child(path: Path, chunks: str | None) -> None:
    from uqtwin.io import read_volume

    start = time.perf_counter()
    mean = None
    if chunks is None:
        mean = float(read_volume(path).mean())
    elif chunks != "imports":
        size = int(path.stem.split("_")[1])
        spec = "auto" if chunks == "auto" else (64, size, size)
        vol = read_volume(path, chunks=spec)
        mean = float(vol.data.mean(dtype="f8").compute())
    seconds = time.perf_counter() - start
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec (the forked parent's
    # pages count), while the high-water mark belongs to this process image alone.
    status = Path("/proc/self/status").read_text().split("\n")
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024
    print(f"{peak:.0f} {seconds:.2f} {mean}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--folder", type=Path, default=Path("/tmp/lazybench"))
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        path, chunks = args.child
        child(Path(path), None if chunks == "none" else chunks)
        return
    import numpy as np
    import tifffile

    n = args.size
    args.folder.mkdir(parents=True, exist_ok=True)
    files = {"plain": args.folder / f"v_{n}_plain.tif", "zlib": args.folder / f"v_{n}_zlib.tif"}
    if not all(f.exists() for f in files.values()):
        arr = np.random.default_rng(0).integers(0, 60000, (n, n, n), dtype=np.uint16)
        tifffile.imwrite(files["plain"], arr, imagej=True, metadata={"axes": "ZYX"})
        tifffile.imwrite(files["zlib"], arr, compression="zlib")
        del arr
    print(f"| read ({n}³ uint16) | peak MiB | s |")
    print("|---|---|---|")
    for name, (variant, chunks) in ROWS.items():
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(files[variant]), chunks or "none"],
            check=True, capture_output=True, text=True).stdout.split()
        print(f"| {name} | {out[0]} | {out[1]} |", flush=True)


if __name__ == "__main__":
    main()

r"""Benchmark: the default pipeline on a whole scan, stage by stage, and the denoiser.

Two parts, both in one process on this machine:

* ``--nlm N ...``: non-local means on an N³ grey volume (tf_electrode's labels imaged with
  a 0.9-voxel blur and Gaussian noise), scikit-image's ``denoise_nl_means(fast_mode=True)``
  beside :func:`uqtwin.segment.nlm.nl_means` with the same patch (3) and search (5)
  sizes and the same ``h = 0.8 sigma``: seconds, ratio, PSNR against the noise-free
  image. ``--skip-skimage-above N`` leaves scikit-image out above N³ (it takes minutes).
* ``--draw N ...``: one member of the default sampler on an N³ volume drawn whole and
  chunk by chunk (``--chunk``, default 256), each in its own process: seconds, peak
  memory above the volume and model, and whether the labels are the same.
* ``--run N``: the default run (``uqtwin run`` with the default sampler and quantities,
  ``--samples`` members) on an N³ grey volume with photon noise (``--photons``), the
  run's own table of seconds per stage (the one every run prints at the end of its log)
  and the peak memory.

The grey volume comes from ``../shared/data/tf_electrode.tiff`` (256³ labels; larger
sizes tile it by mirroring), or, without it, from a packing of spheres with binder.

Usage::

    python benchmarks/pipeline.py --nlm 64 128 256 --skip-skimage-above 128
    python benchmarks/pipeline.py --run 256 --samples 16
    python benchmarks/pipeline.py --draw 256 384 512 --chunk 128
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "tf_electrode.tiff"
MEANS = (40.0, 110.0, 190.0)  # pore, binder, active grey levels


def labels_of(n: int) -> np.ndarray:
    """Phase indices (0 pore, 1 binder, 2 active) of an n³ electrode."""
    if SHARED.exists():
        import tifffile

        raw = tifffile.imread(SHARED)
        lab = np.searchsorted(np.unique(raw), raw).astype(np.uint8)
        reps = [-(-n // s) for s in lab.shape]
        # mirror-tile so that larger volumes have no seams
        tiles = lab
        for axis, r in enumerate(reps):
            parts = [tiles if i % 2 == 0 else np.flip(tiles, axis) for i in range(r)]
            tiles = np.concatenate(parts, axis=axis)
        return np.ascontiguousarray(tiles[:n, :n, :n])
    from uqtwin.phantoms import spheres_with_binder

    return spheres_with_binder((n, n, n), radius=(4.0, 9.0), seed=1)


def grey(n: int, photons: float | None, read_noise: float = 0.0):
    from uqtwin.phantoms import image_phantom

    return image_phantom(labels_of(n), MEANS, blur_sigma=0.9, photons=photons,
                         read_noise=read_noise, seed=0)


def bench_nlm(sizes, skip_above: int) -> None:
    from skimage.restoration import denoise_nl_means

    from uqtwin.segment.nlm import nl_means

    nl_means(np.zeros((8, 8, 8)), h=1.0)  # compile (or load the cache) outside the timing
    print("| N³ | scikit-image s | uqtwin s | ratio | PSNR noisy | PSNR scikit-image | "
          "PSNR uqtwin |")
    print("|---|---|---|---|---|---|---|")
    for n in sizes:
        clean = grey(n, None).values.astype(np.float64)
        noisy = grey(n, None, read_noise=20.0).values.astype(np.float64)
        kw = dict(h=0.8 * 20.0, sigma=20.0, patch_size=3, patch_distance=5)

        def psnr(a, clean=clean):
            return 10 * np.log10(np.ptp(clean) ** 2 / np.mean((a - clean) ** 2))

        t = time.perf_counter()
        ours = nl_means(noisy, **kw)
        t_ours = time.perf_counter() - t
        if n <= skip_above:
            t = time.perf_counter()
            ref = denoise_nl_means(noisy, fast_mode=True, **kw)
            t_ref = time.perf_counter() - t
            ref_cols = f"{t_ref:.1f} | {t_ours:.2f} | {t_ref / t_ours:.1f} | "
            ref_psnr = f"{psnr(ref):.2f}"
        else:
            ref_cols, ref_psnr = f"— | {t_ours:.2f} | — | ", "—"
        print(f"| {n} | {ref_cols}{psnr(noisy):.2f} | {ref_psnr} | {psnr(ours):.2f} |",
              flush=True)


def bench_run(n: int, samples: int, photons: float, workers: int | None) -> None:
    from uqtwin.engine.config import check_config
    from uqtwin.engine.pipeline import run
    from uqtwin.engine.sections import (
        EngineConfig,
        InputConfig,
        OutputConfig,
        RunConfig,
        SamplerConfig,
    )
    from uqtwin.io import write_volume

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"scan{n}.tif"
        write_volume(grey(n, photons), path)
        cfg = check_config(RunConfig(
            input=InputConfig(path=str(path), format="tiff"),
            sampler=SamplerConfig(n_samples=samples),
            engine=EngineConfig(workers=workers),
            output=OutputConfig(path=str(Path(tmp) / "results.nc")),
        ))
        t = time.perf_counter()
        run(cfg, log=lambda msg: print(f"[{time.perf_counter() - t:7.1f} s] {msg}",
                                       flush=True))
        total = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"\n{n}³, {samples} members: {total:.1f} s in all, peak RSS {peak:.2f} GB "
          f"({peak * 1024**3 / n**3:.0f} bytes per voxel)")


def _draw_child(n: int, chunk: int | None) -> None:
    """In a child process: draw one member of an n³ volume; print seconds and peak RSS."""
    import pickle
    import sys

    from uqtwin.sample import ambiguity

    state = pickle.loads(sys.stdin.buffer.read())
    reps = [-(-n // s) for s in state.volume.shape]
    volume = np.tile(state.volume, reps)[:n, :n, :n].copy()
    state = ambiguity.AmbiguityState(volume, state.phases, state.options, state.em, None,
                                     state.posterior)
    rng = np.random.default_rng(1)
    member = state.draw_member(rng)
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak to the current RSS
    base = _peak_mib()
    t = time.perf_counter()
    labels = ambiguity.sample_member(state, member, rng, chunk=chunk)
    dt = time.perf_counter() - t
    print(f"{dt:.2f} {base:.0f} {_peak_mib():.0f} {int(labels.sum())}")


def _peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_draw(sizes, chunk: int) -> None:
    """One member drawn whole and chunk by chunk: seconds, peak memory, same labels."""
    import pickle
    import subprocess
    import sys

    from uqtwin.sample import ambiguity

    # the model fitted once on a 128³ scan, its grey volume tiled to n³ in each child
    state = ambiguity.create(grey(128, 100.0), ("pore", "binder", "active"), seed=0)
    blob = pickle.dumps(state)
    print("| N³ | whole s | whole peak MiB above the volume | chunked s | chunked peak MiB "
          "| same labels |")
    print("|---|---|---|---|---|---|")
    for n in sizes:
        out = {}
        for c in (None, chunk):
            res = subprocess.run([sys.executable, __file__, "--draw-child", str(n),
                                  str(c or 0)], input=blob, capture_output=True, check=True)
            out[c] = res.stdout.decode().split()
        (tw, bw, pw, sw), (tc, bc, pc, sc) = out[None], out[chunk]
        print(f"| {n} | {tw} | {float(pw) - float(bw):.0f} | {tc} | "
              f"{float(pc) - float(bc):.0f} | {sw == sc} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nlm", type=int, nargs="*", default=[])
    ap.add_argument("--skip-skimage-above", type=int, default=128)
    ap.add_argument("--run", type=int, default=None)
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--photons", type=float, default=100.0)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--draw", type=int, nargs="*", default=[])
    ap.add_argument("--chunk", type=int, default=256)
    ap.add_argument("--draw-child", type=int, nargs=2, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.draw_child:
        n, c = args.draw_child
        _draw_child(n, c or None)
        return
    if args.draw:
        bench_draw(args.draw, args.chunk)
    if args.nlm:
        bench_nlm(args.nlm, args.skip_skimage_above)
    if args.run:
        bench_run(args.run, args.samples, args.photons, args.workers)


if __name__ == "__main__":
    main()

"""Calibration study: do the samplers' intervals contain the truth as often as they claim?

For each phantom realisation (a known label volume imaged with blur, photon and read
noise), every sampler draws an ensemble; the volume fraction and specific surface area
(:func:`uqtwin.quantities.surface_area.specific_surface_area`) of every phase are computed
on each member and on the truth. A nominal ``p`` interval covers when it contains the
true value. Intervals are **equal-tailed** (sample quantiles ``(1 - p)/2`` and
``(1 + p)/2``, linear interpolation), which for these unimodal ensembles differ little
from the engine's HDI.

Phantoms (crops 40³): crops of ``tf_electrode.tiff`` (a realistic NMC cathode), packed
spheres and calendered ellipsoids with binder, with varied blur (0.6-1.0 voxel), photon
counts and noise seeds; two FIB-SEM-like cases with spacing (2, 1, 1) and a stronger blur
along z. Even-numbered cases are the training half (where ``effective_voxels`` of the
coarsened posterior was chosen), odd-numbered the held-out half; both are reported.

Segmentation runs on the raw grey volume (no denoising): the partial-volume mixture
models the noise itself.

Run::

    /work/venv/bin/python benchmarks/calibration.py            # full study, ~10 min
    /work/venv/bin/python benchmarks/calibration.py --cases 4  # smoke test
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from uqtwin.microstructure import Microstructure
from uqtwin.phantoms import PHASES, calendered_ellipsoids, image_phantom, spheres_with_binder
from uqtwin.quantities.surface_area import specific_surface_area
from uqtwin.sample.correlated import sample_correlated
from uqtwin.sample.independent import sample_independent
from uqtwin.sample.parametric import ParametricOptions, ParametricSampler
from uqtwin.segment.bayes import BayesOptions, fit_bayesian_mixture
from uqtwin.segment.mixture import fit_mixture, phase_posteriors
from uqtwin.segment.mrf import potts_mean_field
from uqtwin.segment.partial_volume import pv_phase_posteriors

TF = Path(__file__).resolve().parents[2] / "shared" / "data" / "tf_electrode.tiff"
SAMPLERS = ("independent", "correlated", "pv_mrf_correlated", "parametric", "parametric_mrf")
PROBS = (0.5, 0.9)
SIZE = 40
#: Potts strength of the MRF variants (the PottsOptions default).
MRF_BETA = 0.7


@dataclass(frozen=True)
class Case:
    """One phantom realisation."""

    name: str
    truth: np.ndarray
    spacing: tuple[float, float, float]
    blur: tuple[float, float, float]
    photons: float
    seed: int


def _tf_labels() -> np.ndarray | None:
    if not TF.exists():
        return None
    import tifffile

    tf = tifffile.imread(TF)
    # 0 pore, 85 NMC, 170 binder -> grey order 0 pore, 1 binder, 2 active.
    return np.select([tf == 0, tf == 170, tf == 85], [0, 1, 2]).astype(np.uint8)


def make_cases(n_cases: int) -> list[Case]:
    """The phantom realisations, deterministic."""
    rng = np.random.default_rng(2026)
    tf = _tf_labels()
    cases: list[Case] = []
    for i in range(n_cases):
        seed = 100 + i
        blur = float(rng.uniform(0.6, 1.0))
        photons = float(rng.choice([200.0, 400.0, 800.0]))
        spacing = (1.0, 1.0, 1.0)
        kind = i % 5
        if i in (7, 16):  # FIB-SEM-like: thick slices, more blur along z
            kind = 99
        if kind in (0, 1, 2, 99) and tf is not None:
            z, y, x = (int(rng.integers(0, 256 - SIZE * (2 if kind == 99 else 1) + 1)),
                       int(rng.integers(0, 256 - SIZE + 1)), int(rng.integers(0, 256 - SIZE + 1)))
            if kind == 99:
                # Slices 2 voxels thick: average pairs of label slices by taking every
                # other one (the labels of a coarser z grid), blur 1.6x along z.
                truth = tf[z:z + 2 * SIZE:2, y:y + SIZE, x:x + SIZE]
                spacing, bl = (2.0, 1.0, 1.0), (1.6 * blur, blur, blur)
                name = "tf-fibsem"
            else:
                truth = tf[z:z + SIZE, y:y + SIZE, x:x + SIZE]
                bl, name = (blur,) * 3, "tf-crop"
        elif kind == 3 or (tf is None and kind != 4):
            truth = spheres_with_binder((SIZE,) * 3, radius=(4.0, 8.0), porosity=0.4,
                                        binder_thickness=1.0, seed=seed)
            bl, name = (blur,) * 3, "spheres"
        else:
            truth = calendered_ellipsoids((SIZE,) * 3, porosity=0.35, binder_thickness=1.0,
                                          seed=seed)
            bl, name = (blur,) * 3, "ellipsoids"
        cases.append(Case(f"{i:02d} {name}", np.ascontiguousarray(truth), spacing, bl,
                          photons, seed))
    return cases


def quantities(labels: np.ndarray, spacing) -> np.ndarray:
    """Volume fractions then specific surface areas (1/voxel-length unit), 6 values."""
    vf = np.bincount(labels.reshape(-1), minlength=3)[:3] / labels.size
    ms = Microstructure(labels, spacing, "um", PHASES)
    ssa = specific_surface_area(ms)["specific_surface_area"].values
    return np.concatenate([vf, ssa])


def ensembles(case: Case, n_samples: int, bayes: BayesOptions, popts: ParametricOptions):
    """Quantities of every member of every sampler's ensemble, and timings."""
    vol = image_phantom(case.truth, (45.0, 105.0, 175.0), spacing=case.spacing,
                        blur_sigma=case.blur, photons=case.photons, read_noise=3.0,
                        seed=case.seed)
    out, times = {}, {}
    t = time.perf_counter()
    em = fit_mixture(vol, 3, seed=case.seed, phases=PHASES)
    plain = phase_posteriors(vol, em, phases=PHASES).values
    post = fit_bayesian_mixture(vol, 3, bayes, seed=case.seed, init=em, phases=PHASES)
    times["fit"] = time.perf_counter() - t
    sampler = ParametricSampler.create(vol, post, PHASES, popts)
    mrf = ParametricSampler.create(vol, post, PHASES, ParametricOptions(beta=MRF_BETA))
    pv_point = potts_mean_field(pv_phase_posteriors(vol, post.point(), phases=PHASES).values,
                                MRF_BETA, popts.n_iter)
    seeds = [int(s) for s in np.random.SeedSequence(case.seed).generate_state(n_samples)]
    draw = {
        "independent": lambda s: sample_independent(plain, s),
        "correlated": lambda s: sample_correlated(
            plain, s, correlation_length=popts.correlation_length),
        "pv_mrf_correlated": lambda s: sample_correlated(
            pv_point, s, correlation_length=popts.correlation_length),
        "parametric": sampler.sample,
        "parametric_mrf": mrf.sample,
    }
    for name in SAMPLERS:
        t = time.perf_counter()
        out[name] = np.array([quantities(draw[name](s), case.spacing) for s in seeds])
        times[name] = time.perf_counter() - t
    return out, times


def interval(values: np.ndarray, prob: float) -> np.ndarray:
    """Equal-tailed interval per column, shape (2, n)."""
    return np.quantile(values, [(1 - prob) / 2, (1 + prob) / 2], axis=0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=20)
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--verbose", action="store_true", help="print truth and medians")
    ap.add_argument("--effective-voxels", type=float, default=BayesOptions.effective_voxels)
    args = ap.parse_args(argv)
    bayes = BayesOptions(effective_voxels=args.effective_voxels)
    popts = ParametricOptions()
    cases = make_cases(args.cases)
    qnames = [f"vf {p}" for p in PHASES] + [f"ssa {p}" for p in PHASES]
    cover = {s: {p: [] for p in PROBS} for s in SAMPLERS}
    width = {s: {p: [] for p in PROBS} for s in SAMPLERS}
    t0 = time.perf_counter()
    for case in cases:
        truth = quantities(case.truth, case.spacing)
        ens, times = ensembles(case, args.samples, bayes, popts)
        if args.verbose:
            print(case.name, "truth", np.round(truth, 3))
            for s in SAMPLERS:
                print(f"   {s:18s}", np.round(np.median(ens[s], axis=0), 3),
                      "90% width", np.round(np.ptp(interval(ens[s], 0.9), axis=0), 3))
        line = [f"{case.name:16s}"]
        for s in SAMPLERS:
            for p in PROBS:
                lo, hi = interval(ens[s], p)
                cover[s][p].append((lo <= truth) & (truth <= hi))
                width[s][p].append(hi - lo)
            line.append(f"{s[:3]}{s[-3:]} {''.join('x' if c else '.' for c in cover[s][0.9][-1])}")
        print("  ".join(line), f"fit {times['fit']:.0f}s param {times['parametric']:.0f}s",
              flush=True)
    print(f"\n{len(cases)} cases, {args.samples} samples each, effective_voxels="
          f"{bayes.effective_voxels:g}, {time.perf_counter() - t0:.0f} s\n")
    halves = {"all": slice(None), "train (even)": slice(0, None, 2),
              "held-out (odd)": slice(1, None, 2)}
    print("| sampler | cases | cov50 all | cov90 all | cov90 VF | cov90 SSA | "
          + " | ".join(f"cov90 {q}" for q in qnames) + " |")
    print("|---" * (6 + len(qnames)) + "|")
    for s in SAMPLERS:
        for hname, sl in halves.items():
            c50 = np.array(cover[s][0.5])[sl]
            c90 = np.array(cover[s][0.9])[sl]
            per_q = " | ".join(f"{v:.0%}" for v in c90.mean(axis=0))
            print(f"| {s} | {hname} | {c50.mean():.0%} | {c90.mean():.0%} | "
                  f"{c90[:, :3].mean():.0%} | {c90[:, 3:].mean():.0%} | {per_q} |")
    print("\nMean 90 % interval widths (VF: volume fraction; SSA: 1/um, voxel = 1 um in y, x)")
    print("| sampler | " + " | ".join(qnames) + " |")
    print("|---" * (1 + len(qnames)) + "|")
    for s in SAMPLERS:
        w = np.array(width[s][0.9]).mean(axis=0)
        print(f"| {s} | " + " | ".join(f"{v:.4f}" for v in w) + " |")
    print("\nMean 50 % interval widths")
    print("| sampler | " + " | ".join(qnames) + " |")
    print("|---" * (1 + len(qnames)) + "|")
    for s in SAMPLERS:
        w = np.array(width[s][0.5]).mean(axis=0)
        print(f"| {s} | " + " | ".join(f"{v:.4f}" for v in w) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

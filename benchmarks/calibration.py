"""Calibration study: do the samplers' intervals contain the truth as often as they claim?

For each phantom realisation (a known label volume imaged with blur, photon and read
noise, then denoised with :func:`uqtwin.segment.denoise.denoise_nlm` as the pipeline
does), every sampler draws an ensemble; the volume fraction and specific surface area
(:func:`uqtwin.quantities.surface_area.specific_surface_area`) of every phase are computed
on each member and on the truth. A nominal ``p`` interval covers when it contains the
true value. Intervals are highest-density intervals from :func:`arviz.hdi`, as in the
engine's summary.

Phantoms (32³): crops of ``tf_electrode.tiff`` at different offsets, two packed-sphere and
two calendered-ellipsoid phantoms with one-voxel binder films, two FIB-SEM-like cases
(spacing (2, 1, 1), blur 1.6x larger along z); blur 0.6-1.0 voxel, 200-800 photons per
voxel on average, read noise 3 grey units. Even-numbered cases are the calibration half
(where the ambiguity sampler's three priors are fitted: the active-boundary share ``q``,
the solid share ``s`` of the middle-grey domain, its texture length), odd-numbered the
validation half; both are reported, with the coverage an exact sampler would reach with
the same number of members.

Fits are done once per case and shared by the samplers (and cached on disk with
``--cache DIR``).

Run::

    /work/venv/bin/python benchmarks/calibration.py            # full study, ~11 min
    /work/venv/bin/python benchmarks/calibration.py --cases 4 --samples 8  # smoke test
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from uqtwin.microstructure import Microstructure
from uqtwin.phantoms import PHASES, calendered_ellipsoids, image_phantom, spheres_with_binder
from uqtwin.quantities.surface_area import specific_surface_area
from uqtwin.sample import ambiguity
from uqtwin.sample.correlated import sample_correlated
from uqtwin.sample.independent import sample_independent
from uqtwin.sample.parametric import ParametricOptions, ParametricSampler
from uqtwin.segment.bayes import BayesOptions, fit_bayesian_mixture
from uqtwin.segment.denoise import denoise_nlm
from uqtwin.segment.mixture import fit_mixture

TF = Path(__file__).resolve().parents[2] / "shared" / "data" / "tf_electrode.tiff"
SAMPLERS = ("independent", "correlated", "parametric", "ambiguity")
PROBS = (0.5, 0.9)
SIZE = 32
MEANS = (45.0, 105.0, 175.0)
#: Correlation length of the plain ``correlated`` sampler and the parametric one (voxels).
CORRELATION = 1.0


@dataclass(frozen=True)
class Case:
    """One phantom realisation."""

    name: str
    truth: np.ndarray
    spacing: tuple[float, float, float]
    blur: tuple[float, float, float]
    photons: float
    seed: int


def _tf_labels() -> np.ndarray:
    import tifffile

    tf = tifffile.imread(TF)
    # 0 pore, 85 NMC, 170 binder -> grey order 0 pore, 1 binder, 2 active.
    return np.select([tf == 0, tf == 170, tf == 85], [0, 1, 2]).astype(np.uint8)


def make_cases(n_cases: int) -> list[Case]:
    """The phantom realisations, deterministic. Kinds cycle so any prefix is mixed."""
    rng = np.random.default_rng(2026)
    tf = _tf_labels()
    # 22 cases: 14 tf crops, 2 spheres, 2 ellipsoids, 2 FIB-SEM, interleaved so that both
    # halves (even/odd) get every kind.
    kinds = ["tf", "tf", "spheres", "ellipsoids", "tf", "fib", "tf", "tf", "spheres",
             "tf", "ellipsoids", "tf", "fib", "tf", "tf", "tf", "tf", "tf", "tf", "tf",
             "tf", "tf"]
    cases: list[Case] = []
    for i in range(n_cases):
        kind = kinds[i % len(kinds)]
        seed = 100 + i
        blur = float(rng.uniform(0.6, 1.0))
        photons = float(rng.uniform(200.0, 800.0))
        spacing = (1.0, 1.0, 1.0)
        bl = (blur,) * 3
        n = tf.shape[0]
        z, y, x = (int(v) for v in rng.integers(0, n - 2 * SIZE + 1, 3))
        if kind == "tf":
            truth = tf[z:z + SIZE, y:y + SIZE, x:x + SIZE]
        elif kind == "fib":
            # Slices twice as thick as the in-plane pixels: every other label slice, and
            # a point spread 1.6x wider along z (in voxels).
            truth = tf[z:z + 2 * SIZE:2, y:y + SIZE, x:x + SIZE]
            spacing, bl = (2.0, 1.0, 1.0), (1.6 * blur, blur, blur)
        elif kind == "spheres":
            truth = spheres_with_binder((SIZE,) * 3, radius=(4.0, 8.0), porosity=0.4,
                                        binder_thickness=1.0, seed=seed)
        else:
            truth = calendered_ellipsoids((SIZE,) * 3, porosity=0.35, binder_thickness=1.0,
                                          seed=seed)
        cases.append(Case(f"{i:02d} {kind}", np.ascontiguousarray(truth), spacing, bl,
                          photons, seed))
    return cases


def quantities(labels: np.ndarray, spacing) -> np.ndarray:
    """Volume fractions then specific surface areas (1/um), 6 values."""
    vf = np.bincount(labels.reshape(-1), minlength=3)[:3] / labels.size
    ms = Microstructure(labels, spacing, "um", PHASES)
    ssa = specific_surface_area(ms)["specific_surface_area"].values
    return np.concatenate([vf, ssa])


def fit_case(case: Case, cache: Path | None, use_nuts: bool = False) -> dict:
    """Denoise and fit once per case; shared by every sampler (and cached on disk)."""
    tag = "_nuts" if use_nuts else ""
    path = cache / f"{case.name.replace(' ', '_')}{tag}.pkl" if cache else None
    if path is not None and path.exists():
        return pickle.loads(path.read_bytes())
    t = time.perf_counter()
    raw = image_phantom(case.truth, MEANS, spacing=case.spacing, blur_sigma=case.blur,
                        photons=case.photons, read_noise=3.0, seed=case.seed)
    vol = denoise_nlm(raw, patch_distance=3)
    em = fit_mixture(vol, 3, seed=case.seed, phases=PHASES)
    amb = ambiguity.create(vol, PHASES, ambiguity.AmbiguityOptions(psf_sigma=case.blur),
                           seed=case.seed, em=em)
    t_amb = time.perf_counter() - t
    # The parametric sampler uses the same bootstrap posterior unless --nuts asks for its
    # own NUTS fit (10-60 s per case on 2 shared cores, which does not fit the budget).
    nuts = (fit_bayesian_mixture(vol, 3, BayesOptions(), seed=case.seed, init=em,
                                 phases=PHASES) if use_nuts else amb.posterior)
    out = {"state": amb, "nuts": nuts, "t_fit": t_amb, "t_nuts": time.perf_counter() - t - t_amb}
    if path is not None:
        path.write_bytes(pickle.dumps(out))
    return out


def calibrate_shares(cases: list[Case], fits: list[dict]):
    """Per case the ``q`` and ``s`` that reproduce its true active and middle fractions.

    ``q`` from the point posteriors' mean active probability, linear in ``q``; ``s`` from
    the mean middle-phase probability at the prior-mean ``q`` fitted on the calibration
    (even) half. Returns both arrays and the Beta priors fitted to the calibration half.
    """
    q = []
    for case, fit in zip(cases, fits, strict=True):
        st = fit["state"]
        pv = float(st.pv_posteriors(None)[2].mean())
        plain = float(st.plain[2].mean())
        true = float(np.mean(case.truth == 2))
        q.append((true - pv) / (plain - pv) if abs(plain - pv) > 1e-6 else 0.5)
    q = np.array(q)
    q_prior = ambiguity.fit_share_prior(q[0::2])
    q_mean = q_prior[0] / sum(q_prior)
    s = []
    for case, fit in zip(cases, fits, strict=True):
        st = fit["state"]
        mid = float(((1.0 - st.active_probability(None, q_mean)) * st.middle_ratios()[0]).mean())
        s.append(float(np.mean(case.truth == 1)) / mid)
    s = np.array(s)
    return q, q_prior, s, ambiguity.fit_share_prior(s[0::2])


#: Texture lengths (voxels) tried when calibrating the texture prior.
TEXTURE_GRID = (0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0)


def _crossing(grid, err) -> float:
    """Where ``err`` (decreasing with the length) crosses 0, linearly interpolated."""
    for k in range(len(grid) - 1):
        if err[k] >= 0 > err[k + 1]:
            return grid[k] + err[k] / (err[k] - err[k + 1]) * (grid[k + 1] - grid[k])
    return grid[0] if err[0] < 0 else grid[-1]


def calibrate_texture(case: Case, fit: dict, q: float, s: float, n: int = 4) -> tuple:
    """Texture lengths that reproduce the case's pore and middle-phase surface areas.

    Members at fixed ``q`` (prior mean) and the case's own ``s``; the median areas of
    ``n`` members per length on :data:`TEXTURE_GRID`; the crossing of each relative error.
    """
    st = fit["state"]
    truth = quantities(case.truth, case.spacing)[3:5]
    err = []
    for ell in TEXTURE_GRID:
        member = ambiguity.Member(None, q, s, ell)
        vals = [quantities(ambiguity.sample_member(st, member, np.random.default_rng(k)),
                           case.spacing)[3:5] for k in range(n)]
        err.append(np.median(vals, axis=0) / truth - 1.0)
    err = np.array(err)
    return tuple(_crossing(TEXTURE_GRID, err[:, j]) for j in range(2))


def ensembles(case: Case, fit: dict, n_samples: int, options: ambiguity.AmbiguityOptions,
              samplers: tuple[str, ...] = SAMPLERS) -> dict[str, np.ndarray]:
    """Quantities of every member of every sampler's ensemble.

    ``options`` are the ambiguity sampler's calibrated priors; its point spread is set to
    the case's.
    """
    st = fit["state"]
    st = ambiguity.AmbiguityState(st.volume, st.phases,
                                  replace(options, psf_sigma=case.blur),
                                  st.em, st.plain, st.posterior)
    plain = st.plain
    param = ParametricSampler.create(st.volume, fit["nuts"], PHASES,
                                     ParametricOptions(correlation_length=CORRELATION))
    seeds = [int(s) for s in np.random.SeedSequence(case.seed).generate_state(n_samples)]
    draw = {
        "independent": lambda s: sample_independent(plain, s),
        "correlated": lambda s: sample_correlated(plain, s, correlation_length=CORRELATION),
        "parametric": param.sample,
        "ambiguity": st.sample,
    }
    return {name: np.array([quantities(draw[name](s), case.spacing) for s in seeds])
            for name in samplers}


def hdi(values: np.ndarray, prob: float) -> np.ndarray:
    """arviz HDI per column (as the engine's summary), shape (2, n)."""
    import arviz

    return np.array([arviz.hdi(values[:, j], hdi_prob=prob) for j in range(values.shape[1])]).T


def calibrate(cases: list[Case], fits: list[dict],
              scale: float) -> ambiguity.AmbiguityOptions:
    """The ambiguity sampler's priors, fitted on the calibration (even) half only."""
    q, q_prior, s, s_prior = calibrate_shares(cases, fits)
    print(f"\nq reproducing the true active fraction: calibration half {np.round(q[0::2], 2)}, "
          f"validation half {np.round(q[1::2], 2)} -> Beta({q_prior[0]:.2f}, {q_prior[1]:.2f})")
    print(f"s reproducing the true middle fraction: calibration half {np.round(s[0::2], 2)}, "
          f"validation half {np.round(s[1::2], 2)} -> Beta({s_prior[0]:.2f}, {s_prior[1]:.2f})")
    q_mean = q_prior[0] / sum(q_prior)
    lengths = []
    for case, fit, s_case in list(zip(cases, fits, s, strict=True))[0::2]:
        ells = calibrate_texture(case, fit, q_mean, float(s_case))
        print(f"texture {case.name:14s} from pore area {ells[0]:.2f}, "
              f"from middle area {ells[1]:.2f} voxels", flush=True)
        lengths.extend(ells)
    texture = ambiguity.fit_texture_prior(lengths)
    print(f"texture length prior: median {texture[0]:.2f} voxels, log sd {texture[1]:.2f}\n")
    return ambiguity.AmbiguityOptions(share_prior=q_prior, solid_prior=s_prior,
                                      texture_length=texture, correlation_scale=scale)


def ideal_coverage(n: int, prob: float, reps: int = 20000, seed: int = 0) -> float:
    """How often the ``prob`` HDI of ``n`` draws covers one more draw of the same law.

    The reference for the coverage columns: even an exact sampler's sample HDI covers
    less than its nominal ``prob`` with few members (normal draws; simulation).
    """
    import arviz

    x = np.random.default_rng(seed).standard_normal((reps, n + 1))
    hits = 0
    for row in x:
        lo, hi = arviz.hdi(row[:n], hdi_prob=prob)
        hits += lo <= row[n] <= hi
    return hits / reps


def _table(cover, width, halves, qnames, samplers) -> None:
    print("| sampler | half | cov50 | cov90 | cov90 VF | cov90 SSA | "
          + " | ".join(f"cov90 {q}" for q in qnames) + " |")
    print("|---" * (6 + len(qnames)) + "|")
    for s in samplers:
        for hname, sl in halves.items():
            c50, c90 = np.array(cover[s][0.5])[sl], np.array(cover[s][0.9])[sl]
            per_q = " | ".join(f"{v:.0%}" for v in c90.mean(axis=0))
            print(f"| {s} | {hname} | {c50.mean():.0%} | {c90.mean():.0%} | "
                  f"{c90[:, :3].mean():.0%} | {c90[:, 3:].mean():.0%} | {per_q} |")
    for p in PROBS:
        print(f"\nMean {p:.0%} interval widths (VF: volume fraction; SSA: 1/um)")
        print("| sampler | " + " | ".join(qnames) + " |")
        print("|---" * (1 + len(qnames)) + "|")
        for s in samplers:
            w = np.array(width[s][p]).mean(axis=0)
            print(f"| {s} | " + " | ".join(f"{v:.4f}" for v in w) + " |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=22)
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--cache", type=Path, default=None, help="folder for per-case fits")
    ap.add_argument("--correlation-scale", type=float,
                    default=ambiguity.AmbiguityOptions.correlation_scale,
                    help="ambiguity sampler: correlation length / psf sigma")
    ap.add_argument("--samplers", nargs="+", choices=SAMPLERS, default=list(SAMPLERS))
    ap.add_argument("--nuts", action="store_true",
                    help="parametric sampler on its own NUTS posterior (slow)")
    ap.add_argument("--verbose", action="store_true", help="print truth and medians")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)
    if args.cache:
        args.cache.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    cases = make_cases(args.cases)
    fits = []
    for case in cases:
        fits.append(fit_case(case, args.cache, args.nuts))
        print(f"fit {case.name:14s} ambiguity {fits[-1]['t_fit']:.1f}s "
              f"nuts {fits[-1]['t_nuts']:.1f}s", flush=True)
    options = calibrate(cases, fits, args.correlation_scale)
    qnames = [f"vf {p}" for p in PHASES] + [f"ssa {p}" for p in PHASES]
    samplers = tuple(args.samplers)
    cover = {s: {p: [] for p in PROBS} for s in samplers}
    width = {s: {p: [] for p in PROBS} for s in samplers}
    for case, fit in zip(cases, fits, strict=True):
        t = time.perf_counter()
        truth = quantities(case.truth, case.spacing)
        ens = ensembles(case, fit, args.samples, options, samplers)
        if args.verbose:
            print(case.name, "truth", np.round(truth, 3))
        line = [f"{case.name:14s}"]
        for s in samplers:
            for p in PROBS:
                lo, hi = hdi(ens[s], p)
                cover[s][p].append((lo <= truth) & (truth <= hi))
                width[s][p].append(hi - lo)
            if args.verbose:
                print(f"   {s:12s} median", np.round(np.median(ens[s], axis=0), 3),
                      "90% width", np.round(width[s][0.9][-1], 3))
            line.append(f"{s[:5]} {''.join('x' if c else '.' for c in cover[s][0.9][-1])}")
        print("  ".join(line), f"{time.perf_counter() - t:.0f}s", flush=True)
    print(f"\n{len(cases)} cases, {args.samples} samples each, "
          f"{time.perf_counter() - t0:.0f} s total ('x' = 90% HDI covers: vf pore, binder, "
          "active, ssa pore, binder, active)\n")
    halves = {"all": slice(None), "calibration (even)": slice(0, None, 2),
              "validation (odd)": slice(1, None, 2)}
    _table(cover, width, halves, qnames, samplers)
    print("\nAn exactly calibrated sampler's sample HDIs from "
          f"{args.samples} members cover a new draw at: "
          + ", ".join(f"{p:.0%} -> {ideal_coverage(args.samples, p):.1%}" for p in PROBS))
    return 0


if __name__ == "__main__":
    sys.exit(main())

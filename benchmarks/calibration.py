"""Calibration study: are the ambiguity sampler's intervals honest on families it never saw?

Design (leave one family out)
-----------------------------
Seven geometry families, each a different kind of microstructure, with a known truth:

==================  ==========================================================  ==========
family              geometry                                                     binder
==================  ==========================================================  ==========
tf                  crops of ``tf_electrode.tiff`` (NMC, textured CBD)           solid
spheres_film        packed spheres, one-voxel conformal film and necks           solid
ellipsoids_film     calendered spheroids, film and necks                         solid
nrel_bridges        crops of ``nrel_ellipsoids.tif`` + bridges at contacts       solid
flakes_bridges      graphite-like flakes + bridges at contacts                   solid
spheres_nanoporous  packed spheres + nanoporous CBD film (solid share 0.4-0.6)   nanoporous
flakes_nanoporous   flakes + nanoporous CBD bridges                              nanoporous
==================  ==========================================================  ==========

Every family is imaged at two voxel sizes (the label grid at the output grid, ``h = 1``,
and at twice its resolution, ``h = 2``: 64³ labels block-averaged to 32³ grey voxels, so
films and sub-voxel texture are partial volume), with imaging conditions drawn per case:
Gaussian point spread 0.5-2 output voxels (half the cases 1.6x narrower in-plane than
along z, as FIB-SEM and many CT reconstructions), 10-1000 photons per voxel
(log-uniform), read noise 0-5 grey, slice drift up to ±3 %. Each case goes through the
pipeline's own steps: the imaging conditions are measured on the raw scan
(:func:`uqtwin.segment.imaging.estimate_imaging`; a drift of 0.5 % or more and above
three standard errors is divided out), non-local means with the pipeline's defaults, the
plain mixture and the ambiguity sampler with the *measured* point spread.

Per case, with its truth (the only place truths are used):

* the nuisance values that reproduce it: ``q`` (active fraction), ``s`` (binder fraction,
  at that ``q``) and the texture length (pore and binder surface areas, grid search);
* the estimators' discrepancy: ``d = log(truth / median)`` of members drawn *at those
  nuisance values*, for every surface area, the pore tortuosity factor and the mean pore
  diameter — what remains wrong when the nuisances are right.

For each held-out family, the priors (``q``; ``s`` for solid and for nanoporous binder,
the default ``unknown`` prior being their equal mixture; texture length) and the
discrepancy terms (a linear trend in the measured point spread plus a residual sd beyond
the members' own spread) are fitted on the **other six families only**; the held-out
family's cases are then sampled with those and scored: coverage of the 50 % and 90 % HDIs
(``arviz.hdi``, as the engine) for the volume fraction and surface area of every phase,
the pore tortuosity factor along z, y, x and the mean pore diameter, with and without
the discrepancy terms, next to what an exact sampler scores with the same number of
members, and the mean interval widths next to an **oracle** whose priors and discrepancy
are fitted on the held-out family itself (it knows the family's nuisance values: the
width an honest interval needs when the family is known).

``--write-card`` fits everything on all families and writes the package's calibration
card ``models/calibration/ambiguity.json`` (the defaults of the sampler and of
:mod:`uqtwin.results.discrepancy`).

Run (numbers in benchmarks/README.md, "Calibration")::

    python benchmarks/calibration.py --cache /tmp/calcache --jobs 2 --write-card
    python benchmarks/calibration.py --per-family 2 --samples 8   # smoke test
"""

from __future__ import annotations

import os

# Many small volumes: one thread per process (numba, BLAS, OpenMP), processes side by
# side; threaded BLAS on 32³ problems only spins (3x slower under load, measured).
for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import pickle  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from dataclasses import dataclass, replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from uqtwin.engine.pipeline import MIN_DRIFT  # noqa: E402
from uqtwin.microstructure import Microstructure  # noqa: E402
from uqtwin.phantoms import (  # noqa: E402
    PHASES,
    binder_bridges,
    calendered_ellipsoids,
    graphite_flakes,
    image_phantom,
    nanoporous_binder,
    spheres_with_binder,
)
from uqtwin.quantities.pore_size import local_thickness  # noqa: E402
from uqtwin.quantities.surface_area import specific_surface_area  # noqa: E402
from uqtwin.quantities.transport import tortuosity_factor  # noqa: E402
from uqtwin.results.discrepancy import (  # noqa: E402
    COVARIATES,
    LOWER_BOUNDS,
    discrepancy_covariates,
)
from uqtwin.sample import ambiguity  # noqa: E402
from uqtwin.sample.priors import BetaMixture  # noqa: E402
from uqtwin.segment.denoise import denoise_nlm  # noqa: E402
from uqtwin.segment.imaging import (  # noqa: E402
    correct_drift,
    drift_is_significant,
    estimate_imaging,
)
from uqtwin.segment.mixture import fit_mixture  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
CARD = ROOT / "models" / "calibration" / "ambiguity.json"
SIZE = 32
MEANS = (45.0, 105.0, 175.0)
PROBS = (0.5, 0.9)
#: Columns of a case's quantity vector.
QNAMES = ("vf pore", "vf binder", "vf active", "ssa pore", "ssa binder", "ssa active",
          "tau z", "tau y", "tau x", "mpd")
#: Quantity classes scored separately (columns).
CLASSES = {"VF": [0, 1, 2], "SSA pore": [3], "SSA binder": [4], "SSA active": [5],
           "tau": [6, 7, 8], "MPD": [9]}
#: Discrepancy terms: (results variable, index, columns they scale, covariates they use).
#: Each term uses the blur and the chord length of the phase whose geometry it measures
#: (three covariates on a few dozen cases overfit: the two chords are collinear).
TERMS = (("specific_surface_area", {"phase": "pore"}, [3], ("psf_sigma", "log_chord_pore")),
         ("specific_surface_area", {"phase": "binder"}, [4], ("psf_sigma", "log_chord_pore")),
         ("specific_surface_area", {"phase": "active"}, [5],
          ("psf_sigma", "log_chord_active")),
         ("tortuosity_factor", {"phase": "pore"}, [6, 7, 8], ("psf_sigma", "log_chord_pore")),
         ("mean_pore_diameter", {}, [9], ("psf_sigma", "log_chord_pore")))
#: Texture lengths (voxels) tried when finding a case's own texture length.
TEXTURE_GRID = (0.3, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0)


# ----------------------------------------------------------------------------- families
def _crop(path: Path, n: int, rng: np.random.Generator) -> np.ndarray:
    import tifffile

    vol = tifffile.imread(path)
    z, y, x = (int(rng.integers(0, s - n + 1)) for s in vol.shape)
    return vol[z:z + n, y:y + n, x:x + n]


def _tf(n, rng, seed):
    tf = _crop(DATA / "tf_electrode.tiff", n, rng)
    # 0 pore, 85 NMC, 170 binder -> grey order 0 pore, 1 binder, 2 active.
    return np.select([tf == 0, tf == 170, tf == 85], [0, 1, 2]).astype(np.uint8)


def _spheres(n, rng, seed, thickness=1.0):
    return spheres_with_binder((n,) * 3, radius=(4.0, 8.0), porosity=0.4,
                               binder_thickness=thickness, seed=seed)


def _ellipsoids(n, rng, seed):
    return calendered_ellipsoids((n,) * 3, porosity=0.35, binder_thickness=1.0, seed=seed)


def _nrel_bridges(n, rng, seed):
    active = _crop(DATA / "nrel_ellipsoids.tif", n, rng) == 1
    return binder_bridges(active, fraction=0.08, seed=seed)


def _flakes(n, seed):
    # The flakes' own ids: thin overlapping flakes defeat a watershed of the mask.
    return graphite_flakes((n,) * 3, porosity=0.45, aspect=3.0, radius=(6.0, 10.0),
                           return_ids=True, seed=seed)


def _flakes_bridges(n, rng, seed):
    return binder_bridges(_flakes(n, seed), fraction=0.08, seed=seed)


def _spheres_nanoporous(n, rng, seed):
    active = spheres_with_binder((n,) * 3, radius=(4.0, 8.0), porosity=0.45,
                                 binder_thickness=1.0, seed=seed) == 2
    return nanoporous_binder(active, fraction=0.08, solid_share=float(rng.uniform(0.4, 0.6)),
                             texture_length=0.7, domain="film", seed=seed)


def _flakes_nanoporous(n, rng, seed):
    return nanoporous_binder(_flakes(n, seed), fraction=0.08,
                             solid_share=float(rng.uniform(0.4, 0.6)), texture_length=0.7,
                             domain="bridges", seed=seed)


#: name -> (label builder(fine size, rng, seed), binder kind)
FAMILIES = {
    "tf": (_tf, "solid"),
    "spheres_film": (_spheres, "solid"),
    "ellipsoids_film": (_ellipsoids, "solid"),
    "nrel_bridges": (_nrel_bridges, "solid"),
    "flakes_bridges": (_flakes_bridges, "solid"),
    "spheres_nanoporous": (_spheres_nanoporous, "nanoporous"),
    "flakes_nanoporous": (_flakes_nanoporous, "nanoporous"),
}


@dataclass(frozen=True)
class Case:
    """One phantom realisation: truth on the fine grid and how it is imaged."""

    name: str
    family: str
    binder: str
    truth: np.ndarray
    h: int  # label voxels per grey voxel along each axis
    blur: tuple[float, float, float]  # output voxels
    photons: float
    read_noise: float
    drift: float
    seed: int


def make_cases(per_family: int, families: list[str]) -> list[Case]:
    """Deterministic cases: per family, voxel sizes alternate, blur strata ascend."""
    cases = []
    for fi, fam in enumerate(families):
        build, binder = FAMILIES[fam]
        rng = np.random.default_rng([2026, fi])
        for k in range(per_family):
            h = 1 + k % 2
            # Stratified over 0.5-2 voxels so every family spans the whole range.
            strata = max(per_family // 2, 1)
            lo = 0.5 + 1.5 * (k // 2) / strata
            b = float(rng.uniform(lo, lo + 1.5 / strata))
            blur = (b, b / 1.6, b / 1.6) if rng.random() < 0.5 else (b, b, b)
            photons = float(np.exp(rng.uniform(np.log(10.0), np.log(1000.0))))
            seed = 1000 * fi + k
            truth = build(SIZE * h, rng, seed)
            cases.append(Case(f"{fam}-{k}", fam, binder, np.ascontiguousarray(truth), h,
                              blur, photons, float(rng.uniform(0.0, 5.0)),
                              float(rng.uniform(-0.03, 0.03)), seed))
    return cases


# ----------------------------------------------------------------------------- quantities
def quantities(labels: np.ndarray, spacing) -> np.ndarray:
    """The 10 scored numbers of one labelled volume (see :data:`QNAMES`)."""
    vf = np.bincount(labels.reshape(-1), minlength=3)[:3] / labels.size
    ms = Microstructure(labels, tuple(float(s) for s in spacing), "um", PHASES)
    ssa = specific_surface_area(ms)["specific_surface_area"].values
    tau = tortuosity_factor(ms, phases=["pore"])["tortuosity_factor"].values[0]
    pore = labels == 0
    mpd = float(local_thickness(pore, spacing)[pore].mean()) if pore.any() else np.nan
    return np.concatenate([vf, ssa, tau, [mpd]])


def _member(st, member, seed, spacing):
    return quantities(ambiguity.sample_member(st, member, np.random.default_rng(seed)),
                      spacing)


def _crossing(grid, err) -> float:
    """Where ``err`` (decreasing with the length) crosses 0, linearly interpolated."""
    for k in range(len(grid) - 1):
        if err[k] >= 0 > err[k + 1]:
            return grid[k] + err[k] / (err[k] - err[k + 1]) * (grid[k + 1] - grid[k])
    return grid[0] if err[0] < 0 else grid[-1]


def prepare_case(case: Case, cache: Path | None, n_oracle: int = 6) -> dict:
    """Image, measure, denoise, fit; the case's own nuisances and discrepancy (cached)."""
    path = cache / f"{case.name}.pkl" if cache else None
    if path is not None and path.exists():
        return pickle.loads(path.read_bytes())
    t0 = time.perf_counter()
    h = case.h
    raw = image_phantom(case.truth, MEANS, spacing=(float(h),) * 3, blur_sigma=case.blur,
                        supersample=h, photons=case.photons, read_noise=case.read_noise,
                        drift=case.drift, seed=case.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cond = estimate_imaging(raw, fit_mixture(raw, 3, seed=case.seed).means)
    if drift_is_significant(cond, MIN_DRIFT):
        raw = correct_drift(raw, cond.drift)
    vol = denoise_nlm(raw)
    em = fit_mixture(vol, 3, seed=case.seed, phases=PHASES)
    st = ambiguity.create(vol, PHASES, ambiguity.AmbiguityOptions(psf_sigma=cond.psf_sigma),
                          seed=case.seed, em=em)
    spacing = (float(h),) * 3
    truth = quantities(case.truth, (1.0, 1.0, 1.0))
    # q reproducing the true active fraction (the active probability is linear in q).
    pv, plain = float(st.pv_posteriors(None)[2].mean()), float(st.plain[2].mean())
    q = float(np.clip((truth[2] - pv) / (plain - pv), 0.01, 0.99)
              if abs(plain - pv) > 1e-6 else 0.5)
    mid = float(((1.0 - st.active_probability(None, q)) * st.middle_ratios()[0]).mean())
    s = float(np.clip(truth[1] / mid, 0.01, 0.99)) if mid > 0 else 0.5
    # Texture length reproducing the pore and binder areas (median of 3 members each).
    err = []
    for ell in TEXTURE_GRID:
        vals = [_member(st, ambiguity.Member(None, q, s, ell), k, spacing)[3:5]
                for k in range(3)]
        err.append(np.median(vals, axis=0) / truth[3:5] - 1.0)
    err = np.array(err)
    ells = [_crossing(TEXTURE_GRID, err[:, j]) for j in range(2)]
    texture = float(np.exp(np.mean(np.log(ells))))
    # Discrepancy: what stays wrong at the case's own nuisance values.
    oracle = np.array([_member(st, ambiguity.Member(None, q, s, texture), 100 + k, spacing)
                       for k in range(n_oracle)])
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(oracle)
        d = np.log(truth) - np.median(logs, axis=0)
        spread = np.std(logs, axis=0, ddof=1)
    point = np.argmax(st.pv_posteriors(None), axis=0).astype(np.uint8)
    out = {"state": st, "imaging": cond.to_dict(), "truth": truth, "q": q, "s": s,
           "texture": texture, "texture_pair": ells, "d": d, "spread": spread,
           "covariates": discrepancy_covariates(point, cond.psf_sigma),
           "t": time.perf_counter() - t0}
    if path is not None:
        path.write_bytes(pickle.dumps(out))
    return out


# ----------------------------------------------------------------------------- fitting
def _beta(values) -> tuple[float, float]:
    return ambiguity.fit_share_prior(values)


def fit_priors(fits: list[dict], cases: list[Case]) -> dict:
    """Priors of q, s (solid, nanoporous) and texture from training cases."""
    q = [f["q"] for f in fits]
    s_solid = [f["s"] for f, c in zip(fits, cases, strict=True) if c.binder == "solid"]
    s_nano = [f["s"] for f, c in zip(fits, cases, strict=True) if c.binder == "nanoporous"]
    texture = [f["texture"] for f in fits]
    solid = _beta(s_solid) if len(s_solid) >= 2 else None
    nano = _beta(s_nano) if len(s_nano) >= 2 else None
    # A binder kind with no training family borrows the other's prior, widened to its
    # whole plausible range (nothing was learnt about it).
    solid = solid or (2.0, 2.0)
    nano = nano or (2.0, 2.0)
    return {"share_prior": _beta(q), "solid_binder_prior": solid,
            "nanoporous_binder_prior": nano, "texture_length": ambiguity.fit_texture_prior(texture)}


def fit_discrepancy(fits: list[dict], trend: bool = True) -> list[dict]:
    """Per term: OLS of d on the covariates; residual sd beyond the members' spread.

    ``trend=False`` fits the mean only (the oracle: one family's handful of cases cannot
    carry a trend in three covariates).
    """
    cov = np.array([[f["covariates"][k] for k in COVARIATES] for f in fits])
    centre = cov.mean(axis=0)
    terms = []
    for variable, index, cols, used in TERMS:
        x = np.column_stack([np.ones(len(fits)), cov - centre])
        for j, name in enumerate(COVARIATES):
            if not trend or name not in used:
                x[:, 1 + j] = 0.0
        # Columns sharing a term (tau along three axes) enter as repeated cases.
        d = np.concatenate([[f["d"][c] for f in fits] for c in cols])
        sp = np.concatenate([[f["spread"][c] for f in fits] for c in cols])
        xx = np.vstack([x] * len(cols))
        ok = np.isfinite(d) & np.isfinite(sp)
        xx, d, sp = xx[ok], d[ok], sp[ok]
        coef, *_ = np.linalg.lstsq(xx, d, rcond=None)
        resid = d - xx @ coef
        dof = max(len(d) - xx.shape[1], 1)
        s2 = float(resid @ resid / dof)
        # Repeated axes are not independent cases: the coefficients' covariance counts
        # each case once.
        c = s2 * np.linalg.pinv(xx.T @ xx) * len(cols)
        sd = float(np.sqrt(max(s2 - np.mean(sp ** 2), 0.0)))
        terms.append({"variable": variable, "index": index, "intercept": float(coef[0]),
                      "coef": [float(v) for v in coef[1:]],
                      "centre": [float(v) for v in centre], "sd": sd, "cov": c.tolist()})
    return terms


def card_of(priors: dict, terms: list[dict], fits: list[dict]) -> dict:
    """A calibration card (the JSON the package reads) from fitted priors and terms."""
    im = [f["imaging"] for f in fits]
    cov = {k: [f["covariates"][k] for f in fits] for k in COVARIATES}
    return {
        "description": "Calibrated priors and estimator discrepancy of the ambiguity "
                       "sampler. Written by benchmarks/calibration.py (leave-one-family-"
                       "out study); do not edit by hand.",
        **{k: [float(v) for v in val] for k, val in priors.items()},
        "calibrated_range": {
            **{k: [float(min(v)), float(max(v))] for k, v in cov.items()},
            "photons": [float(min(f["photons"] or np.inf for f in im)),
                        float(max(f["photons"] or np.inf for f in im))],
            "drift": [float(min(f["drift"] for f in im)), float(max(f["drift"] for f in im))],
        },
        "discrepancy": terms,
    }


# ----------------------------------------------------------------------------- scoring
def ensemble(case: Case, fit: dict, card: dict, n: int, seed: int) -> tuple:
    """Raw member quantities and the same with the discrepancy terms applied."""
    from uqtwin.results.discrepancy import load_discrepancy

    st = fit["state"]
    solid = BetaMixture(((0.5, *card["solid_binder_prior"]),
                         (0.5, *card["nanoporous_binder_prior"])))
    opts = replace(st.options, share_prior=tuple(card["share_prior"]), solid_prior=solid,
                   texture_length=tuple(card["texture_length"]))
    st = ambiguity.AmbiguityState(st.volume, st.phases, opts, st.em, st.plain, st.posterior)
    spacing = (float(case.h),) * 3
    seeds = np.random.SeedSequence([case.seed, seed]).generate_state(n)
    raw = np.array([quantities(st.sample(int(s)), spacing) for s in seeds])
    model = load_discrepancy(card)
    rng = np.random.default_rng([case.seed, seed, 7])
    adj = raw.copy()
    for term, (_, _, cols, _) in zip(model.terms, TERMS, strict=True):
        mean, sd = model.distribution(term, fit["covariates"])
        adj[:, cols] *= np.exp(mean + sd * rng.standard_normal((n, 1)))
        if term.variable in LOWER_BOUNDS:
            adj[:, cols] = np.maximum(adj[:, cols], LOWER_BOUNDS[term.variable])
    return raw, adj


def hdi(values: np.ndarray, prob: float) -> np.ndarray:
    """arviz HDI per column over the finite members, shape (2, n)."""
    import arviz

    out = []
    for j in range(values.shape[1]):
        v = values[:, j][np.isfinite(values[:, j])]
        out.append(arviz.hdi(v, hdi_prob=prob) if v.size > 2 else (np.nan, np.nan))
    return np.array(out).T


def ideal_coverage(n: int, prob: float, reps: int = 20000, seed: int = 0) -> float:
    """How often the ``prob`` HDI of ``n`` exact draws covers one more draw of the law."""
    import arviz

    x = np.random.default_rng(seed).standard_normal((reps, n + 1))
    return float(np.mean([arviz.hdi(r[:n], hdi_prob=prob)[0] <= r[n]
                          <= arviz.hdi(r[:n], hdi_prob=prob)[1] for r in x]))


def score(truth, values) -> dict:
    out = {}
    for p in PROBS:
        lo, hi = hdi(values, p)
        out[p] = {"cover": (lo <= truth) & (truth <= hi), "width": (hi - lo) / np.abs(truth)}
    return out


def _fold_job(args):
    case, fit, card, n, oracle_card, n_oracle = args
    raw, adj = ensemble(case, fit, card, n, 1)
    res = {"raw": score(fit["truth"], raw), "adj": score(fit["truth"], adj),
           "median": np.median(adj, axis=0)}
    if oracle_card is not None:
        _, oadj = ensemble(case, fit, oracle_card, n_oracle, 2)
        res["oracle"] = score(fit["truth"], oadj)
    return res


def _prepare_job(args):
    return prepare_case(*args)


def _pct(x) -> str:
    return f"{100 * float(np.mean(x)):.0f}%"


def report(cases, results, n_samples) -> None:
    fams = list(dict.fromkeys(c.family for c in cases))
    for kind, title in (("adj", "with discrepancy terms (as the engine runs)"),
                        ("raw", "without discrepancy terms")):
        for p in PROBS:
            print(f"\nCoverage of the {p:.0%} HDI, held-out family, {title}")
            print("| held-out family | cases | " + " | ".join(CLASSES) + " | all |")
            print("|---" * (3 + len(CLASSES)) + "|")
            allrows = []
            for fam in fams + ["all families"]:
                idx = [i for i, c in enumerate(cases) if fam in (c.family, "all families")]
                cov = np.array([results[i][kind][p]["cover"] for i in idx])
                allrows.append(cov)
                cells = [_pct(cov[:, cols]) for cols in CLASSES.values()]
                print(f"| {fam} | {len(idx)} | " + " | ".join(cells) + f" | {_pct(cov)} |")
    print(f"\nExact sampler with {n_samples} members: "
          + ", ".join(f"{p:.0%} HDI covers {ideal_coverage(n_samples, p):.1%}" for p in PROBS))
    print("\nMean 90% interval width relative to the truth: leave-one-family-out vs oracle")
    print("| held-out family | " + " | ".join(f"{k} LOFO / oracle" for k in CLASSES) + " |")
    print("|---" * (1 + len(CLASSES)) + "|")
    for fam in fams + ["all families"]:
        idx = [i for i, c in enumerate(cases) if fam in (c.family, "all families")]
        w = np.array([results[i]["adj"][0.9]["width"] for i in idx])
        cells = []
        for cols in CLASSES.values():
            lofo = np.nanmean(w[:, cols])
            if "oracle" in results[idx[0]]:
                o = np.nanmean(np.array([results[i]["oracle"][0.9]["width"] for i in idx])[:, cols])
                cells.append(f"{100 * lofo:.1f}% / {100 * o:.1f}%")
            else:
                cells.append(f"{100 * lofo:.1f}%")
        print(f"| {fam} | " + " | ".join(cells) + " |")


#: Fresh interpreters: the parent has started OpenMP (numba), which must not be forked.
_SPAWN = multiprocessing.get_context("spawn")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-family", type=int, default=6)
    ap.add_argument("--families", nargs="+", choices=list(FAMILIES), default=list(FAMILIES))
    ap.add_argument("--samples", type=int, default=48)
    ap.add_argument("--oracle-samples", type=int, default=32, help="0: no oracle")
    ap.add_argument("--cache", type=Path, default=None, help="folder for per-case fits")
    ap.add_argument("--jobs", type=int, default=1, help="processes side by side")
    ap.add_argument("--write-card", action="store_true",
                    help=f"fit on every family and write {CARD.relative_to(ROOT)}")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)
    if args.cache:
        args.cache.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    cases = make_cases(args.per_family, args.families)
    with ProcessPoolExecutor(args.jobs, mp_context=_SPAWN) as pool:
        fits = list(pool.map(_prepare_job, [(c, args.cache) for c in cases]))
    for c, f in zip(cases, fits, strict=True):
        im = f["imaging"]
        print(f"{c.name:22s} h={c.h} blur {c.blur[0]:.2f}/{c.blur[2]:.2f} measured "
              f"{im['psf_sigma'][0]:.2f}/{im['psf_sigma'][2]:.2f}  photons {c.photons:6.0f} "
              f"measured {im['photons'] or np.inf:8.3g}  drift {c.drift:+.3f} measured "
              f"{im['drift']:+.3f}  q {f['q']:.2f} s {f['s']:.2f} texture {f['texture']:.2f}"
              f"  d(ssa) {np.round(f['d'][3:6], 3)} d(tau) {np.round(f['d'][6:9], 3)} "
              f"d(mpd) {f['d'][9]:+.3f}  {f['t']:.0f}s", flush=True)
    print(f"prepared {len(cases)} cases in {time.perf_counter() - t0:.0f} s", flush=True)
    jobs, cards = [], {}
    for fam in args.families:
        train = [i for i, c in enumerate(cases) if c.family != fam]
        own = [i for i, c in enumerate(cases) if c.family == fam]
        sub = [fits[i] for i in train]
        card = card_of(fit_priors(sub, [cases[i] for i in train]), fit_discrepancy(sub), sub)
        ocard = None
        if args.oracle_samples and len(own) >= 2:
            osub = [fits[i] for i in own]
            ocard = card_of(fit_priors(osub, [cases[i] for i in own]),
                            fit_discrepancy(osub, trend=False), osub)
            # The oracle knows the family's binder: both mixture components are its own.
            key = ("nanoporous_binder_prior" if FAMILIES[fam][1] == "nanoporous"
                   else "solid_binder_prior")
            ocard["solid_binder_prior"] = ocard["nanoporous_binder_prior"] = ocard[key]
        cards[fam] = card
        if args.verbose:
            keys = ("share_prior", "solid_binder_prior", "nanoporous_binder_prior",
                    "texture_length")
            print(f"fold {fam}: priors {json.dumps({k: card[k] for k in keys})}")
        jobs += [(i, (cases[i], fits[i], card, args.samples, ocard, args.oracle_samples))
                 for i in own]
    with ProcessPoolExecutor(args.jobs, mp_context=_SPAWN) as pool:
        out = list(pool.map(_fold_job, [j for _, j in jobs]))
    results = [None] * len(cases)
    for (i, _), r in zip(jobs, out, strict=True):
        results[i] = r
        if args.verbose:
            c = cases[i]
            print(f"{c.name:22s} truth {np.round(fits[i]['truth'], 3)}\n{'':22s} median "
                  f"{np.round(r['median'], 3)}  90% "
                  + "".join("x" if v else "." for v in r["adj"][0.9]["cover"]))
    print(f"\n{len(cases)} cases, {args.samples} members each, "
          f"{time.perf_counter() - t0:.0f} s in all")
    report(cases, results, args.samples)
    if args.write_card:
        card = card_of(fit_priors(fits, cases), fit_discrepancy(fits), fits)
        card["source"] = (f"benchmarks/calibration.py, {len(cases)} cases of "
                          f"{len(args.families)} families, "
                          f"{_dt.date.today().isoformat()}")
        CARD.write_text(json.dumps(card, indent=2) + "\n")
        print(f"\nwrote {CARD}")
        print(json.dumps({k: v for k, v in card.items() if k != "discrepancy"}, indent=1))
        for t in card["discrepancy"]:
            trend = " ".join(f"{c:+.3f}*({k}-{m:.2f})" for c, k, m
                             in zip(t["coef"], COVARIATES, t["centre"], strict=True) if c)
            print(f"  {t['variable']}{t['index']}: {t['intercept']:+.3f} {trend}, "
                  f"sd {t['sd']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

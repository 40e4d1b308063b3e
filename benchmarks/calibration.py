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

Every family is imaged at three voxel sizes (the label grid at the output grid, ``h = 1``;
at twice its resolution, ``h = 2``: 64³ labels block-averaged to 32³ grey voxels, so films
and sub-voxel texture are partial volume; and, the ``--enlarged`` cases, geometry built at
21³ and resampled to 32³, so features span 1.5x more voxels), with imaging conditions
drawn per case:
Gaussian point spread 0.5-2 output voxels (half the cases 1.6x narrower in-plane than
along z, as FIB-SEM and many CT reconstructions), 10-1000 photons per voxel
(log-uniform), read noise 0-5 grey, slice drift up to ±3 %. Each case goes through the
pipeline's own steps: the imaging conditions are measured on the raw scan
(:func:`uqtwin.segment.imaging.estimate_imaging`; a drift of 0.5 % or more and above
three standard errors is divided out), non-local means with the pipeline's defaults, the
plain mixture and the ambiguity sampler with the *measured* point spread.

Per case, with its truth (the only place truths are used): the nuisance values that
reproduce it, ``q`` (active fraction), ``s`` (binder fraction, at that ``q``) and the
texture length (pore and binder surface areas, grid search); and, as a diagnostic, the
estimators' own error at those values, ``log(truth / median)`` of members drawn there
(printed as ``d(ssa)``, ``d(tau)``, ``d(mpd)``).

For each held-out family, on the **other six families only**:

1. the priors (``q``; ``s`` for solid and for nanoporous binder, the default ``unknown``
   prior being their equal mixture; texture length) are fitted to their cases' nuisance
   values;
2. every training case is sampled with those priors, as the engine samples a scan
   (:data:`N_FIT` members), and the discrepancy terms are fitted to what those members
   miss: ``d = log(truth / median)`` (for volume fractions, of the ratio to the pore
   fraction), a linear trend in the measured point spread and the log chord length of the
   phase measured, and a residual sd beyond the members' own spread. A term thus holds the
   estimators' bias *and* whatever priors fitted on other microstructures do not
   reproduce, which is what a user's scan, always another family, meets.

The held-out family's cases are then sampled with those priors and terms (48 members)
and scored: coverage of the 50 % and 90 % HDIs (``arviz.hdi``, as the engine) for the
volume fraction and surface area of every phase, the pore tortuosity factor along z, y,
x and the mean pore diameter, with and without the discrepancy terms, next to what an
exact sampler scores with the same number of members, and the mean interval widths next
to an **oracle** whose priors and terms are fitted on the held-out family itself (it
knows the family's nuisance values: the width an honest interval needs when the family
is known).

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
import hashlib  # noqa: E402
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

from uqtwin.engine.stages import MIN_DRIFT  # noqa: E402
from uqtwin.microstructure import Microstructure  # noqa: E402
from uqtwin.morphology import local_thickness  # noqa: E402
from uqtwin.phantoms import (  # noqa: E402
    PHASES,
    binder_bridges,
    calendered_ellipsoids,
    graphite_flakes,
    image_phantom,
    nanoporous_binder,
    spheres_with_binder,
)
from uqtwin.quantities.surface_area import specific_surface_area  # noqa: E402
from uqtwin.quantities.transport import tortuosity_factor  # noqa: E402
from uqtwin.results.calibrate import fit_term  # noqa: E402
from uqtwin.results.discrepancy import (  # noqa: E402
    COVARIATES,
    discrepancy_covariates,
)
from uqtwin.sample import ambiguity, priors  # noqa: E402
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
#: Feature enlargement of the ``enlarged`` cases (their geometry is built at SIZE / ZOOM).
ZOOM = 1.5
MEANS = (45.0, 105.0, 175.0)
PROBS = (0.5, 0.9)
#: Columns of a case's quantity vector.
QNAMES = ("vf pore", "vf binder", "vf active", "ssa pore", "ssa binder", "ssa active",
          "tau z", "tau y", "tau x", "mpd")
#: Quantity classes scored separately (columns).
CLASSES = {"VF": [0, 1, 2], "SSA pore": [3], "SSA binder": [4], "SSA active": [5],
           "tau": [6, 7, 8], "MPD": [9]}
#: Discrepancy terms: (results variable, index, reference, columns they scale, covariates
#: they use). Each term uses the blur and the chord length of the phase whose geometry it
#: measures (three covariates on a few dozen cases overfit: the two chords are collinear).
#: Volume fractions are a composition: their terms act on the log ratio to the pore.
TERMS = (("volume_fraction", {"phase": "binder"}, {"phase": "pore"}, [1],
          ("psf_sigma", "log_chord_pore")),
         ("volume_fraction", {"phase": "active"}, {"phase": "pore"}, [2],
          ("psf_sigma", "log_chord_active")),
         ("specific_surface_area", {"phase": "pore"}, {}, [3], ("psf_sigma", "log_chord_pore")),
         ("specific_surface_area", {"phase": "binder"}, {}, [4],
          ("psf_sigma", "log_chord_pore")),
         ("specific_surface_area", {"phase": "active"}, {}, [5],
          ("psf_sigma", "log_chord_active")),
         ("tortuosity_factor", {"phase": "pore"}, {}, [6, 7, 8],
          ("psf_sigma", "log_chord_pore")),
         ("mean_pore_diameter", {}, {}, [9], ("psf_sigma", "log_chord_pore")))
#: Members per training case from which the discrepancy terms are fitted.
N_FIT = 16
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


def enlarge(labels: np.ndarray, size: int) -> np.ndarray:
    """Labels resampled to ``size``³: features span more voxels, with smooth boundaries.

    Each phase's indicator is interpolated linearly and every voxel takes the phase of
    the largest (nearest-neighbour zoom would leave staircases that no scan has).
    """
    from scipy import ndimage

    f = size / labels.shape[0]
    n = int(labels.max()) + 1
    ind = np.stack([ndimage.zoom((labels == k).astype(np.float32), f, order=1, mode="nearest")
                    for k in range(n)])
    return np.argmax(ind, axis=0).astype(np.uint8)


def make_cases(per_family: int, families: list[str], enlarged: int = 0) -> list[Case]:
    """Deterministic cases: per family, voxel sizes alternate, blur strata ascend.

    Then ``enlarged`` cases per family whose geometry is built at ``SIZE / ZOOM`` and
    resampled to ``SIZE`` (features span ``ZOOM`` times more voxels, as on a scan at a
    finer voxel size), one per blur stratum; drawn after the others from the same
    stream, so the first ``per_family`` cases do not change.
    """
    cases = []
    for fi, fam in enumerate(families):
        build, binder = FAMILIES[fam]
        rng = np.random.default_rng([2026, fi])
        for k in range(per_family + enlarged):
            big = k >= per_family
            j = k - per_family
            h = 1 if big else 1 + k % 2
            # Stratified over 0.5-2 voxels so every family spans the whole range.
            strata = max(enlarged, 1) if big else max(per_family // 2, 1)
            lo = 0.5 + 1.5 * (j if big else k // 2) / strata
            b = float(rng.uniform(lo, lo + 1.5 / strata))
            blur = (b, b / 1.6, b / 1.6) if rng.random() < 0.5 else (b, b, b)
            photons = float(np.exp(rng.uniform(np.log(10.0), np.log(1000.0))))
            seed = 1000 * fi + k
            if big:
                truth = enlarge(build(round(SIZE / ZOOM), rng, seed), SIZE)
            else:
                truth = build(SIZE * h, rng, seed)
            name = f"{fam}-z{j}" if big else f"{fam}-{k}"
            cases.append(Case(name, fam, binder, np.ascontiguousarray(truth), h,
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
    pv, plain = float(st.pv_posteriors(None)[2].mean()), float(st.plain_posteriors()[2].mean())
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
    return priors.fit_share_prior(values)


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
            "nanoporous_binder_prior": nano, "texture_length": priors.fit_texture_prior(texture)}


def log_errors(truth: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column: ``d = log(truth) - median(log member)`` and the members' log spread.

    A term with a reference (a composition) takes both on the log ratio to the
    reference column, as :func:`uqtwin.results.discrepancy.apply_discrepancy` applies it.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        lt, lr = np.log(truth).copy(), np.log(raw)
        for _, _, ref, cols, _ in TERMS:
            if ref:
                r = PHASES.index(ref["phase"])
                lt[cols] -= np.log(truth[r])
                lr[:, cols] -= np.log(raw[:, [r]])
        d = np.full(len(truth), np.nan)
        spread = np.full(len(truth), np.nan)
        for j in range(len(truth)):
            v = lr[:, j][np.isfinite(lr[:, j])]
            # A member that does not percolate (tau = inf) has no finite log: the median
            # counts it as above every finite one, the spread is of the finite ones.
            if v.size >= max(3, raw.shape[0] // 2):
                d[j] = lt[j] - np.median(np.where(np.isfinite(lr[:, j]), lr[:, j], np.inf))
                spread[j] = np.std(v, ddof=1)
    return d, spread


#: Coverage the residual sd is chosen for (split-conformal,
#: :func:`uqtwin.results.calibrate.conformal_sd`).
COVER = 0.9


def fit_discrepancy(errors: list[tuple[np.ndarray, np.ndarray]], covs: list[dict],
                    trend: bool = True, groups: list[str] | None = None) -> list[dict]:
    """The card entries of every term of :data:`TERMS` (:func:`uqtwin.results.calibrate.fit_term`).

    ``errors`` are :func:`log_errors` of each training case's members drawn with the
    fold's priors (as the engine draws them), so a term holds what those members miss
    beyond their own spread: the estimators' bias and what the priors do not reproduce.
    ``trend=False`` fits the mean only (the oracle: one family's handful of cases cannot
    carry a trend in three covariates). ``groups`` (the family of each case): the
    residual sd is chosen cross-conformally over families.
    """
    cov = np.array([[c[k] for k in COVARIATES] for c in covs])
    terms = []
    for variable, index, ref, cols, used in TERMS:
        d = np.array([[e[0][c] for c in cols] for e in errors])
        sp = np.array([[e[1][c] for c in cols] for e in errors])
        term = fit_term(variable, index, d, sp, cov, used=used if trend else (),
                        groups=groups, cover=COVER, reference=ref)
        terms.append(term.to_card())
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
def member_seeds(case: Case, stream: int, n: int) -> np.ndarray:
    return np.random.SeedSequence([case.seed, stream]).generate_state(n)


def raw_ensemble(case: Case, fit: dict, priors: dict, n: int, stream: int) -> np.ndarray:
    """Member quantities (n, 10) drawn with ``priors``, as the engine draws them."""
    st = fit["state"]
    solid = BetaMixture(((0.5, *priors["solid_binder_prior"]),
                         (0.5, *priors["nanoporous_binder_prior"])))
    opts = replace(st.options, share_prior=tuple(priors["share_prior"]), solid_prior=solid,
                   texture_length=tuple(priors["texture_length"]))
    st = ambiguity.AmbiguityState(st.volume, st.phases, opts, st.em, st.plain, st.posterior)
    spacing = (float(case.h),) * 3
    return np.array([quantities(st.sample(int(s)), spacing)
                     for s in member_seeds(case, stream, n)])


def _member_dataset(v: np.ndarray):
    import xarray as xr

    return xr.Dataset({
        "volume_fraction": ("phase", v[0:3]),
        "specific_surface_area": ("phase", v[3:6]),
        # One phase coordinate for every variable: tau of the pore only.
        "tortuosity_factor": (("phase", "axis"), np.vstack([v[6:9], np.full((2, 3), np.nan)])),
        "mean_pore_diameter": ((), v[9]),
    }, coords={"phase": list(PHASES), "axis": ["z", "y", "x"]})


def adjusted(case: Case, fit: dict, card: dict, raw: np.ndarray, stream: int) -> np.ndarray:
    """The members with the card's discrepancy terms applied by the engine's own code."""
    from uqtwin.results.discrepancy import apply_discrepancy, load_discrepancy

    model = load_discrepancy(card)
    out = []
    for v, seed in zip(raw, member_seeds(case, stream, len(raw)), strict=True):
        ds = apply_discrepancy(_member_dataset(v), model, fit["covariates"], int(seed))
        out.append(np.concatenate([
            ds["volume_fraction"].values.ravel(), ds["specific_surface_area"].values.ravel(),
            ds["tortuosity_factor"].values[0],
            [float(ds["mean_pore_diameter"])]]))
    return np.array(out)


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


def _ensemble_job(args):
    case, fit, priors, n, stream, cache = args
    key = hashlib.sha1(json.dumps([case.name, priors, n, stream], sort_keys=True)
                       .encode()).hexdigest()[:16]
    path = cache / "ensembles" / f"{case.name}-{key}.npy" if cache else None
    if path is not None and path.exists():
        return np.load(path)
    raw = raw_ensemble(case, fit, priors, n, stream)
    if path is not None:
        path.parent.mkdir(exist_ok=True)
        np.save(path, raw)
    return raw


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
    ap.add_argument("--enlarged", type=int, default=3,
                    help="extra cases per family with features 1.5x larger in voxels")
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
    cases = make_cases(args.per_family, args.families, args.enlarged)
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
    folds = {}
    for fam in args.families:
        train = [i for i, c in enumerate(cases) if c.family != fam]
        own = [i for i, c in enumerate(cases) if c.family == fam]
        priors = fit_priors([fits[i] for i in train], [cases[i] for i in train])
        oracle = None
        if args.oracle_samples and len(own) >= 2:
            oracle = fit_priors([fits[i] for i in own], [cases[i] for i in own])
            # The oracle knows the family's binder: both mixture components are its own.
            key = ("nanoporous_binder_prior" if FAMILIES[fam][1] == "nanoporous"
                   else "solid_binder_prior")
            oracle["solid_binder_prior"] = oracle["nanoporous_binder_prior"] = oracle[key]
        folds[fam] = (train, own, priors, oracle)
        if args.verbose:
            print(f"fold {fam}: priors {json.dumps(priors)}")
    every = fit_priors(fits, cases) if args.write_card else None

    # Every ensemble the study needs, drawn side by side (cached by case, priors, size):
    # stream 3 for fitting discrepancy terms, 1 for scoring, 2 for the oracle's scoring.
    wanted: dict[tuple, tuple] = {}

    def want(i: int, priors: dict, n: int, stream: int) -> tuple:
        key = (i, json.dumps(priors, sort_keys=True), n, stream)
        wanted.setdefault(key, (cases[i], fits[i], priors, n, stream, args.cache))
        return key

    plan = {}
    for fam, (train, own, priors, oracle) in folds.items():
        plan[fam] = {"fit": [want(i, priors, N_FIT, 3) for i in train],
                     "held": [want(i, priors, args.samples, 1) for i in own]}
        if oracle is not None:
            plan[fam]["ofit"] = [want(i, oracle, N_FIT, 3) for i in own]
            plan[fam]["oheld"] = [want(i, oracle, args.oracle_samples, 2) for i in own]
    if every is not None:
        plan["every"] = {"fit": [want(i, every, N_FIT, 3) for i in range(len(cases))]}
    keys = list(wanted)
    print(f"drawing {len(keys)} ensembles", flush=True)
    with ProcessPoolExecutor(args.jobs, mp_context=_SPAWN) as pool:
        ens = dict(zip(keys, pool.map(_ensemble_job, [wanted[k] for k in keys]), strict=True))

    def terms_of(keys: list[tuple], trend: bool = True) -> list[dict]:
        return fit_discrepancy([log_errors(fits[k[0]]["truth"], ens[k]) for k in keys],
                               [fits[k[0]]["covariates"] for k in keys], trend,
                               [cases[k[0]].family for k in keys] if trend else None)

    results = [None] * len(cases)
    for fam, (train, own, priors, oracle) in folds.items():
        card = card_of(priors, terms_of(plan[fam]["fit"]), [fits[i] for i in train])
        ocard = None
        if oracle is not None:
            ocard = card_of(oracle, terms_of(plan[fam]["ofit"], trend=False),
                            [fits[i] for i in own])
        for j, i in enumerate(own):
            truth, raw = fits[i]["truth"], ens[plan[fam]["held"][j]]
            adj = adjusted(cases[i], fits[i], card, raw, 1)
            r = {"raw": score(truth, raw), "adj": score(truth, adj),
                 "median": np.median(adj, axis=0)}
            if ocard is not None:
                oraw = ens[plan[fam]["oheld"][j]]
                r["oracle"] = score(truth, adjusted(cases[i], fits[i], ocard, oraw, 2))
            results[i] = r
            if args.verbose:
                print(f"{cases[i].name:22s} truth {np.round(truth, 3)}\n{'':22s} median "
                      f"{np.round(r['median'], 3)}  90% "
                      + "".join("x" if v else "." for v in r["adj"][0.9]["cover"]))
    print(f"\n{len(cases)} cases, {args.samples} members each, "
          f"{time.perf_counter() - t0:.0f} s in all")
    report(cases, results, args.samples)
    if args.write_card:
        card = card_of(every, terms_of(plan["every"]["fit"]), fits)
        card["source"] = (f"benchmarks/calibration.py, {len(cases)} cases of "
                          f"{len(args.families)} families, "
                          f"{_dt.date.today().isoformat()}")
        CARD.write_text(json.dumps(card, indent=2) + "\n")
        print(f"\nwrote {CARD}")
        print(json.dumps({k: v for k, v in card.items() if k != "discrepancy"}, indent=1))
        for t in card["discrepancy"]:
            trend = " ".join(f"{c:+.3f}*({k}-{m:.2f})" for c, k, m
                             in zip(t["coef"], COVARIATES, t["centre"], strict=True) if c)
            ref = f" (ratio to {t['reference']})" if "reference" in t else ""
            print(f"  {t['variable']}{t['index']}{ref}: {t['intercept']:+.3f} {trend}, "
                  f"sd {t['sd']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The report as one self-contained HTML file (see :func:`write_report`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

from uqtwin import plot
from uqtwin.errors import UqtwinInputError
from uqtwin.report.checks import find_warnings
from uqtwin.report.html import CSS, esc, img, settings_table, table
from uqtwin.report.tables import (
    descriptions,
    imaging_rows,
    provenance_rows,
    sources_table,
    summary_table,
)
from uqtwin.results.conventions import (
    SAMPLE_DIM,
    hdi_prob_of,
    phase_names,
    results_store,
    run_config,
)

#: Samples redrawn for the gallery.
GALLERY_SIZE = 4


def load_results(results: str | Path | xr.Dataset) -> tuple[xr.Dataset, Path | None]:
    """A results Dataset and the file it was read from (``None`` for a Dataset given).

    Parameters
    ----------
    results : path or xarray.Dataset

    Returns
    -------
    (xarray.Dataset, pathlib.Path or None)
    """
    if isinstance(results, xr.Dataset):
        return results, None
    from uqtwin.results.dataset import open_results

    path = Path(results)
    return open_results(path), path


def gallery(ds: xr.Dataset, path: Path | None) -> str:
    """The "sampled microstructures" section: the first :data:`GALLERY_SIZE` samples
    redrawn from the run's sample store, or a note saying why they cannot be shown.

    Parameters
    ----------
    ds : xarray.Dataset
        The results.
    path : pathlib.Path or None
        The file ``ds`` was read from (its store lies beside it).

    Returns
    -------
    str
        HTML.
    """
    store = results_store(ds, path)
    n = int(ds.sizes.get(SAMPLE_DIM, 0))
    indices = list(range(min(GALLERY_SIZE, n)))
    try:
        labels = plot.redraw_samples(ds, indices, store)
    except (UqtwinInputError, OSError, ValueError, TypeError) as exc:
        return (f'<p class="note">The sampled microstructures cannot be shown: {esc(exc)}. '
                "They are redrawn from the run's sample store, which must still exist "
                "beside the results file.</p>")
    sample_ids = ds[SAMPLE_DIM].values if SAMPLE_DIM in ds.coords else indices
    titles = [f"sample {sample_ids[i]}" for i in indices]
    fig = plot.plot_sample_gallery(labels, phase_names(ds), titles=titles)
    return img(fig, "slices through sampled microstructures")


_SECTIONS = (
    ("about", "About this report"),
    ("warnings", "Warnings"),
    ("input", "Input and provenance"),
    ("settings", "Pipeline settings"),
    ("segmentation", "Segmentation and its uncertainty"),
    ("samples", "Sampled microstructures"),
    ("summary", "Summary of the quantities"),
    ("sources", "Where the uncertainty comes from"),
    ("distributions", "Distributions of the quantities"),
    ("size", "Size distributions"),
    ("tensors", "Tensors"),
    ("convergence", "Convergence with the number of samples"),
)


def render_report(results: str | Path | xr.Dataset, *, volume: np.ndarray | None = None
                  ) -> str:
    """The report as an HTML string (see :func:`write_report`).

    Parameters
    ----------
    results : str, Path or xarray.Dataset
        The results file, or a results Dataset.
    volume : ndarray, optional, keyword-only
        The grey input volume for the slices (default: re-read from the recorded input path
        if it is still there; otherwise that row is left out).

    Returns
    -------
    str
        A self-contained HTML document (figures embedded as ``data:`` URIs) ending in a
        newline. The size-distribution and tensor sections appear only when the results
        hold such variables.

    Raises
    ------
    UqtwinInputError
        If the results file is missing or unreadable.
    """
    ds, path = load_results(results)
    prob = hdi_prob_of(ds)
    pct = f"{100 * prob:g}%"
    n = int(ds.sizes.get(SAMPLE_DIM, 0))
    present = {key for key, _ in _SECTIONS}
    if not plot.distribution_variables(ds):
        present.discard("size")
    if not plot.tensor_variables(ds):
        present.discard("tensors")
    titles = [(k, t) for k, t in _SECTIONS if k in present]
    number = {k: i + 1 for i, (k, _) in enumerate(titles)}

    def h2(key: str) -> str:
        return f'<h2 id="{key}">{number[key]}. {esc(dict(_SECTIONS)[key])}</h2>'

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>uqtwin report — {esc(path.name if path else 'results')}</title>",
        f"<style>{CSS}</style></head><body><main>",
        "<h1>uqtwin digital-twin report</h1>",
        f'<p class="lead">{esc(path or "results")} · {n} sampled microstructures · '
        f"{pct} intervals</p>",
        "<nav><ol>" + "".join(f'<li><a href="#{k}">{esc(t)}</a></li>' for k, t in titles)
        + "</ol></nav>",
    ]

    parts += [h2("about"), f"""
<p>uqtwin turns a grey 3-D tomogram of a battery electrode into an <em>ensemble</em> of
possible microstructures instead of a single segmentation. The grey volume is denoised, a
Gaussian mixture assigns every voxel a probability of belonging to each phase (its
<em>posterior</em>), and microstructures are drawn at random from these probabilities.
Every quantity (volume fractions, surface areas, tortuosity, …) is computed on every sample,
so its spread shows how much the answer depends on the uncertain voxels.</p>
<div class="note"><b>How to read the intervals.</b> Each quantity is summarised by its mean,
its standard deviation (sd) and a <b>{pct} highest-density interval (HDI)</b>: the
narrowest range that holds {pct} of the samples. Read it as “given the image and the
model, the value lies in this range with {pct} probability”. With the default
<code>ambiguity</code> sampler it covers what the grey values cannot decide (where the
particles end, how much of the binder domain is solid, its texture) and the estimators'
own calibrated bias at the measured blur; section “Where the uncertainty comes from” says
how much of each interval is which.</div>"""]

    warns = find_warnings(ds, prob)
    parts.append(h2("warnings"))
    if warns:
        parts.append("<p>Check these before using the numbers:</p>")
        parts += [f'<div class="warn"><b>{esc(w.title)}.</b> {esc(w.detail)}</div>'
                  for w in warns]
    else:
        parts.append('<p class="ok">No warnings: every sample percolates, every solve '
                     "converged and the intervals are stable.</p>")

    parts += [h2("input"),
              "<p>Where the results come from. The SHA-256 fingerprint identifies the exact "
              "input file: the same fingerprint, settings and seed give the same numbers.</p>",
              table(provenance_rows(ds, path))]

    cfg = run_config(ds)
    parts += [h2("settings"),
              "<p>The complete run configuration, as stored in the results file. Running "
              "<code>uqtwin run</code> with a TOML file holding these values reproduces "
              "the run.</p>",
              settings_table(cfg),
              "<details><summary>The configuration as JSON</summary>",
              f"<pre>{esc(json.dumps(cfg, indent=2) if cfg else '(not recorded)')}</pre>",
              "</details>"]

    parts += [h2("segmentation"), """
<p>Slices through the middle of the volume along each axis. <b>Grey value</b>: the input
tomogram (shown when the input file is still available). <b>Most probable phase</b>: at
each voxel the phase with the highest posterior probability — the single “best guess”
segmentation. <b>Posterior entropy</b>: how uncertain that guess is, in nats; 0 (black)
where one phase is certain, up to ln(number of phases) where all phases are equally
likely. Bright voxels are where the sampled microstructures differ; they usually sit on
phase boundaries and in phases whose grey values overlap.</p>""",
              img(plot.plot_slices(ds, volume), "orthogonal slices")]
    if "mixture_mean" in ds:
        rows = [(p, f"mean {float(m):.4g}, sd {float(s):.4g}, weight {float(w):.3g}")
                for p, m, s, w in zip(phase_names(ds), ds["mixture_mean"].values,
                                      ds["mixture_sd"].values, ds["mixture_weight"].values,
                                      strict=False)]
        parts += ["<p>The plain grey-value mixture fitted by EM (one Gaussian per phase; the "
                  "weight is its prior volume fraction). With blur, the middle phase's "
                  "Gaussian also absorbs the partial-volume voxels at every interface of "
                  "the darkest and brightest phases (hence its width): the sampler then "
                  "decides, member by member, how many of those are really that phase (see "
                  "the run's <code>sampler</code> setting).</p>", table(rows)]

    parts += [h2("samples"), """
<p>The same slice through a few of the sampled microstructures. They differ where the
entropy map is bright. The samples are not stored in the results; they are redrawn
exactly from the fitted ensemble model kept beside them
(<code>&lt;results&gt;.samples/prepared.pkl</code>) and each sample's
<code>sample_seed</code>.</p>""",
              gallery(ds, path)]

    from uqtwin.results.summary import ensemble_variables

    main_vars = plot.scalar_variables(ds)
    other_vars = [v for v in ensemble_variables(ds) if v not in main_vars]
    parts += [h2("summary"),
              f"<p>Every scalar element of every quantity: mean, sd and {pct} HDI over the "
              "samples. P(∞) is the fraction of samples where the value is infinite (a "
              "phase that does not percolate); those samples are left out of mean, sd and "
              "HDI. The full tensors and the solver diagnostics are in the collapsed table "
              "below it.</p>",
              summary_table(ds, prob, main_vars),
              "<details><summary>Tensor components, solver diagnostics and flags (every "
              "other summarised variable)</summary>",
              summary_table(ds, prob, other_vars), "</details>",
              "<details><summary>What each variable means</summary>",
              descriptions(ds), "</details>"]

    parts += [h2("sources"),
              "<p><b>Imaging conditions measured on the scan</b> (edge profiles for the "
              "point spread, flat regions for the noise, slice means for the drift); the "
              "sampler uses the measured point spread, and the calibration of its priors "
              "and estimator discrepancy is valid inside the range the phantom study "
              "spanned (a warning above says when the scan lies outside).</p>",
              table(imaging_rows(ds)) if imaging_rows(ds) else "<p>(not recorded)</p>",
              "<p><b>Share of each quantity's spread due to each unknown</b>: the first-order "
              "sensitivity index of each nuisance the members drew (how much of the "
              "variance would go if it were known; estimated from the members themselves, "
              "uncertain by about 0.1 with 32 members). <i>binder solid share</i>: solid or "
              "nanoporous binder cannot be told apart below the blur (a BET or porosimetry "
              "measurement, or <code>[sampler] binder</code>, narrows it); <i>active "
              "boundary share</i>: where the particles end inside the blur (a sharper scan "
              "narrows it); <i>binder texture length</i>: the binder domain's texture below "
              "the resolution; <i>estimator discrepancy</i>: what the members missed on "
              "phantoms of known truth at this blur and resolution (the measuring method's "
              "own bias and what the priors do not reproduce); <i>other</i>: the random "
              "placement of boundaries and the mixture parameters (more voxels narrow "
              "it).</p>",
              sources_table(ds, main_vars)]

    parts += [h2("distributions"),
              "<p>The posterior-predictive distribution of each quantity: a histogram of "
              f"its values over the samples (with a smoothed density from 10 samples), the "
              f"{pct} HDI as a bar below it. Narrow distributions are well determined by the "
              "image; wide ones depend on how the uncertain voxels are assigned.</p>",
              img(plot.plot_posterior_predictive(ds, hdi_prob=prob), "distributions")]
    if "size" in present:
        parts += [h2("size"),
                  "<p>Distributions over bins (e.g. particle or pore sizes): the line is "
                  f"the median over the samples in each bin, the band the {pct} HDI.</p>",
                  img(plot.plot_size_distributions(ds, hdi_prob=prob), "size distributions")]
    if "tensors" in present:
        parts += [h2("tensors"),
                  "<p>3×3 tensors (e.g. effective diffusivity) are summarised by their "
                  "principal values, the eigenvalues of their symmetric part, from smallest "
                  "to largest: equal values mean an isotropic material, a spread means "
                  f"transport depends on direction. Points: median; bars: {pct} HDI.</p>",
                  img(plot.plot_tensors(ds, hdi_prob=prob), "tensor principal values")]
    parts += [h2("convergence"),
              "<p>The mean (solid) and HDI bounds (dashed) of each quantity computed from the "
              "first n samples, for growing n. Where the curves are flat at the right, more "
              "samples would not change the summary; where they still move, the ensemble "
              "is too small for a stable interval.</p>",
              img(plot.plot_convergence(ds, hdi_prob=prob), "convergence")]
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def write_report(
    results: str | Path | xr.Dataset,
    out_html: str | Path,
    *,
    volume: np.ndarray | None = None,
) -> Path:
    """Write the self-contained HTML report of a results file.

    Parameters
    ----------
    results : path or xarray.Dataset
        The results NetCDF file (its sample store ``<file>.samples`` beside it is used
        for the gallery of sampled microstructures), or a results Dataset (the store is
        then looked up at the output path recorded in its config).
    out_html : path
        The HTML file to write (parent folders are created).
    volume : numpy.ndarray, optional
        The grey input volume for the slices (default: re-read from the recorded input
        path if it still exists with the recorded SHA-256).

    Returns
    -------
    pathlib.Path
        ``out_html``.

    Raises
    ------
    UqtwinInputError
        If the results file is missing or unreadable.
    """
    text = render_report(results, volume=volume)
    out = Path(out_html)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out

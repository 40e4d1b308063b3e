"""A self-contained HTML report of a results file.

:func:`write_report` writes ONE HTML file: inline CSS, every picture a base64 PNG data
URI, no script and no external resource, so it can be mailed, archived beside the
results or opened offline. It explains itself to a reader who has not seen the code:
each section starts with a short note on what it shows and how to read it.

Sections: about, warnings, input and provenance, pipeline settings, segmentation
(slices, most probable phase, entropy), sampled microstructures, summary table,
distributions of the quantities, size distributions and tensors (when present),
convergence with the number of samples.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from uqtwin import plot
from uqtwin.errors import UqtwinInputError

#: Fewer samples than this: intervals are flagged as unstable whatever their drift.
MIN_SAMPLES = 20
#: An HDI bound moving by more than this fraction of the interval width over the last
#: quarter of the samples is flagged as not yet stable.
MAX_DRIFT = 0.10
#: A relative solver residual or flux mismatch above this is flagged as unconverged.
MAX_RESIDUAL = 1e-3
#: Samples redrawn for the gallery.
GALLERY_SIZE = 4

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #1b1f24; background: #fff; line-height: 1.45; }
main { max-width: 1100px; margin: 0 auto; padding: 1.5em 2em 4em; }
h1 { font-size: 1.8em; margin-bottom: 0.1em; }
h2 { border-bottom: 2px solid #0072B2; padding-bottom: 0.15em; margin-top: 2em; }
p.lead { color: #555; margin-top: 0; }
.note { background: #f3f6fa; border-left: 4px solid #0072B2; padding: 0.5em 1em;
        margin: 0.8em 0; font-size: 0.95em; }
.warn { background: #fff4e5; border-left: 4px solid #D55E00; padding: 0.4em 1em;
        margin: 0.4em 0; }
.ok { background: #eaf7ef; border-left: 4px solid #009E73; padding: 0.4em 1em; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.6em 0; }
th, td { border: 1px solid #d0d7de; padding: 0.25em 0.6em; text-align: right; }
th { background: #f6f8fa; }
td.l, th.l { text-align: left; }
code, pre { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.88em; }
pre { background: #f6f8fa; padding: 0.8em; overflow-x: auto; }
img { max-width: 100%; height: auto; display: block; margin: 0.6em 0; }
nav ol { columns: 2; }
"""


@dataclass(frozen=True)
class ReportWarning:
    """One finding of :func:`find_warnings`: a short title and an explanation."""

    title: str
    detail: str


def _png(fig: Figure, dpi: int = 90) -> str:
    """A figure as a ``data:`` URI; fixed metadata keeps the file reproducible."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _img(fig: Figure, alt: str) -> str:
    return f'<img src="{_png(fig)}" alt="{html.escape(alt)}">'


def _e(value: object) -> str:
    return html.escape(str(value))


def _load(results: str | Path | xr.Dataset) -> tuple[xr.Dataset, Path | None]:
    if isinstance(results, xr.Dataset):
        return results, None
    from uqtwin.results.dataset import open_results

    path = Path(results)
    return open_results(path), path


def _store_for(ds: xr.Dataset, path: Path | None) -> Path | None:
    """The sample store of the results: beside the file read, else the config's output."""
    if path is not None:
        return path.with_name(path.name + ".samples")
    out = (plot.run_config(ds).get("output") or {}).get("path")
    return Path(out).with_name(Path(out).name + ".samples") if out else None


def find_warnings(ds: xr.Dataset, hdi_prob: float | None = None) -> list[ReportWarning]:
    """What a reader of the results must know before trusting the intervals.

    Checks: samples that do not percolate (infinite values, any ``p_inf`` > 0, or a
    ``percolates`` flag that is false); solves that did not converge (a ``*_converged``
    variable that is false, or a ``*residual*`` / ``*mismatch*`` variable above
    :data:`MAX_RESIDUAL`); quantities that could not be computed (all NaN); too few
    samples for a stable interval (fewer than :data:`MIN_SAMPLES`, or an HDI bound that
    moved by more than :data:`MAX_DRIFT` of the interval over the last quarter).

    Parameters
    ----------
    ds : xarray.Dataset
        Results with a ``sample`` dim.
    hdi_prob : float, optional
        Default: the run's ``hdi_prob`` attribute.

    Returns
    -------
    list of ReportWarning
        Empty when nothing was found.
    """
    from uqtwin.results.summary import summarize

    prob = plot.hdi_prob_of(ds, hdi_prob)
    found: list[ReportWarning] = []
    n = int(ds.sizes.get(plot.SAMPLE_DIM, 0))
    table = summarize(ds, prob)

    inf_rows = table[table["p_inf"] > 0]
    if len(inf_rows):
        items = ", ".join(f"{name} ({100 * p:.0f}% of samples)"
                          for name, p in inf_rows["p_inf"].items())
        found.append(ReportWarning(
            "Non-percolating samples",
            "In some samples a phase does not connect the two faces of the volume, so its "
            f"transport quantity is infinite: {items}. Means and intervals use the finite "
            "samples only; the fraction of infinite samples is the P(∞) column."))
    for name, da in ds.data_vars.items():
        if plot.SAMPLE_DIM not in da.dims:
            continue
        values = np.asarray(da.values)
        if da.dtype.kind == "b" and str(name).endswith("percolates") and not values.all():
            found.append(ReportWarning(
                f"{name}: not percolating",
                f"{int((~values).sum())} of {values.size} entries of {name} are false "
                "(no connected path between the two faces of that axis, or nothing to conduct "
                "when the quantity itself was not computed)."))
        elif da.dtype.kind == "b" and str(name).endswith("_converged") and not values.all():
            found.append(ReportWarning(
                f"{name}: unconverged solves",
                f"{int((~values).sum())} of {values.size} solves did not converge."))
        elif (da.dtype.kind in "iuf" and ("residual" in str(name) or "mismatch" in str(name))):
            worst = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 0.0
            if worst > MAX_RESIDUAL:
                bad = int(np.sum(np.abs(values) > MAX_RESIDUAL))
                found.append(ReportWarning(
                    f"{name}: solves not fully converged",
                    f"{bad} of {values.size} solves end with a relative residual above "
                    f"{MAX_RESIDUAL:g} (worst {worst:.2g}); their results are less "
                    "accurate than the solver tolerance suggests."))
        elif (da.dtype.kind == "f" and not np.isfinite(values).any()
              and not np.isinf(values).any()):
            found.append(ReportWarning(
                f"{name}: not computed",
                f"Every sample of {name} is NaN: the quantity could not be computed (often "
                "a missing material property; see the run's warnings)."))

    for note in json.loads(ds.attrs.get("calibration_warnings", "[]") or "[]"):
        found.append(ReportWarning("Outside the calibrated imaging conditions", note))
    for note in json.loads(ds.attrs.get("imaging_notes", "[]") or "[]"):
        found.append(ReportWarning("Imaging conditions partly not measurable", note))
    if 0 < n < MIN_SAMPLES:
        found.append(ReportWarning(
            "Few samples",
            f"The ensemble has {n} samples; with fewer than {MIN_SAMPLES} the "
            f"{100 * prob:g}% interval is little more than the range of the samples and "
            "will change with more. Rerun with more samples before quoting intervals."))
    drifting = []
    for name in plot.scalar_variables(ds):
        for label, v in plot.iter_elements(ds[name]):
            d = plot.interval_drift(v, prob)
            if np.isfinite(d) and d > MAX_DRIFT:
                drifting.append((f"{name}[{label}]" if label else name, d))
    if drifting:
        drifting.sort(key=lambda t: -t[1])
        shown = ", ".join(f"{k} ({100 * d:.0f}%)" for k, d in drifting[:8])
        more = f" and {len(drifting) - 8} more" if len(drifting) > 8 else ""
        found.append(ReportWarning(
            "Intervals still moving",
            f"Over the last quarter of the samples an HDI bound moved by more than "
            f"{100 * MAX_DRIFT:g}% of the interval width for {len(drifting)} quantities: "
            f"{shown}{more}. See the convergence plot; more samples will narrow this."))
    return found


def _provenance_rows(ds: xr.Dataset, path: Path | None) -> list[tuple[str, str]]:
    a = ds.attrs
    cfg = plot.run_config(ds)
    spacing = a.get("spacing")
    spacing_s = (" × ".join(f"{float(s):g}" for s in np.atleast_1d(spacing))
                 if spacing is not None else "—")
    shape = (" × ".join(str(ds.sizes[d]) for d in plot.VOXEL_DIMS)
             if all(d in ds.sizes for d in plot.VOXEL_DIMS) else "—")
    rows = [
        ("results file", str(path) if path else "(in memory)"),
        ("input file", str((cfg.get("input") or {}).get("path", "—"))),
        ("input SHA-256", str(a.get("input_sha256", "—"))),
        ("volume shape (z × y × x)", shape),
        ("voxel spacing (z × y × x)", f"{spacing_s} {a.get('length_unit', '')}"),
        ("length unit", str(a.get("length_unit", "—"))),
        ("phases", ", ".join(plot.phase_names(ds)) or "—"),
        ("samples", str(ds.sizes.get(plot.SAMPLE_DIM, 0))),
        ("sampler", str(a.get("sampler", "—"))),
        ("master seed", str(a.get("seed", "—"))),
        ("HDI probability", f"{plot.hdi_prob_of(ds):g}"),
        ("run started (UTC)", str(a.get("created", "—"))),
        ("uqtwin version", str(a.get("uqtwin_version", "—"))),
        ("results schema version", str(a.get("schema_version", "—"))),
    ]
    return rows


def _table(rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(f'<tr><th class="l">{_e(k)}</th><td class="l">{_e(v)}</td></tr>'
                   for k, v in rows)
    return f"<table>{body}</table>"


def _settings_table(cfg: dict) -> str:
    """The configuration as a (section, setting, value) table; unset (null) values shown
    as “default (automatic or from the file)”."""
    if not cfg:
        return "<p>(not recorded)</p>"
    out = ['<table><tr><th class="l">section</th><th class="l">setting</th>'
           '<th class="l">value</th></tr>']
    for section, values in cfg.items():
        items = values.items() if isinstance(values, dict) else [("", values)]
        for i, (key, value) in enumerate(items):
            shown = ("default (automatic or from the file)" if value is None
                     else ", ".join(map(str, value)) if isinstance(value, list)
                     else json.dumps(value) if isinstance(value, dict) else str(value))
            head = f'<td class="l" rowspan="{len(items)}"><b>{_e(section)}</b></td>' \
                if i == 0 else ""
            out.append(f'<tr>{head}<td class="l">{_e(key)}</td>'
                       f'<td class="l">{_e(shown)}</td></tr>')
    out.append("</table>")
    return "".join(out)


def _summary_table(ds: xr.Dataset, prob: float, variables: Sequence[str]) -> str:
    from uqtwin.results.summary import format_value, summarize

    if not variables:
        return "<p>(none)</p>"
    table = summarize(ds, prob, variables=variables)
    pct = f"{100 * prob:g}%"
    head = ("quantity", "units", "mean", "sd", f"{pct} HDI low", f"{pct} HDI high", "P(∞)",
            "spread from")
    out = ["<table><tr>" + "".join(
        f'<th class="{"l" if i < 2 else ""}">{_e(h)}</th>' for i, h in enumerate(head)
    ) + "</tr>"]
    for name, row in table.iterrows():
        cells = [name, row["units"], format_value(row["mean"]), format_value(row["sd"], 3),
                 format_value(row["hdi_low"]), format_value(row["hdi_high"]),
                 format_value(row["p_inf"]) if row["p_inf"] else "0",
                 row.get("spread_from", "")]
        out.append("<tr>" + "".join(
            f'<td class="{"l" if i < 2 else ""}">{_e(c)}</td>' for i, c in enumerate(cells)
        ) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _imaging_rows(ds: xr.Dataset) -> list[tuple[str, str]]:
    rows = []
    if "psf_sigma" in ds:
        rows.append(("point-spread width (z, y, x)",
                     ", ".join(f"{float(v):.2f}" for v in ds["psf_sigma"].values) + " voxels"))
    for name, label in (("photons_per_voxel", "photons per voxel"),
                        ("read_noise", "read noise (grey)"), ("slice_drift", "slice drift")):
        if name in ds:
            rows.append((label, f"{float(ds[name]):.3g}"))
    return rows


def _sources(ds: xr.Dataset, variables: Sequence[str]) -> str:
    from uqtwin.results.attribution import variance_decomposition

    table = variance_decomposition(ds, variables) if variables else pd.DataFrame()
    if table.empty:
        return ("<p>This run's sampler draws no nuisance values (only the ambiguity sampler "
                "does), so its spread cannot be split by source.</p>")
    cols = list(table.columns)
    out = ['<table><tr><th class="l">quantity</th>'
           + "".join(f"<th>{_e(c)}</th>" for c in cols) + "</tr>"]
    for name, row in table.iterrows():
        out.append(f'<tr><td class="l">{_e(name)}</td>'
                   + "".join(f"<td>{100 * float(row[c]):.0f}%</td>" for c in cols) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _descriptions(ds: xr.Dataset) -> str:
    items = []
    for name, da in ds.data_vars.items():
        if plot.SAMPLE_DIM in da.dims and da.attrs.get("description") and name != "sample_seed":
            items.append(f"<li><code>{_e(name)}</code> ({_e(da.attrs.get('units', ''))}): "
                         f"{_e(da.attrs['description'])}</li>")
    return f"<ul>{''.join(items)}</ul>" if items else ""


def _gallery(ds: xr.Dataset, path: Path | None) -> str:
    store = _store_for(ds, path)
    n = int(ds.sizes.get(plot.SAMPLE_DIM, 0))
    indices = list(range(min(GALLERY_SIZE, n)))
    try:
        labels = plot.redraw_samples(ds, indices, store)
    except (UqtwinInputError, OSError, ValueError, TypeError) as exc:
        return (f'<p class="note">The sampled microstructures cannot be shown: {_e(exc)}. '
                "They are redrawn from the run's sample store, which must still exist "
                "beside the results file.</p>")
    sample_ids = ds[plot.SAMPLE_DIM].values if plot.SAMPLE_DIM in ds.coords else indices
    titles = [f"sample {sample_ids[i]}" for i in indices]
    fig = plot.plot_sample_gallery(labels, plot.phase_names(ds), titles=titles)
    return _img(fig, "slices through sampled microstructures")


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
    """The report as an HTML string (see :func:`write_report`)."""
    ds, path = _load(results)
    prob = plot.hdi_prob_of(ds)
    pct = f"{100 * prob:g}%"
    n = int(ds.sizes.get(plot.SAMPLE_DIM, 0))
    present = {key for key, _ in _SECTIONS}
    if not plot.distribution_variables(ds):
        present.discard("size")
    if not plot.tensor_variables(ds):
        present.discard("tensors")
    titles = [(k, t) for k, t in _SECTIONS if k in present]
    number = {k: i + 1 for i, (k, _) in enumerate(titles)}

    def h2(key: str) -> str:
        return f'<h2 id="{key}">{number[key]}. {_e(dict(_SECTIONS)[key])}</h2>'

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>uqtwin report — {_e(path.name if path else 'results')}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        "<h1>uqtwin digital-twin report</h1>",
        f'<p class="lead">{_e(path or "results")} · {n} sampled microstructures · '
        f"{pct} intervals</p>",
        "<nav><ol>" + "".join(f'<li><a href="#{k}">{_e(t)}</a></li>' for k, t in titles)
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
        parts += [f'<div class="warn"><b>{_e(w.title)}.</b> {_e(w.detail)}</div>'
                  for w in warns]
    else:
        parts.append('<p class="ok">No warnings: every sample percolates, every solve '
                     "converged and the intervals are stable.</p>")

    parts += [h2("input"),
              "<p>Where the results come from. The SHA-256 fingerprint identifies the exact "
              "input file: the same fingerprint, settings and seed give the same numbers.</p>",
              _table(_provenance_rows(ds, path))]

    cfg = plot.run_config(ds)
    parts += [h2("settings"),
              "<p>The complete run configuration, as stored in the results file. Running "
              "<code>uqtwin run</code> with a TOML file holding these values reproduces "
              "the run.</p>",
              _settings_table(cfg),
              "<details><summary>The configuration as JSON</summary>",
              f"<pre>{_e(json.dumps(cfg, indent=2) if cfg else '(not recorded)')}</pre>",
              "</details>"]

    parts += [h2("segmentation"), """
<p>Slices through the middle of the volume along each axis. <b>Grey value</b>: the input
tomogram (shown when the input file is still available). <b>Most probable phase</b>: at
each voxel the phase with the highest posterior probability — the single “best guess”
segmentation. <b>Posterior entropy</b>: how uncertain that guess is, in nats; 0 (black)
where one phase is certain, up to ln(number of phases) where all phases are equally
likely. Bright voxels are where the sampled microstructures differ; they usually sit on
phase boundaries and in phases whose grey values overlap.</p>""",
              _img(plot.plot_slices(ds, volume), "orthogonal slices")]
    if "mixture_mean" in ds:
        rows = [(p, f"mean {float(m):.4g}, sd {float(s):.4g}, weight {float(w):.3g}")
                for p, m, s, w in zip(plot.phase_names(ds), ds["mixture_mean"].values,
                                      ds["mixture_sd"].values, ds["mixture_weight"].values,
                                      strict=False)]
        parts += ["<p>The plain grey-value mixture fitted by EM (one Gaussian per phase; the "
                  "weight is its prior volume fraction). With blur, the middle phase's "
                  "Gaussian also absorbs the partial-volume voxels at every interface of "
                  "the darkest and brightest phases (hence its width): the sampler then "
                  "decides, member by member, how many of those are really that phase (see "
                  "the run's <code>sampler</code> setting).</p>", _table(rows)]

    parts += [h2("samples"), """
<p>The same slice through a few of the sampled microstructures. They differ where the
entropy map is bright. The samples are not stored in the results; they are redrawn
exactly from the fitted ensemble model kept beside them
(<code>&lt;results&gt;.samples/prepared.pkl</code>) and each sample's
<code>sample_seed</code>.</p>""",
              _gallery(ds, path)]

    from uqtwin.results.summary import ensemble_variables

    main_vars = plot.scalar_variables(ds)
    other_vars = [v for v in ensemble_variables(ds) if v not in main_vars]
    parts += [h2("summary"),
              f"<p>Every scalar element of every quantity: mean, sd and {pct} HDI over the "
              "samples. P(∞) is the fraction of samples where the value is infinite (a "
              "phase that does not percolate); those samples are left out of mean, sd and "
              "HDI. The full tensors and the solver diagnostics are in the collapsed table "
              "below it.</p>",
              _summary_table(ds, prob, main_vars),
              "<details><summary>Tensor components, solver diagnostics and flags (every "
              "other summarised variable)</summary>",
              _summary_table(ds, prob, other_vars), "</details>",
              "<details><summary>What each variable means</summary>",
              _descriptions(ds), "</details>"]

    parts += [h2("sources"),
              "<p><b>Imaging conditions measured on the scan</b> (edge profiles for the "
              "point spread, flat regions for the noise, slice means for the drift); the "
              "sampler uses the measured point spread, and the calibration of its priors "
              "and estimator discrepancy is valid inside the range the phantom study "
              "spanned (a warning above says when the scan lies outside).</p>",
              _table(_imaging_rows(ds)) if _imaging_rows(ds) else "<p>(not recorded)</p>",
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
              _sources(ds, main_vars)]

    parts += [h2("distributions"),
              "<p>The posterior-predictive distribution of each quantity: a histogram of "
              f"its values over the samples (with a smoothed density from 10 samples), the "
              f"{pct} HDI as a bar below it. Narrow distributions are well determined by the "
              "image; wide ones depend on how the uncertain voxels are assigned.</p>",
              _img(plot.plot_posterior_predictive(ds, hdi_prob=prob), "distributions")]
    if "size" in present:
        parts += [h2("size"),
                  "<p>Distributions over bins (e.g. particle or pore sizes): the line is "
                  f"the median over the samples in each bin, the band the {pct} HDI.</p>",
                  _img(plot.plot_size_distributions(ds, hdi_prob=prob), "size distributions")]
    if "tensors" in present:
        parts += [h2("tensors"),
                  "<p>3×3 tensors (e.g. effective diffusivity) are summarised by their "
                  "principal values, the eigenvalues of their symmetric part, from smallest "
                  "to largest: equal values mean an isotropic material, a spread means "
                  f"transport depends on direction. Points: median; bars: {pct} HDI.</p>",
                  _img(plot.plot_tensors(ds, hdi_prob=prob), "tensor principal values")]
    parts += [h2("convergence"),
              "<p>The mean (solid) and HDI bounds (dashed) of each quantity computed from the "
              "first n samples, for growing n. Where the curves are flat at the right, more "
              "samples would not change the summary; where they still move, the ensemble "
              "is too small for a stable interval.</p>",
              _img(plot.plot_convergence(ds, hdi_prob=prob), "convergence")]
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

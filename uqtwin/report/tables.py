"""The report's tables of a results Dataset: provenance, summary, imaging, sources."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from uqtwin.report.html import esc
from uqtwin.results.conventions import (
    SAMPLE_DIM,
    VOXEL_DIMS,
    hdi_prob_of,
    phase_names,
    run_config,
)


def provenance_rows(ds: xr.Dataset, path: Path | None) -> list[tuple[str, str]]:
    """(label, value) rows saying where the results come from.

    Parameters
    ----------
    ds : xarray.Dataset
        The results.
    path : pathlib.Path or None
        The file ``ds`` was read from.

    Returns
    -------
    list of (str, str)
    """
    a = ds.attrs
    cfg = run_config(ds)
    spacing = a.get("spacing")
    spacing_s = (" × ".join(f"{float(s):g}" for s in np.atleast_1d(spacing))
                 if spacing is not None else "—")
    shape = (" × ".join(str(ds.sizes[d]) for d in VOXEL_DIMS)
             if all(d in ds.sizes for d in VOXEL_DIMS) else "—")
    rows = [
        ("results file", str(path) if path else "(in memory)"),
        ("input file", str((cfg.get("input") or {}).get("path", "—"))),
        ("input SHA-256", str(a.get("input_sha256", "—"))),
        ("volume shape (z × y × x)", shape),
        ("voxel spacing (z × y × x)", f"{spacing_s} {a.get('length_unit', '')}"),
        ("length unit", str(a.get("length_unit", "—"))),
        ("phases", ", ".join(phase_names(ds)) or "—"),
        ("samples", str(ds.sizes.get(SAMPLE_DIM, 0))),
        ("sampler", str(a.get("sampler", "—"))),
        ("master seed", str(a.get("seed", "—"))),
        ("HDI probability", f"{hdi_prob_of(ds):g}"),
        ("run started (UTC)", str(a.get("created", "—"))),
        ("uqtwin version", str(a.get("uqtwin_version", "—"))),
        ("results schema version", str(a.get("schema_version", "—"))),
    ]
    return rows


def summary_table(ds: xr.Dataset, prob: float, variables: Sequence[str]) -> str:
    """The summary (mean, sd, HDI, P(∞), spread source) of ``variables`` as HTML.

    Parameters
    ----------
    ds : xarray.Dataset
        The results.
    prob : float
        HDI probability.
    variables : sequence of str
        Variables to summarise.

    Returns
    -------
    str
        HTML (``(none)`` for no variables).
    """
    from uqtwin.results.summary import format_value, summarize

    if not variables:
        return "<p>(none)</p>"
    table = summarize(ds, prob, variables=variables)
    pct = f"{100 * prob:g}%"
    head = ("quantity", "units", "mean", "sd", f"{pct} HDI low", f"{pct} HDI high", "P(∞)",
            "spread from")
    out = ["<table><tr>" + "".join(
        f'<th class="{"l" if i < 2 else ""}">{esc(h)}</th>' for i, h in enumerate(head)
    ) + "</tr>"]
    for name, row in table.iterrows():
        cells = [name, row["units"], format_value(row["mean"]), format_value(row["sd"], 3),
                 format_value(row["hdi_low"]), format_value(row["hdi_high"]),
                 format_value(row["p_inf"]) if row["p_inf"] else "0",
                 row.get("spread_from", "")]
        out.append("<tr>" + "".join(
            f'<td class="{"l" if i < 2 else ""}">{esc(c)}</td>' for i, c in enumerate(cells)
        ) + "</tr>")
    out.append("</table>")
    return "".join(out)


def imaging_rows(ds: xr.Dataset) -> list[tuple[str, str]]:
    """(label, value) rows of the imaging conditions measured on the scan (may be empty).

    Parameters
    ----------
    ds : xarray.Dataset
        The results.

    Returns
    -------
    list of (str, str)
    """
    rows = []
    if "psf_sigma" in ds:
        rows.append(("point-spread width (z, y, x)",
                     ", ".join(f"{float(v):.2f}" for v in ds["psf_sigma"].values) + " voxels"))
    for name, label in (("photons_per_voxel", "photons per voxel"),
                        ("read_noise", "read noise (grey)"), ("slice_drift", "slice drift")):
        if name in ds:
            rows.append((label, f"{float(ds[name]):.3g}"))
    return rows


def sources_table(ds: xr.Dataset, variables: Sequence[str]) -> str:
    """The share of each quantity's spread due to each nuisance, as HTML.

    Parameters
    ----------
    ds : xarray.Dataset
        The results.
    variables : sequence of str
        Quantities to decompose.

    Returns
    -------
    str
        HTML (a note when the sampler drew no nuisance).
    """
    from uqtwin.results.attribution import variance_decomposition

    table = variance_decomposition(ds, variables) if variables else pd.DataFrame()
    if table.empty:
        return ("<p>This run's sampler draws no nuisance values (only the ambiguity sampler "
                "does), so its spread cannot be split by source.</p>")
    cols = list(table.columns)
    out = ['<table><tr><th class="l">quantity</th>'
           + "".join(f"<th>{esc(c)}</th>" for c in cols) + "</tr>"]
    for name, row in table.iterrows():
        out.append(f'<tr><td class="l">{esc(name)}</td>'
                   + "".join(f"<td>{100 * float(row[c]):.0f}%</td>" for c in cols) + "</tr>")
    out.append("</table>")
    return "".join(out)


def descriptions(ds: xr.Dataset) -> str:
    """An HTML list of what each ensemble variable means (units and description).

    Parameters
    ----------
    ds : xarray.Dataset
        The results.

    Returns
    -------
    str
        HTML (empty when no variable has a description).
    """
    items = []
    for name, da in ds.data_vars.items():
        if SAMPLE_DIM in da.dims and da.attrs.get("description") and name != "sample_seed":
            items.append(f"<li><code>{esc(name)}</code> ({esc(da.attrs.get('units', ''))}): "
                         f"{esc(da.attrs['description'])}</li>")
    return f"<ul>{''.join(items)}</ul>" if items else ""

"""What a reader must know before trusting the intervals: the report's warnings."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import xarray as xr

from uqtwin import plot
from uqtwin.results.conventions import SAMPLE_DIM, hdi_prob_of

#: Fewer samples than this: intervals are flagged as unstable whatever their drift.
MIN_SAMPLES = 20


#: An HDI bound moving by more than this fraction of the interval width over the last
#: quarter of the samples is flagged as not yet stable.
MAX_DRIFT = 0.10


#: A relative solver residual or flux mismatch above this is flagged as unconverged.
MAX_RESIDUAL = 1e-3


@dataclass(frozen=True)
class ReportWarning:
    """One finding of :func:`find_warnings`: a short title and an explanation."""

    title: str
    detail: str


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

    prob = hdi_prob_of(ds, hdi_prob)
    found: list[ReportWarning] = []
    n = int(ds.sizes.get(SAMPLE_DIM, 0))
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
        if SAMPLE_DIM not in da.dims:
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

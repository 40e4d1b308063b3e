"""Figures of a results Dataset: what a user looks at after a run.

Every function returns a :class:`matplotlib.figure.Figure` built directly (not through
``pyplot``), so nothing is registered in a global figure manager, nothing needs closing,
and the Agg renderer is used whatever the session's backend. Save one with
``fig.savefig("name.png")`` or show it in a notebook by leaving it as a cell's value.

The functions are generic over the variables present: scalars per phase / axis / pair
(``plot_posterior_predictive``, ``plot_convergence``), distributions over a ``bin`` dim
(``plot_size_distributions``) and 3×3 tensors over ``(axis, axis2)`` (``plot_tensors``).

The engine does not keep the sampled label volumes (they are as large as the input, once
per sample). :func:`redraw_samples` reproduces them exactly from the sample store
(``<results>.samples/posteriors.npy``), the run configuration and each sample's
``sample_seed``; :func:`plot_sample_gallery` draws any list of label arrays.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure

from uqtwin.errors import UqtwinInputError

SAMPLE_DIM = "sample"
BIN_DIM = "bin"  # also any dim named "<something>_bin" (e.g. particle_bin)
TENSOR_DIMS = ("axis", "axis2")
VOXEL_DIMS = ("z", "y", "x")

#: Name patterns of solver diagnostics and flags: summarised in the report's warnings,
#: not plotted as quantities.
DIAGNOSTIC_PATTERN = re.compile(
    r"(_converged$|residual|mismatch|iterations|_change$|percolates|principal_axes$)"
)

# Colour-blind-safe qualitative colours (Okabe–Ito) for phases and plot elements.
_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
            "#000000")


def _figure(n_panels: int, ncols: int = 3, panel: tuple[float, float] = (3.6, 2.8)
            ) -> tuple[Figure, list[Any]]:
    """A figure with ``n_panels`` axes on a grid; unused grid cells are removed."""
    ncols = max(1, min(ncols, n_panels))
    nrows = max(1, -(-n_panels // ncols))
    fig = Figure(figsize=(panel[0] * ncols, panel[1] * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for ax in axes[n_panels:]:
        fig.delaxes(ax)
    return fig, axes[:n_panels]


def _message_figure(text: str) -> Figure:
    """A small figure saying why there is nothing to plot (keeps reports uniform)."""
    fig = Figure(figsize=(6, 1.2))
    fig.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    return fig


def phase_names(ds: xr.Dataset) -> list[str]:
    """Phase names of a results Dataset (``phases`` attribute, else the ``phase`` coord)."""
    raw = ds.attrs.get("phases")
    if raw is not None:
        return list(json.loads(raw)) if isinstance(raw, str) else [str(p) for p in raw]
    if "phase" in ds.coords:
        return [str(p) for p in ds["phase"].values]
    return []


def run_config(ds: xr.Dataset) -> dict[str, Any]:
    """The run configuration stored in the ``config`` attribute (empty dict if absent)."""
    raw = ds.attrs.get("config")
    if not raw:
        return {}
    try:
        return json.loads(raw) if isinstance(raw, str) else dict(raw)
    except ValueError:
        return {}


def hdi_prob_of(ds: xr.Dataset, hdi_prob: float | None = None) -> float:
    """The HDI probability to use: the argument, else the run's, else 0.9."""
    return float(hdi_prob if hdi_prob is not None else ds.attrs.get("hdi_prob", 0.9))


def hdi(values: np.ndarray, hdi_prob: float = 0.9) -> tuple[float, float]:
    """Highest-density interval of 1-D draws, non-finite draws left out.

    The narrowest interval holding ``hdi_prob`` of the finite draws (arviz's rule for
    unimodal samples); ``(nan, nan)`` when no draw is finite.
    """
    x = np.sort(np.asarray(values, dtype=float).ravel())
    x = x[np.isfinite(x)]
    n = x.size
    if n == 0:
        return (np.nan, np.nan)
    # Same count as arviz.hdi: floor(p·n) draws inside, at least one.
    k = max(int(np.floor(hdi_prob * n)), 1)
    if k >= n:
        return (float(x[0]), float(x[-1]))
    widths = x[k:] - x[: n - k]
    i = int(np.argmin(widths))
    return (float(x[i]), float(x[i + k]))


# ---------------------------------------------------------------------------------------
# Which variables go where


def bin_dim(da: xr.DataArray) -> str | None:
    """The bin dim of a distribution variable: ``bin`` or a ``*_bin`` dim, else None."""
    for d in da.dims:
        if d == BIN_DIM or str(d).endswith("_" + BIN_DIM):
            return str(d)
    return None


def _numeric(da: xr.DataArray) -> bool:
    return da.dtype.kind in "iuf"


def scalar_variables(ds: xr.Dataset) -> list[str]:
    """Ensemble variables whose elements are scalars worth a distribution plot.

    Numeric variables with a ``sample`` dim, without a ``bin``, ``(axis, axis2)`` or voxel
    dim, that are not solver diagnostics or flags (:data:`DIAGNOSTIC_PATTERN`), not
    ``sample_seed``, and have at least one finite value.
    """
    names = []
    for name, da in ds.data_vars.items():
        if SAMPLE_DIM not in da.dims or not _numeric(da) or name == "sample_seed":
            continue
        if bin_dim(da) or set(TENSOR_DIMS) <= set(da.dims):
            continue
        if set(VOXEL_DIMS) & set(da.dims) or DIAGNOSTIC_PATTERN.search(str(name)):
            continue
        if not np.isfinite(np.asarray(da.values, dtype=float)).any():
            continue
        names.append(str(name))
    return names


def distribution_variables(ds: xr.Dataset) -> list[str]:
    """Ensemble variables with a bin dim (``bin`` or ``*_bin``: size distributions)."""
    return [str(n) for n, da in ds.data_vars.items()
            if SAMPLE_DIM in da.dims and bin_dim(da) and _numeric(da)]


def tensor_variables(ds: xr.Dataset) -> list[str]:
    """Ensemble variables holding a 3×3 tensor over ``(axis, axis2)`` with a finite value."""
    return [str(n) for n, da in ds.data_vars.items()
            if SAMPLE_DIM in da.dims and set(TENSOR_DIMS) <= set(da.dims) and _numeric(da)
            and np.isfinite(np.asarray(da.values, dtype=float)).any()]


def _panels(da: xr.DataArray) -> Iterator[tuple[str, xr.DataArray]]:
    """Split a variable into panels, one per phase (if any), with a title each; the other
    non-sample dims are overlaid within a panel."""
    if "phase" in da.dims:
        for p in da["phase"].values:
            yield f"{da.name} — {p}", da.sel(phase=p)
    else:
        yield str(da.name), da


def iter_elements(da: xr.DataArray, keep: Sequence[str] = (SAMPLE_DIM,)
              ) -> Iterator[tuple[str, np.ndarray]]:
    """(label, values) for every combination of the dims not in ``keep``."""
    other = [d for d in da.dims if d not in keep]
    if not other:
        yield "", np.asarray(da.transpose(*[d for d in keep if d in da.dims]).values)
        return
    for idx in np.ndindex(*[da.sizes[d] for d in other]):
        sel = dict(zip(other, idx, strict=True))
        label = ", ".join(
            f"{d}={da[d].values[i]}" if d in da.coords else f"{d}={i}"
            for d, i in sel.items()
        )
        sub = da.isel(sel)
        yield label, np.asarray(sub.transpose(*[d for d in keep if d in sub.dims]).values)


def _units(da: xr.DataArray) -> str:
    u = str(da.attrs.get("units", ""))
    return "" if u in ("", "1") else f" [{u}]"


# ---------------------------------------------------------------------------------------
# Volumes and slices


def grey_volume(ds: xr.Dataset) -> np.ndarray | None:
    """The run's grey input volume, re-read from the path in the ``config`` attribute.

    Returns ``None`` when the file no longer exists, cannot be read, or no longer matches
    the recorded ``input_sha256`` (a different file at the same path must not be shown).
    """
    cfg = run_config(ds)
    inp = cfg.get("input") or {}
    path = inp.get("path")
    if not path or not Path(path).is_file():
        return None
    from uqtwin.io import read_volume

    try:
        vol = read_volume(
            path, inp.get("format"), spacing=inp.get("spacing"), unit=inp.get("unit"),
            dataset=inp.get("dataset"), shape=inp.get("shape"), dtype=inp.get("dtype"),
            byte_order=inp.get("byte_order", "little"), offset=inp.get("offset", 0),
        )
    except (UqtwinInputError, OSError, ValueError):
        return None
    recorded = ds.attrs.get("input_sha256")
    if recorded and vol.attrs.get("sha256") and vol.attrs["sha256"] != recorded:
        return None
    return np.asarray(vol.values)


def _mid_slices(vol: np.ndarray, index: Sequence[int] | None = None) -> list[np.ndarray]:
    """The z, y and x planes through ``index`` (default: the centre) of a 3-D array."""
    c = [s // 2 for s in vol.shape] if index is None else list(index)
    return [vol[c[0], :, :], vol[:, c[1], :], vol[:, :, c[2]]]


def _phase_cmap(n: int) -> tuple[ListedColormap, BoundaryNorm]:
    cmap = ListedColormap([_COLOURS[i % len(_COLOURS)] for i in range(n)])
    return cmap, BoundaryNorm(np.arange(n + 1) - 0.5, n)


def _phase_legend(fig: Figure, phases: Sequence[str]) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(color=_COLOURS[i % len(_COLOURS)], label=f"{i}: {p}")
               for i, p in enumerate(phases)]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles),
               frameon=False)


def plot_slices(
    ds: xr.Dataset,
    volume: np.ndarray | xr.DataArray | None = None,
    index: Sequence[int] | None = None,
) -> Figure:
    """Orthogonal slices of the grey volume, the most probable phase and the entropy.

    Parameters
    ----------
    ds : xarray.Dataset
        Results with ``most_probable_phase`` and ``posterior_entropy`` (written when
        ``[output] maps`` is on); either may be missing.
    volume : array, optional
        The grey volume. Default: re-read from the input path of the run
        (:func:`grey_volume`); if that file is gone the row is left out.
    index : (int, int, int), optional
        Voxel the three planes pass through (default: the centre).

    Returns
    -------
    matplotlib.figure.Figure
        One row per available map (grey, most probable phase, entropy), one column per
        plane (z, y, x).
    """
    grey = grey_volume(ds) if volume is None else np.asarray(volume)
    phases = phase_names(ds)
    rows: list[tuple[str, np.ndarray]] = []
    if grey is not None:
        rows.append(("grey value", grey))
    if "most_probable_phase" in ds:
        rows.append(("most probable phase", np.asarray(ds["most_probable_phase"].values)))
    if "posterior_entropy" in ds:
        rows.append(("posterior entropy [nat]", np.asarray(ds["posterior_entropy"].values)))
    if not rows:
        return _message_figure("No volume to show: the grey input is not available and the "
                               "results hold no voxel maps ([output] maps = false).")
    fig = Figure(figsize=(3.4 * 3 + 1.2, 3.2 * len(rows) + 0.6), layout="constrained")
    axes = fig.subplots(len(rows), 3, squeeze=False)
    planes = ("z", "y", "x")
    for r, (title, vol) in enumerate(rows):
        centre = [s // 2 for s in vol.shape] if index is None else list(index)
        sl = _mid_slices(vol, centre)
        if title.startswith("most probable"):
            cmap, norm = _phase_cmap(max(len(phases), int(vol.max()) + 1))
            kw: dict[str, Any] = {"cmap": cmap, "norm": norm, "interpolation": "nearest"}
        elif title.startswith("posterior entropy"):
            vmax = np.log(len(phases)) if phases else float(np.nanmax(vol))
            kw = {"cmap": "magma", "vmin": 0.0, "vmax": vmax}
        else:
            lo, hi = np.percentile(vol, [0.5, 99.5])
            kw = {"cmap": "gray", "vmin": lo, "vmax": hi}
        for c, (plane, img) in enumerate(zip(planes, sl, strict=True)):
            ax = axes[r, c]
            im = ax.imshow(img, origin="lower", **kw)
            ax.set_title(f"{title}\n{plane} = {centre[c]}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        if not title.startswith("most probable"):
            fig.colorbar(im, ax=axes[r, :].tolist(), shrink=0.8)
    if "most_probable_phase" in ds and phases:
        _phase_legend(fig, phases)
    return fig


def redraw_samples(
    ds: xr.Dataset,
    indices: Sequence[int],
    store: str | Path | None = None,
) -> list[np.ndarray]:
    """Redraw sampled microstructures exactly, from the run's sample store.

    The engine stores each sample's quantities and seed, not its labels. Sample ``i`` is
    reproduced by :func:`uqtwin.engine.pipeline.draw_sample` from the fitted ensemble
    model kept in the store (``<results>.samples/prepared.pkl``), the run's segmentation
    settings (the ``config`` attribute) and ``sample_seed[i]``; the draw depends on
    nothing else, so the labels are the ones the quantities were computed on.

    Parameters
    ----------
    ds : xarray.Dataset
        Results with ``sample_seed`` and the ``config`` attribute.
    indices : sequence of int
        Positions along the ``sample`` dim to redraw.
    store : path, optional
        The sample-store folder (default: ``<output path of the config>.samples``).

    Returns
    -------
    list of numpy.ndarray
        Label volumes (phase index per voxel), one per index.

    Raises
    ------
    UqtwinInputError
        If the store or its posteriors are missing, or the store belongs to another input.
    """
    from uqtwin.engine.config import SegmentConfig
    from uqtwin.engine.pipeline import draw_sample
    from uqtwin.engine.store import SampleStore

    cfg = run_config(ds)
    if store is None:
        out = (cfg.get("output") or {}).get("path")
        if not out:
            raise UqtwinInputError("the results name no output path; pass the sample store")
        store = Path(out).with_name(Path(out).name + ".samples")
    sample_store = SampleStore(Path(store))
    prepared = sample_store.load_pickle("prepared")
    if prepared is None:
        raise UqtwinInputError(f"no fitted model in {store}: cannot redraw samples")
    if ds.attrs.get("input_sha256") and prepared.input_sha256 != ds.attrs["input_sha256"]:
        raise UqtwinInputError(f"{store} belongs to a run on another input file")
    if "sample_seed" not in ds:
        raise UqtwinInputError("the results hold no sample_seed: cannot redraw samples")
    segment = SegmentConfig(**_known_fields(SegmentConfig, cfg.get("segment") or {}))
    seeds = np.asarray(ds["sample_seed"].values)
    return [draw_sample(prepared.sampler, int(seeds[i]), segment, prepared.phases)
            for i in indices]


def _known_fields(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    # Tolerate configs written by other versions: keep only the fields this one knows.
    import dataclasses

    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in values.items() if k in names}


def plot_sample_gallery(
    labels: Sequence[np.ndarray],
    phases: Sequence[str],
    *,
    axis: int = 0,
    index: int | None = None,
    titles: Sequence[str] | None = None,
) -> Figure:
    """The same slice through several sampled microstructures, side by side.

    Parameters
    ----------
    labels : sequence of numpy.ndarray
        3-D label volumes (phase index per voxel), e.g. from :func:`redraw_samples`.
    phases : sequence of str
        Phase names, in label order (for the colour legend).
    axis : int
        Axis normal to the slice (0 = z, 1 = y, 2 = x).
    index : int, optional
        Position of the slice along ``axis`` (default: the centre).
    titles : sequence of str, optional
        One title per volume (default ``sample i``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not labels:
        return _message_figure("No sampled microstructures to show.")
    n = len(labels)
    fig = Figure(figsize=(2.8 * n + 0.4, 3.4), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    cmap, norm = _phase_cmap(max(len(phases), 1))
    for i, (ax, lab) in enumerate(zip(axes, labels, strict=True)):
        k = lab.shape[axis] // 2 if index is None else index
        img = np.take(lab, k, axis=axis)
        ax.imshow(img, cmap=cmap, norm=norm, interpolation="nearest", origin="lower")
        ax.set_title(titles[i] if titles else f"sample {i}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{'zyx'[axis]} = {k} plane", fontsize=10)
    _phase_legend(fig, phases)
    return fig


# ---------------------------------------------------------------------------------------
# Distributions of the quantities


def plot_posterior_predictive(
    ds: xr.Dataset, variables: Sequence[str] | None = None, hdi_prob: float | None = None
) -> Figure:
    """Histogram (and KDE, from 10 samples) of every scalar quantity, HDI marked.

    One panel per variable and phase; other dims (e.g. axis) are overlaid in colour.
    The HDI is drawn as a thick bar under each histogram; samples that are infinite
    (non-percolating) are counted in the legend and left out of histogram and HDI.

    Parameters
    ----------
    ds : xarray.Dataset
        Results with a ``sample`` dim.
    variables : sequence of str, optional
        Default :func:`scalar_variables`.
    hdi_prob : float, optional
        Default: the run's ``hdi_prob`` attribute.

    Returns
    -------
    matplotlib.figure.Figure
    """
    prob = hdi_prob_of(ds, hdi_prob)
    names = scalar_variables(ds) if variables is None else list(variables)
    panels = [(t, sub) for name in names for t, sub in _panels(ds[name])]
    if not panels:
        return _message_figure("No scalar quantities in these results.")
    fig, axes = _figure(len(panels))
    for ax, (title, sub) in zip(axes, panels, strict=True):
        elements = list(iter_elements(sub))
        finite_all = np.concatenate([v[np.isfinite(v)] for _, v in elements]) if elements \
            else np.array([])
        if finite_all.size == 0:
            ax.text(0.5, 0.5, "no finite samples", ha="center", va="center",
                    transform=ax.transAxes)
        n_bins = int(np.clip(2 * np.sqrt(max(finite_all.size / max(len(elements), 1), 1)),
                             5, 20))
        intervals = []
        for j, (label, v) in enumerate(elements):
            colour = _COLOURS[j % len(_COLOURS)]
            x = v[np.isfinite(v)].astype(float)
            n_inf = int(np.sum(~np.isfinite(v)))
            if x.size == 0:
                continue
            # Each element gets its own bins: overlaid elements may differ by 10× in range.
            ax.hist(x, bins=n_bins, density=True, alpha=0.35, color=colour,
                    label=(label or "samples") + (f" ({n_inf} ∞)" if n_inf else ""))
            if x.size >= 10 and np.ptp(x) > 0:
                from scipy.stats import gaussian_kde

                grid = np.linspace(x.min() - 0.1 * np.ptp(x), x.max() + 0.1 * np.ptp(x), 200)
                ax.plot(grid, gaussian_kde(x)(grid), color=colour, lw=1.2)
            intervals.append((colour, hdi(x, prob)))
        # HDI bars in a strip below zero density, one row per element, so that they never
        # hide the histograms or the tick labels.
        top = ax.get_ylim()[1]
        for j, (colour, (lo, hi)) in enumerate(intervals):
            y = -(0.06 + 0.08 * j) * top
            ax.plot([lo, hi], [y, y], color=colour, lw=3, solid_capstyle="butt")
            ax.plot([lo, hi], [y, y], "|", color=colour, ms=7)
        if intervals:
            ax.set_ylim(-(0.06 + 0.08 * len(intervals)) * top, top)
        ax.axhline(0, color="0.6", lw=0.6)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(str(sub.attrs.get("long_name", sub.name)) + _units(sub), fontsize=8)
        ax.set_yticks([])
        ax.tick_params(labelsize=7)
        if ax.get_legend_handles_labels()[0] and (
                len(elements) > 1 or any(not np.isfinite(v).all() for _, v in elements)):
            ax.legend(fontsize=7, frameon=False)
    fig.suptitle(f"Posterior-predictive distributions (bars: {100 * prob:g}% HDI)",
                 fontsize=10)
    return fig


def _bin_axis(da: xr.DataArray, dim: str) -> tuple[np.ndarray, str]:
    """x values and label of a bin dim: its own numeric coordinate (bin centres), else
    another numeric 1-D coordinate along it, else the bin index."""
    candidates = [dim] + [str(n) for n, c in da.coords.items() if c.dims == (dim,) and n != dim]
    for name in candidates:
        if name in da.coords and da[name].dtype.kind in "iuf":
            c = da[name]
            label = f"{dim} centre" if name == dim else name
            return np.asarray(c.values, dtype=float), f"{label}{_units(c)}"
    return np.arange(da.sizes[dim], dtype=float), f"{dim} index"


def plot_size_distributions(
    ds: xr.Dataset, variables: Sequence[str] | None = None, hdi_prob: float | None = None
) -> Figure:
    """Every variable over a bin dim as a band: median and HDI per bin over samples.

    Parameters
    ----------
    ds : xarray.Dataset
        Results with a ``sample`` dim.
    variables : sequence of str, optional
        Default :func:`distribution_variables`.
    hdi_prob : float, optional
        Default: the run's ``hdi_prob`` attribute.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per variable and phase; other dims overlaid.
    """
    prob = hdi_prob_of(ds, hdi_prob)
    names = distribution_variables(ds) if variables is None else list(variables)
    panels = [(t, sub) for name in names for t, sub in _panels(ds[name])]
    if not panels:
        return _message_figure("No size distributions (variables over a 'bin' dim).")
    fig, axes = _figure(len(panels), ncols=2, panel=(4.8, 3.0))
    for ax, (title, sub) in zip(axes, panels, strict=True):
        dim = bin_dim(sub) or BIN_DIM
        xs, xlabel = _bin_axis(sub, dim)
        for j, (label, v) in enumerate(iter_elements(sub, keep=(SAMPLE_DIM, dim))):
            v = np.asarray(v, dtype=float)
            colour = _COLOURS[j % len(_COLOURS)]
            with np.errstate(all="ignore"):
                med = np.nanmedian(np.where(np.isfinite(v), v, np.nan), axis=0)
            bounds = np.array([hdi(v[:, b], prob) for b in range(v.shape[1])])
            ax.fill_between(xs, bounds[:, 0], bounds[:, 1], color=colour, alpha=0.3,
                            step="mid", lw=0)
            ax.step(xs, med, where="mid", color=colour, lw=1.4, label=label or "median")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(str(sub.attrs.get("long_name", sub.name)) + _units(sub), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, frameon=False)
    fig.suptitle(f"Distributions per bin: median (line) and {100 * prob:g}% HDI (band)",
                 fontsize=10)
    return fig


def principal_values(da: xr.DataArray) -> xr.DataArray:
    """Eigenvalues (ascending) of the symmetric part of a tensor over ``(axis, axis2)``.

    Samples with a non-finite component give NaN eigenvalues. The result has the tensor
    dims replaced by ``principal`` (0, 1, 2).
    """
    t = np.asarray(da.transpose(..., *TENSOR_DIMS).values, dtype=float)
    sym = 0.5 * (t + np.swapaxes(t, -1, -2))
    ok = np.isfinite(sym).all(axis=(-1, -2))
    eig = np.full(sym.shape[:-1], np.nan)
    if ok.any():
        eig[ok] = np.linalg.eigvalsh(sym[ok])
    dims = [d for d in da.transpose(..., *TENSOR_DIMS).dims if d not in TENSOR_DIMS]
    coords = {d: da[d] for d in dims if d in da.coords}
    return xr.DataArray(eig, dims=[*dims, "principal"], coords=coords, name=da.name,
                        attrs=dict(da.attrs))


def plot_tensors(
    ds: xr.Dataset, variables: Sequence[str] | None = None, hdi_prob: float | None = None
) -> Figure:
    """Principal values of every 3×3 tensor variable: median and HDI over samples.

    Parameters
    ----------
    ds : xarray.Dataset
        Results with a ``sample`` dim.
    variables : sequence of str, optional
        Default :func:`tensor_variables`.
    hdi_prob : float, optional
        Default: the run's ``hdi_prob`` attribute.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per variable; one group of three points (λ1 ≤ λ2 ≤ λ3) per phase.
    """
    prob = hdi_prob_of(ds, hdi_prob)
    names = tensor_variables(ds) if variables is None else list(variables)
    if not names:
        return _message_figure("No tensor variables (over axis × axis2) in these results.")
    fig, axes = _figure(len(names), ncols=2, panel=(4.8, 3.0))
    for ax, name in zip(axes, names, strict=True):
        eig = principal_values(ds[name])
        elements = list(iter_elements(eig, keep=(SAMPLE_DIM, "principal")))
        width = 0.8 / max(len(elements), 1)
        for j, (label, v) in enumerate(elements):
            colour = _COLOURS[j % len(_COLOURS)]
            x = np.arange(3) + (j - (len(elements) - 1) / 2) * width
            if np.isnan(v).all():
                continue  # not computed for this element (e.g. a phase left out)
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
                med = np.nanmedian(v, axis=0)
            bounds = np.array([hdi(v[:, k], prob) for k in range(3)])
            ax.errorbar(x, med, yerr=[med - bounds[:, 0], bounds[:, 1] - med], fmt="o",
                        color=colour, capsize=3, label=label or name)
        ax.set_xticks(range(3), ["λ₁ (smallest)", "λ₂", "λ₃ (largest)"], fontsize=8)
        ax.set_title(name, fontsize=9)
        ax.set_ylabel(f"principal value{_units(ds[name])}", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, frameon=False)
    fig.suptitle(f"Tensor principal values: median and {100 * prob:g}% HDI", fontsize=10)
    return fig


# ---------------------------------------------------------------------------------------
# Convergence with the number of samples


def running_summary(values: np.ndarray, hdi_prob: float = 0.9, n_min: int = 2
                    ) -> dict[str, np.ndarray]:
    """Mean and HDI bounds of the first n draws, for n = n_min … N.

    Parameters
    ----------
    values : numpy.ndarray
        1-D draws in sample order; non-finite draws are left out of each summary.
    hdi_prob : float
        HDI probability.
    n_min : int
        Smallest number of draws summarised.

    Returns
    -------
    dict
        ``n``, ``mean``, ``hdi_low``, ``hdi_high`` (arrays of equal length).
    """
    v = np.asarray(values, dtype=float).ravel()
    ns = np.arange(min(n_min, v.size), v.size + 1)
    ns = ns[ns > 0]
    mean = np.empty(ns.size)
    bounds = np.empty((ns.size, 2))
    for i, n in enumerate(ns):
        head = v[:n][np.isfinite(v[:n])]
        mean[i] = head.mean() if head.size else np.nan
        bounds[i] = hdi(head, hdi_prob)
    return {"n": ns, "mean": mean, "hdi_low": bounds[:, 0], "hdi_high": bounds[:, 1]}


def interval_drift(values: np.ndarray, hdi_prob: float = 0.9, tail: float = 0.25) -> float:
    """How far the HDI bounds still moved over the last ``tail`` of the samples.

    The largest change of either bound between n = ⌈(1 − tail)·N⌉ and N draws, relative
    to the final interval width (to the final |mean| if the width is 0). A value of 0.1
    means a bound moved by 10 % of the interval while the last quarter was added: the
    interval is not yet stable. NaN with fewer than 4 finite draws.
    """
    v = np.asarray(values, dtype=float).ravel()
    if np.isfinite(v).sum() < 4:
        return float("nan")
    start = max(int(np.ceil((1 - tail) * v.size)), 2)
    run = running_summary(v, hdi_prob, n_min=start)
    lo, hi = run["hdi_low"], run["hdi_high"]
    scale = hi[-1] - lo[-1]
    if not np.isfinite(scale) or scale <= 0:
        scale = abs(run["mean"][-1])
    if not np.isfinite(scale) or scale <= 0:
        return 0.0
    move = max(np.nanmax(lo) - np.nanmin(lo), np.nanmax(hi) - np.nanmin(hi))
    return float(move / scale)


def plot_convergence(
    ds: xr.Dataset, variables: Sequence[str] | None = None, hdi_prob: float | None = None
) -> Figure:
    """Mean and HDI bounds of each scalar quantity against the number of samples used.

    Flat curves at the right end mean more samples would not change the summary; curves
    still moving mean the interval is not yet stable.

    Parameters
    ----------
    ds : xarray.Dataset
        Results with a ``sample`` dim (samples taken in stored order).
    variables : sequence of str, optional
        Default :func:`scalar_variables`.
    hdi_prob : float, optional
        Default: the run's ``hdi_prob`` attribute.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per variable and phase: mean (solid) and HDI bounds (dashed).
    """
    prob = hdi_prob_of(ds, hdi_prob)
    names = scalar_variables(ds) if variables is None else list(variables)
    panels = [(t, sub) for name in names for t, sub in _panels(ds[name])]
    if not panels:
        return _message_figure("No scalar quantities in these results.")
    fig, axes = _figure(len(panels))
    for ax, (title, sub) in zip(axes, panels, strict=True):
        elements = list(iter_elements(sub))
        for j, (label, v) in enumerate(elements):
            colour = _COLOURS[j % len(_COLOURS)]
            run = running_summary(v, prob)
            ax.plot(run["n"], run["mean"], color=colour, lw=1.4, label=label or "mean")
            ax.plot(run["n"], run["hdi_low"], color=colour, lw=0.9, ls="--")
            ax.plot(run["n"], run["hdi_high"], color=colour, lw=0.9, ls="--")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("number of samples", fontsize=8)
        ax.set_ylabel(str(sub.attrs.get("long_name", sub.name)) + _units(sub), fontsize=8)
        ax.tick_params(labelsize=7)
        if len(elements) > 1:
            ax.legend(fontsize=7, frameon=False)
    fig.suptitle(f"Convergence: running mean (solid) and {100 * prob:g}% HDI bounds "
                 "(dashed)", fontsize=10)
    return fig

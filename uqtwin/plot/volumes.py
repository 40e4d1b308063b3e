"""Pictures of voxels: orthogonal slices of the maps and a gallery of sampled labels.

The engine does not keep the sampled label volumes; :func:`redraw_samples` asks the
engine (:func:`uqtwin.engine.redraw.redraw_samples`) to reproduce them from the run's
sample store, and :func:`plot_sample_gallery` draws any list of label arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from uqtwin.errors import UqtwinInputError
from uqtwin.plot.layout import message_figure, phase_cmap, phase_legend
from uqtwin.results.conventions import phase_names, results_store, run_config


def grey_volume(ds: xr.Dataset) -> np.ndarray | None:
    """The run's grey input volume, re-read by the engine from the recorded input path.

    Returns ``None`` when the file no longer exists, cannot be read, or no longer matches
    the recorded ``input_sha256`` (a different file at the same path must not be shown).
    """
    from uqtwin.engine.redraw import input_volume

    return input_volume(run_config(ds).get("input") or {}, ds.attrs.get("input_sha256"))


def mid_slices(vol: np.ndarray, index: Sequence[int] | None = None) -> list[np.ndarray]:
    """The z, y and x planes through ``index`` (default: the centre) of a 3-D array.

    Examples
    --------
    >>> [s.shape for s in mid_slices(np.zeros((2, 3, 4)))]
    [(3, 4), (2, 4), (2, 3)]
    """
    c = [s // 2 for s in vol.shape] if index is None else list(index)
    return [vol[c[0], :, :], vol[:, c[1], :], vol[:, :, c[2]]]


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
        return message_figure("No volume to show: the grey input is not available and the "
                               "results hold no voxel maps ([output] maps = false).")
    fig = Figure(figsize=(3.4 * 3 + 1.2, 3.2 * len(rows) + 0.6), layout="constrained")
    axes = fig.subplots(len(rows), 3, squeeze=False)
    planes = ("z", "y", "x")
    for r, (title, vol) in enumerate(rows):
        centre = [s // 2 for s in vol.shape] if index is None else list(index)
        sl = mid_slices(vol, centre)
        if title.startswith("most probable"):
            cmap, norm = phase_cmap(max(len(phases), int(vol.max()) + 1))
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
        phase_legend(fig, phases)
    return fig


def redraw_samples(
    ds: xr.Dataset,
    indices: Sequence[int],
    store: str | Path | None = None,
) -> list[np.ndarray]:
    """Redraw sampled microstructures exactly, from the run's sample store.

    The engine stores each sample's quantities and seed, not its labels; sample ``i`` is
    reproduced by :func:`uqtwin.engine.redraw.redraw_samples` from the store, the run's
    segmentation settings (the ``config`` attribute) and ``sample_seed[i]``.

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
        If the store or its fitted model is missing, or the store belongs to another
        input.
    """
    from uqtwin.engine.redraw import redraw_samples as redraw

    if store is None:
        store = results_store(ds)
        if store is None:
            raise UqtwinInputError("the results name no output path; pass the sample store")
    segment = run_config(ds).get("segment") or {}
    if "sample_seed" not in ds:
        # Checked after the store, as before: a missing store is the likelier cause.
        redraw(store, [], segment, input_sha256=ds.attrs.get("input_sha256"))
        raise UqtwinInputError("the results hold no sample_seed: cannot redraw samples")
    seeds = np.asarray(ds["sample_seed"].values)
    return redraw(store, [int(seeds[i]) for i in indices], segment,
                  input_sha256=ds.attrs.get("input_sha256"))


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
        return message_figure("No sampled microstructures to show.")
    n = len(labels)
    fig = Figure(figsize=(2.8 * n + 0.4, 3.4), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    cmap, norm = phase_cmap(max(len(phases), 1))
    for i, (ax, lab) in enumerate(zip(axes, labels, strict=True)):
        k = lab.shape[axis] // 2 if index is None else index
        img = np.take(lab, k, axis=axis)
        ax.imshow(img, cmap=cmap, norm=norm, interpolation="nearest", origin="lower")
        ax.set_title(titles[i] if titles else f"sample {i}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{'zyx'[axis]} = {k} plane", fontsize=10)
    phase_legend(fig, phases)
    return fig



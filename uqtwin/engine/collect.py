"""Stage 6 of a run: the finished samples collected into the results Dataset.

One Dataset with a ``sample`` dim, the pipeline's own variables (mixture, imaging
conditions, maps of the ensemble's phase probabilities) and the run's provenance.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from uqtwin import __version__
from uqtwin.engine.config import RunConfig
from uqtwin.engine.evaluate import pipeline_attrs
from uqtwin.engine.stages import Prepared, calibration_warnings
from uqtwin.results.conventions import quantised_probability
from uqtwin.results.dataset import stack_samples
from uqtwin.results.schema import SCHEMA_VERSION


def collect(
    samples: Sequence[xr.Dataset],
    indices: Sequence[int],
    prepared: Prepared,
    cfg: RunConfig,
    manifest: Mapping[str, Any],
) -> xr.Dataset:
    """Stage 6: one Dataset with a ``sample`` dim, pipeline variables and provenance.

    Parameters
    ----------
    samples : sequence of xarray.Dataset
        The per-sample Datasets of :func:`~uqtwin.engine.evaluate.evaluate_sample`, in any
        order (they may come back from workers out of order).
    indices : sequence of int
        The sample index of each entry of ``samples``; the result is sorted by it and uses it
        as the ``sample`` coordinate.
    prepared : Prepared
        The fitted run (:func:`~uqtwin.engine.stages.prepare`): its mixture, imaging
        conditions, posteriors, spacing, unit and input hash go into the result.
    cfg : RunConfig
        The run configuration; stored as JSON in the ``config`` attribute, and
        ``[output] maps`` decides whether the per-voxel maps are added.
    manifest : mapping
        The run manifest; only its ``"created"`` timestamp is used.

    Returns
    -------
    xarray.Dataset
        The stacked samples plus the plain mixture's ``mixture_mean``, ``mixture_sd`` and
        ``mixture_weight`` (dim ``phase``); the measured imaging conditions (``psf_sigma``
        along ``axis``, ``photons_per_voxel`` (inf when photon noise was undetectable),
        ``read_noise``, ``slice_drift``) when they were measured; with ``[output] maps`` the
        ``most_probable_phase``, ``posterior_entropy`` (nats) and ``phase_probability`` maps
        on (z, y, x); and the provenance attributes the results schema requires
        (``schema_version``, ``config``, ``input_sha256``, ``seed``, ``length_unit``, ...).
    """
    ds = stack_samples(samples, indices)
    phases = list(prepared.phases)
    mix = prepared.mixture
    for name, key in (("mixture_mean", "means"), ("mixture_sd", "sds"),
                      ("mixture_weight", "weights")):
        ds[name] = xr.DataArray(np.asarray(mix[key], dtype=float), dims=("phase",),
                                coords={"phase": phases}, attrs=pipeline_attrs(name))
    if prepared.imaging is not None:
        im = prepared.imaging
        imaging = {"psf_sigma": (("axis",), np.asarray(prepared.psf_sigma, dtype=float)),
                   # to_dict() writes an undetectable photon noise (inf) as None (JSON)
                   "photons_per_voxel": ((), np.inf if im["photons"] is None
                                         else float(im["photons"])),
                   "read_noise": ((), float(im["read_noise"])),
                   "slice_drift": ((), float(im["drift"]))}
        for name, (dims, values) in imaging.items():
            ds[name] = xr.DataArray(values, dims=dims, attrs=pipeline_attrs(name))
        ds = ds.assign_coords(axis=["z", "y", "x"]) if "axis" not in ds.coords else ds
    if cfg.output.maps:
        post = prepared.posteriors
        with np.errstate(divide="ignore", invalid="ignore"):
            ent = -np.sum(np.where(post > 0, post * np.log(post), 0.0), axis=0)
        maps = {
            "most_probable_phase": (("z", "y", "x"), np.argmax(post, axis=0).astype(np.uint8)),
            "posterior_entropy": (("z", "y", "x"), ent.astype(np.float32)),
            # on the 8-bit grid of the file, so that memory and file agree
            "phase_probability": (("phase", "z", "y", "x"), quantised_probability(post)),
        }
        for name, (dims, values) in maps.items():
            ds[name] = xr.DataArray(values, dims=dims, attrs=pipeline_attrs(name))
    ds.attrs = {
        "schema_version": SCHEMA_VERSION,
        "uqtwin_version": __version__,
        "config": json.dumps(cfg.to_dict()),
        "input_sha256": prepared.input_sha256,
        "seed": cfg.sampler.seed,
        "sampler": cfg.sampler.kind,
        "created": manifest["created"],
        "length_unit": prepared.unit,
        "spacing": np.asarray(prepared.spacing, dtype=float),
        "phases": json.dumps(phases),
        "hdi_prob": cfg.output.hdi_prob,
        "title": "uqtwin ensemble results",
        "imaging_notes": json.dumps(list((prepared.imaging or {}).get("notes", []))),
        "calibration_warnings": json.dumps(calibration_warnings(prepared, cfg)),
    }
    return ds

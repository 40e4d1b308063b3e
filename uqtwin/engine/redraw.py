"""Reproduce what a finished run saw: its sampled microstructures and its input.

The engine keeps each sample's quantities and seed, not its label volume (as large as
the input, once per sample). Sample ``i`` is reproduced exactly by
:func:`uqtwin.engine.pipeline.draw_sample` from the fitted ensemble model kept in the
store (``<results>.samples/prepared.pkl``), the run's ``[segment]`` settings and its
seed: the draw depends on nothing else, so the labels are the ones the quantities were
computed on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from uqtwin.engine.config import SegmentConfig
from uqtwin.engine.pipeline import draw_sample
from uqtwin.engine.store import SampleStore
from uqtwin.errors import UqtwinInputError


def known_fields(cls: type, values: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``values`` that are fields of the dataclass ``cls``.

    Configs written by other versions may hold keys this one does not know.

    Examples
    --------
    >>> known_fields(SegmentConfig, {"min_island_voxels": 0, "gone": 1})
    {'min_island_voxels': 0}
    """
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in values.items() if k in names}


def redraw_samples(
    store: str | Path,
    seeds: Sequence[int],
    segment: Mapping[str, Any] | None = None,
    *,
    input_sha256: str | None = None,
) -> list[np.ndarray]:
    """Redraw sampled microstructures exactly, from a run's sample store.

    Parameters
    ----------
    store : str or pathlib.Path
        The sample-store folder of the run (``<results>.samples``).
    seeds : sequence of int
        The ``sample_seed`` of each sample to redraw.
    segment : mapping, optional
        The run's ``[segment]`` table (the ``config`` attribute's ``segment`` entry);
        keys this version does not know are ignored. Default: the defaults.
    input_sha256 : str, optional
        The run's input fingerprint: the store must belong to the same input.

    Returns
    -------
    list of numpy.ndarray
        Label volumes (phase index per voxel), one per seed.

    Raises
    ------
    UqtwinInputError
        If the store holds no fitted model, or the store belongs to another input.
    """
    prepared = SampleStore(Path(store)).load_pickle("prepared")
    if prepared is None:
        raise UqtwinInputError(f"no fitted model in {store}: cannot redraw samples")
    if input_sha256 and prepared.input_sha256 != input_sha256:
        raise UqtwinInputError(f"{store} belongs to a run on another input file")
    settings = SegmentConfig(**known_fields(SegmentConfig, segment or {}))
    return [draw_sample(prepared.sampler, int(seed), settings, prepared.phases)
            for seed in seeds]


def input_volume(
    input_config: Mapping[str, Any], input_sha256: str | None = None
) -> np.ndarray | None:
    """A finished run's grey input volume, re-read from its ``[input]`` table.

    Parameters
    ----------
    input_config : mapping
        The run's ``[input]`` table (the ``config`` attribute's ``input`` entry).
    input_sha256 : str, optional
        The fingerprint the run recorded: a different file at the same path is refused.

    Returns
    -------
    numpy.ndarray or None
        ``None`` when the file no longer exists, cannot be read, or no longer matches
        ``input_sha256``.
    """
    inp = input_config or {}
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
    if input_sha256 and vol.attrs.get("sha256") and vol.attrs["sha256"] != input_sha256:
        return None
    return np.asarray(vol.values)

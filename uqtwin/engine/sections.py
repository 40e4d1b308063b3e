"""The run configuration's sections: one frozen dataclass per TOML table.

The field names are the TOML keys and the defaults are the documented defaults; loading
and checking a file is :mod:`uqtwin.engine.config`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from uqtwin.sample.kinds import DEFAULT_SAMPLER
from uqtwin.sample.priors import DEFAULT_SHARE_PRIOR, DEFAULT_TEXTURE_LENGTH

FORMATS = ("tiff", "tiff-slices", "hdf5", "zarr", "npy", "raw")


@dataclass(frozen=True)
class InputConfig:
    """``[input]``: where the grey volume is and how to read it."""

    path: str
    format: str | None = None
    spacing: tuple[float, float, float] | None = None
    unit: str | None = None
    dataset: str | None = None
    shape: tuple[int, int, int] | None = None
    dtype: str | None = None
    byte_order: str = "little"
    offset: int = 0


@dataclass(frozen=True)
class PhasesConfig:
    """``[phases]``: phase names, in order of increasing grey value, and their materials.

    ``materials`` maps a phase name to a material card in ``models/materials/`` (file stem,
    e.g. ``{active = "nmc111", binder = "carbon_binder", pore = "electrolyte"}``); quantities
    that need material properties (conductivities) read them from there.
    """

    names: tuple[str, ...] = ("pore", "binder", "active")
    materials: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DenoiseConfig:
    """``[denoise]``: non-local-means denoising before segmentation."""

    enabled: bool = True
    poisson: bool = False
    h: float | None = None
    patch_size: int = 3
    patch_distance: int = 5


@dataclass(frozen=True)
class SegmentConfig:
    """``[segment]``: Gaussian-mixture posteriors and clean-up of each sample.

    ``min_feature_size`` (voxels): features thinner than this are segmentation noise; each
    sample is smoothed by an opening then closing with a ball of diameter at most that size
    (radius ``(min_feature_size - 1) // 2``; 0, 1 or 2: off). Real films thinner than it go
    too, so it is off by default. ``min_island_voxels``: islands smaller than this are
    merged into their neighbours (0: off).
    """

    max_fit_voxels: int = 200_000
    min_island_voxels: int = 0
    min_feature_size: int = 0


@dataclass(frozen=True)
class SamplerConfig:
    """``[sampler]``: how the ensemble of microstructures is drawn.

    ``correlation_length`` (voxels) is that of the ``correlated`` and ``parametric``
    samplers; ``share_prior``, ``binder`` (``unknown``, ``solid``, ``nanoporous``: which
    calibrated prior of the middle-grey domain's solid share applies), ``solid_prior`` (a
    Beta prior given directly instead of ``binder``), ``texture_length``, ``psf_sigma``
    (voxels, z y x; unset: measured from the scan's edges), ``correlation_scale`` and
    ``discrepancy`` (add the estimators' calibrated bias and its uncertainty to each
    member) are the ``ambiguity`` sampler's (see :mod:`uqtwin.sample.ambiguity`);
    ``effective_voxels`` coarsens the Bayesian mixture posterior of ``parametric`` and
    ``ambiguity``, which keep ``n_draws`` parameter draws.
    """

    kind: str = DEFAULT_SAMPLER
    n_samples: int = 32
    seed: int = 0
    correlation_length: float = 1.0
    share_prior: tuple[float, float] = DEFAULT_SHARE_PRIOR
    binder: str | None = None
    solid_prior: tuple[float, float] | None = None
    texture_length: tuple[float, float] = DEFAULT_TEXTURE_LENGTH
    psf_sigma: tuple[float, float, float] | None = None
    correlation_scale: float = 10.0
    n_draws: int = 24
    effective_voxels: float = 400.0
    discrepancy: bool = True


@dataclass(frozen=True)
class QuantitiesConfig:
    """``[quantities]``: which registered quantities to compute, for which phases."""

    names: tuple[str, ...] = ("volume_fraction", "specific_surface_area")
    phases: tuple[str, ...] | None = None
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class EngineConfig:
    """``[engine]``: where the ensemble runs."""

    scheduler: str = "local"
    workers: int | None = None


@dataclass(frozen=True)
class OutputConfig:
    """``[output]``: the results file and its summary."""

    path: str = "results.nc"
    hdi_prob: float = 0.9
    maps: bool = True


@dataclass(frozen=True)
class RunConfig:
    """A whole run."""

    input: InputConfig
    phases: PhasesConfig = PhasesConfig()
    denoise: DenoiseConfig = DenoiseConfig()
    segment: SegmentConfig = SegmentConfig()
    sampler: SamplerConfig = SamplerConfig()
    quantities: QuantitiesConfig = QuantitiesConfig()
    engine: EngineConfig = EngineConfig()
    output: OutputConfig = OutputConfig()

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (JSON-serialisable), for provenance."""
        return plain(dataclasses.asdict(self))

    def replace(self, **sections: Any) -> RunConfig:
        """A copy with whole sections replaced, e.g. ``cfg.replace(output=...)``."""
        return dataclasses.replace(self, **sections)


SECTIONS: Mapping[str, type] = {
    "input": InputConfig,
    "phases": PhasesConfig,
    "denoise": DenoiseConfig,
    "segment": SegmentConfig,
    "sampler": SamplerConfig,
    "quantities": QuantitiesConfig,
    "engine": EngineConfig,
    "output": OutputConfig,
}


def plain(obj: Any) -> Any:
    """Mappings as dicts with str keys and tuples as lists, recursively (JSON-ready).

    Parameters
    ----------
    obj : object
        Any value; mappings, lists and tuples are walked recursively.

    Returns
    -------
    object
        Mappings become dicts with ``str(key)`` keys, lists and tuples become lists, every
        other value is returned as is.

    Examples
    --------
    >>> from uqtwin.engine.sections import plain
    >>> plain({1: (2, 3), "a": [{"b": (4,)}]})
    {'1': [2, 3], 'a': [{'b': [4]}]}
    """
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj

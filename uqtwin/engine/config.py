"""Run configuration: a TOML file parsed into frozen dataclasses.

Every key is checked: an unknown key is an error that names it (a typo must never be
silently ignored), and relative paths are taken relative to the config file.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from uqtwin.errors import ConfigError
from uqtwin.sample.priors import (
    BINDER_KINDS,
    DEFAULT_SHARE_PRIOR,
    DEFAULT_TEXTURE_LENGTH,
)

FORMATS = ("tiff", "tiff-slices", "hdf5", "zarr", "npy", "raw")
SAMPLERS = ("independent", "correlated", "parametric", "ambiguity")
#: The best sampler the project has (by the calibration study in benchmarks/README.md);
#: used when ``[sampler] kind`` is not given.
DEFAULT_SAMPLER = "ambiguity"


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
        return _plain(dataclasses.asdict(self))

    def replace(self, **sections: Any) -> RunConfig:
        """A copy with whole sections replaced, e.g. ``cfg.replace(output=...)``."""
        return dataclasses.replace(self, **sections)


_SECTIONS = {
    "input": InputConfig,
    "phases": PhasesConfig,
    "denoise": DenoiseConfig,
    "segment": SegmentConfig,
    "sampler": SamplerConfig,
    "quantities": QuantitiesConfig,
    "engine": EngineConfig,
    "output": OutputConfig,
}


def _plain(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _coerce(section: str, f: dataclasses.Field, value: Any) -> Any:
    """Check one value against its field's type; tuples come from TOML lists."""
    where = f"[{section}] {f.name}"
    typ = str(f.type)
    if value is None:
        return None
    if typ.startswith("tuple"):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        if "float" in typ:
            try:
                return tuple(float(v) for v in value)
            except (TypeError, ValueError):
                raise ConfigError(f"{where} must be a list of numbers, got {value!r}") from None
        if "int" in typ:
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                raise ConfigError(f"{where} must be a list of integers, got {value!r}")
            return tuple(value)
        if not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of strings, got {value!r}")
        return tuple(value)
    if typ.startswith("bool"):
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if typ.startswith("int"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return value
    if typ.startswith("float"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        return float(value)
    if typ.startswith("str"):
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return value
    return value


def _section(name: str, cls: type, table: Any) -> Any:
    if not isinstance(table, Mapping):
        raise ConfigError(f"[{name}] must be a table, got {table!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in table.items():
        if key not in fields:
            raise ConfigError(
                f"unknown key {key!r} in [{name}]; allowed keys: {', '.join(fields)}"
            )
        kwargs[key] = _coerce(name, fields[key], value)
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required key is missing
        missing = [
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
            and f.name not in kwargs
        ]
        raise ConfigError(f"[{name}] is missing required key(s): {', '.join(missing)}") from exc


def config_from_dict(data: Mapping[str, Any], base_dir: str | Path | None = None) -> RunConfig:
    """Build and check a :class:`RunConfig` from a nested mapping (a parsed TOML file).

    Parameters
    ----------
    data : mapping
        Sections as in the TOML file.
    base_dir : path, optional
        Folder that relative ``input.path`` and ``output.path`` are resolved against.

    Raises
    ------
    ConfigError
        Naming the unknown key, the missing key or the wrongly typed value.
    """
    for key in data:
        if key not in _SECTIONS:
            raise ConfigError(
                f"unknown section [{key}] in config; allowed sections: {', '.join(_SECTIONS)}"
            )
    if "input" not in data:
        raise ConfigError("config has no [input] section (it needs at least input.path)")
    sections = {name: _section(name, cls, data[name]) for name, cls in _SECTIONS.items()
                if name in data}
    cfg = RunConfig(**sections)
    return check_config(_resolve_paths(cfg, base_dir))


def _resolve_paths(cfg: RunConfig, base_dir: str | Path | None) -> RunConfig:
    if base_dir is None:
        return cfg
    base = Path(base_dir)
    inp = dataclasses.replace(cfg.input, path=str(base / Path(cfg.input.path).expanduser()))
    out = dataclasses.replace(cfg.output, path=str(base / Path(cfg.output.path).expanduser()))
    return cfg.replace(input=inp, output=out)


def check_config(cfg: RunConfig) -> RunConfig:
    """Check values that single-field typing cannot: ranges, choices, cross-references."""
    from uqtwin.materials import load_material
    from uqtwin.quantities.registry import check_options, resolve_order

    inp = cfg.input
    if inp.format is not None and inp.format not in FORMATS:
        raise ConfigError(f"[input] format {inp.format!r} is not one of {', '.join(FORMATS)}")
    if inp.spacing is not None and len(inp.spacing) != 3:
        raise ConfigError(f"[input] spacing needs 3 values (z, y, x), got {list(inp.spacing)}")
    if inp.spacing is not None and any(s <= 0 for s in inp.spacing):
        raise ConfigError(f"[input] spacing must be > 0 along every axis, got {list(inp.spacing)}")
    if inp.format == "raw" and (inp.shape is None or inp.dtype is None):
        raise ConfigError("[input] format 'raw' needs shape = [z, y, x] and dtype")
    names = cfg.phases.names
    if len(names) < 2 or len(set(names)) != len(names):
        raise ConfigError(f"[phases] names must be at least 2 unique names, got {list(names)}")
    if not isinstance(cfg.phases.materials, Mapping):
        raise ConfigError("[phases] materials must be a table of phase = \"card name\"")
    for phase, card in cfg.phases.materials.items():
        if phase not in names:
            raise ConfigError(f"[phases] materials names phase {phase!r}, not one of {list(names)}")
        if not isinstance(card, str):
            raise ConfigError(f"[phases] materials.{phase} must be a card name, got {card!r}")
        load_material(card)
    g = cfg.segment
    if g.max_fit_voxels < 1 or g.min_island_voxels < 0 or g.min_feature_size < 0:
        raise ConfigError("[segment] max_fit_voxels must be >= 1, min_island_voxels and "
                          "min_feature_size >= 0")
    s = cfg.sampler
    if s.kind not in SAMPLERS:
        raise ConfigError(f"[sampler] kind {s.kind!r} is not one of {', '.join(SAMPLERS)}")
    if s.n_samples < 1:
        raise ConfigError(f"[sampler] n_samples must be >= 1, got {s.n_samples}")
    if s.seed < 0:
        raise ConfigError(f"[sampler] seed must be >= 0, got {s.seed}")
    if s.correlation_length <= 0:
        raise ConfigError(f"[sampler] correlation_length must be > 0, got {s.correlation_length}")
    if s.binder is not None and s.binder not in BINDER_KINDS:
        raise ConfigError(f"[sampler] binder {s.binder!r} is not one of {', '.join(BINDER_KINDS)}")
    if s.binder is not None and s.solid_prior is not None:
        raise ConfigError("[sampler] give binder or solid_prior, not both (solid_prior is the "
                          "binder's solid-share prior stated directly)")
    if len(names) < 3 and (s.binder is not None or s.solid_prior is not None):
        key = "binder" if s.binder is not None else "solid_prior"
        raise ConfigError(f"[sampler] {key} describes the middle-grey (binder) phase, but "
                          f"[phases] names has only {len(names)} phases {list(names)}")
    for key in ("share_prior", "solid_prior"):
        prior = getattr(s, key)
        if prior is not None and (len(prior) != 2 or min(prior) <= 0):
            raise ConfigError(f"[sampler] {key} must be two numbers > 0 (Beta a, b), got "
                              f"{list(prior)}")
    if len(s.texture_length) != 2 or s.texture_length[0] <= 0 or s.texture_length[1] < 0:
        raise ConfigError("[sampler] texture_length must be [median > 0 voxels, log sd >= 0], "
                          f"got {list(s.texture_length)}")
    if s.psf_sigma is not None and (len(s.psf_sigma) != 3 or min(s.psf_sigma) < 0):
        raise ConfigError(f"[sampler] psf_sigma must be 3 numbers >= 0 (z, y, x voxels), got "
                          f"{list(s.psf_sigma)}")
    if s.correlation_scale < 0 or s.n_draws < 1 or s.effective_voxels <= 0:
        raise ConfigError("[sampler] correlation_scale must be >= 0, n_draws >= 1 and "
                          "effective_voxels > 0")
    q = cfg.quantities
    if not q.names:
        raise ConfigError("[quantities] names is empty: name at least one quantity")
    resolve_order(q.names)  # every name registered, every derived one's inputs named
    for name, opts in q.options.items():
        if name not in q.names:
            raise ConfigError(f"[quantities.options.{name}] given but {name!r} is not in names")
        if not isinstance(opts, Mapping):
            raise ConfigError(f"[quantities.options.{name}] must be a table")
        check_options(name, opts)
        for p in opts.get("phases", []):
            if p not in names:
                raise ConfigError(
                    f"[quantities.options.{name}] phases names {p!r}, not one of {list(names)}"
                )
    if q.phases is not None:
        for p in q.phases:
            if p not in names:
                raise ConfigError(f"[quantities] phases names {p!r}, not one of {list(names)}")
    if not 0 < cfg.output.hdi_prob < 1:
        raise ConfigError(f"[output] hdi_prob must be in (0, 1), got {cfg.output.hdi_prob}")
    if cfg.engine.workers is not None and cfg.engine.workers < 1:
        raise ConfigError(f"[engine] workers must be >= 1, got {cfg.engine.workers}")
    return cfg


def load_config(path: str | Path) -> RunConfig:
    """Read and check a TOML run configuration; relative paths are relative to its folder."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    return config_from_dict(data, base_dir=path.resolve().parent)

"""Loading and checking a run configuration (a TOML file or a mapping).

Every key is checked: an unknown key is an error that names it (a typo must never be
silently ignored), and relative paths are taken relative to the config file. The
sections themselves are the frozen dataclasses of :mod:`uqtwin.engine.sections`
(re-exported here); the ``[sampler]`` keys of each sampler kind are checked by that kind's
options (:mod:`uqtwin.sample.kinds`), once.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from uqtwin.engine.sections import (
    SECTIONS,
    DenoiseConfig,
    EngineConfig,
    InputConfig,
    OutputConfig,
    PhasesConfig,
    QuantitiesConfig,
    RunConfig,
    SamplerConfig,
    SegmentConfig,
)
from uqtwin.errors import ConfigError, VolumeError
from uqtwin.sample.kinds import DEFAULT_SAMPLER, SAMPLER_KINDS, get_sampler
from uqtwin.sample.priors import BINDER_KINDS, BetaMixture, solid_share_prior

__all__ = [
    "DEFAULT_SAMPLER",
    "FORMATS",
    "SAMPLERS",
    "DenoiseConfig",
    "EngineConfig",
    "InputConfig",
    "OutputConfig",
    "PhasesConfig",
    "QuantitiesConfig",
    "RunConfig",
    "SamplerConfig",
    "SegmentConfig",
    "check_config",
    "config_from_dict",
    "load_config",
    "sampler_options",
    "solid_prior_of",
]

FORMATS = ("tiff", "tiff-slices", "hdf5", "zarr", "npy", "raw")
SAMPLERS = SAMPLER_KINDS


def solid_prior_of(cfg: RunConfig) -> BetaMixture:
    """The binder's solid-share prior: ``solid_prior`` if given, else ``binder``'s.

    Parameters
    ----------
    cfg : RunConfig
        The run configuration; its ``[sampler]`` ``solid_prior`` and ``binder`` are read.

    Returns
    -------
    BetaMixture
        ``BetaMixture.of(solid_prior)`` when ``solid_prior`` is set; otherwise the shipped
        prior of ``binder`` (``"unknown"`` when ``binder`` is not set).

    Raises
    ------
    VolumeError
        If ``binder`` is not a known binder kind (normally caught earlier by
        :func:`check_config`).
    """
    s = cfg.sampler
    if s.solid_prior is not None:
        return BetaMixture.of(s.solid_prior)
    return solid_share_prior(s.binder or "unknown")


def sampler_options(
    cfg: RunConfig, psf_sigma: tuple[float, float, float] | None = None,
    kind: str | None = None,
) -> Any:
    """The options of sampler ``kind`` (default ``[sampler] kind``) from the config.

    ``psf_sigma`` (voxels) is used where ``[sampler] psf_sigma`` is not set (the engine
    passes the width measured on the scan); the binder's solid-share prior is resolved
    from ``binder`` or ``solid_prior`` (:func:`solid_prior_of`).
    """
    s = cfg.sampler
    settings = dataclasses.asdict(s)
    # Stated directly, the kind's options check it (and name the key); else the binder's.
    settings["solid_prior"] = (s.solid_prior if s.solid_prior is not None
                               else solid_share_prior(s.binder or "unknown"))
    psf = s.psf_sigma if s.psf_sigma is not None else psf_sigma
    settings["psf_sigma"] = None if psf is None else tuple(psf)
    return get_sampler(kind or s.kind).options_from(settings)


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
        if key not in SECTIONS:
            raise ConfigError(
                f"unknown section [{key}] in config; allowed sections: {', '.join(SECTIONS)}"
            )
    if "input" not in data:
        raise ConfigError("config has no [input] section (it needs at least input.path)")
    sections = {name: _section(name, cls, data[name]) for name, cls in SECTIONS.items()
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
    """Check values that single-field typing cannot: ranges, choices, cross-references.

    Called by :func:`config_from_dict` (and so by :func:`load_config`) after the paths are
    resolved, so that a bad config fails before any data is read.

    Parameters
    ----------
    cfg : RunConfig
        The configuration to check.

    Returns
    -------
    RunConfig
        ``cfg`` itself, unchanged, when every check passes.

    Raises
    ------
    ConfigError
        On the first problem found, naming its section: an unknown input ``format``;
        ``spacing`` not 3 values > 0; ``format = "raw"`` without ``shape`` and ``dtype``;
        fewer than 2 or repeated phase names; a ``materials`` entry naming an unknown phase
        or an unknown material card; negative or zero segment sizes; a bad ``[sampler]``
        section; an empty, unknown or incomplete (missing required inputs) list of quantities;
        bad quantity options or phases; ``hdi_prob`` outside (0, 1); ``workers`` < 1.
    """
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
    _check_sampler(cfg)
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
    """Read and check a TOML run configuration; relative paths are relative to its folder.

    Parameters
    ----------
    path : str or Path
        The TOML file.

    Returns
    -------
    RunConfig
        The parsed configuration, with relative input/output paths resolved against the
        folder of ``path`` (not the working directory, so a config works wherever it is run
        from) and checked by :func:`check_config`.

    Raises
    ------
    ConfigError
        If the file does not exist, is not valid TOML, or fails a check.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    return config_from_dict(data, base_dir=path.resolve().parent)


def _check_sampler(cfg: RunConfig) -> None:
    """``[sampler]``: the kind, the ensemble size, the binder prior against the phases, and
    every kind's options (each kind checks the keys it reads)."""
    s = cfg.sampler
    names = cfg.phases.names
    if s.kind not in SAMPLER_KINDS:
        raise ConfigError(f"[sampler] kind {s.kind!r} is not one of {', '.join(SAMPLER_KINDS)}")
    if s.n_samples < 1:
        raise ConfigError(f"[sampler] n_samples must be >= 1, got {s.n_samples}")
    if s.seed < 0:
        raise ConfigError(f"[sampler] seed must be >= 0, got {s.seed}")
    if s.binder is not None and s.binder not in BINDER_KINDS:
        raise ConfigError(f"[sampler] binder {s.binder!r} is not one of {', '.join(BINDER_KINDS)}")
    if s.binder is not None and s.solid_prior is not None:
        raise ConfigError("[sampler] give binder or solid_prior, not both (solid_prior is the "
                          "binder's solid-share prior stated directly)")
    if len(names) < 3 and (s.binder is not None or s.solid_prior is not None):
        key = "binder" if s.binder is not None else "solid_prior"
        raise ConfigError(f"[sampler] {key} describes the middle-grey (binder) phase, but "
                          f"[phases] names has only {len(names)} phases {list(names)}")
    # Every kind, not only the chosen one: a key set for another kind is checked too.
    for kind in SAMPLER_KINDS:
        try:
            sampler_options(cfg, kind=kind)
        except (VolumeError, ValueError, TypeError) as exc:
            raise ConfigError(f"[sampler] {exc}") from None

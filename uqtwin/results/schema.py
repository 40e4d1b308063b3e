"""The versioned schema that every results Dataset validates against.

The schema file ``results_schema/v<N>.json`` holds one entry per variable (dims, units,
long name, meaning) and the attributes every results file must carry. It is generated
from the quantity registry plus the pipeline's own variables, so registering a quantity
is all it takes to extend it: ``python -m uqtwin.results`` rewrites the file
(:mod:`uqtwin.results.schema_generator`, the only results module that reads the
registry), and a test fails while the committed file and the registry disagree. Loading
and validating a results file reads only the committed JSON. Within a schema version
variables may be added, never changed; a change of meaning or dims bumps the version.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import xarray as xr

from uqtwin._resources import resource_dir
from uqtwin.errors import UqtwinInputError
from uqtwin.results.conventions import SAMPLE_DIM

SCHEMA_VERSION = 1

#: Attributes every results file carries (provenance).
REQUIRED_ATTRS = {
    "schema_version": "version of results_schema this file follows",
    "uqtwin_version": "uqtwin version that wrote the file",
    "config": "the run configuration, as JSON",
    "input_sha256": "SHA-256 of the input volume file(s)",
    "seed": "master seed of the ensemble",
    "sampler": "sampler kind",
    "created": "UTC time the run started (ISO 8601)",
    "length_unit": "length unit of the voxel spacing; fills {length} in units",
    "spacing": "voxel spacing (z, y, x) in length_unit",
    "phases": "phase names, in order of increasing grey value",
}

#: Variables the pipeline writes besides the registered quantities.
PIPELINE_VARIABLES: dict[str, dict[str, Any]] = {
    "sample_seed": {
        "dims": [SAMPLE_DIM],
        "units": "1",
        "long_name": "sample seed",
        "description": "Seed of the random generator that drew this sample (reproduces it).",
    },
    "mixture_mean": {
        "dims": ["phase"],
        "units": "grey",
        "long_name": "mixture mean grey value",
        "description": "Mean grey value of each phase's Gaussian mixture component "
                       "(after denoising).",
    },
    "mixture_sd": {
        "dims": ["phase"],
        "units": "grey",
        "long_name": "mixture grey standard deviation",
        "description": "Standard deviation of each phase's Gaussian mixture component.",
    },
    "mixture_weight": {
        "dims": ["phase"],
        "units": "1",
        "long_name": "mixture weight",
        "description": "Weight (prior volume fraction) of each mixture component.",
    },
    "most_probable_phase": {
        "dims": ["z", "y", "x"],
        "units": "1",
        "long_name": "most probable phase",
        "description": "Index into `phases` of the phase with the highest posterior "
                       "probability at each voxel.",
    },
    "phase_probability": {
        "dims": ["phase", "z", "y", "x"],
        "units": "1",
        "long_name": "phase probability",
        "description": "Probability of each phase at each voxel under the ensemble model "
                       "(the marginal that the samples are drawn from). Stored in 8 bits "
                       "(k/255): within 0.002 of the computed probability.",
    },
    "active_boundary_share": {
        "dims": [SAMPLE_DIM],
        "units": "1",
        "long_name": "active boundary share",
        "description": "Nuisance drawn by the ambiguity sampler: the share q of the "
                       "plain-mixture reading of the active phase's intermediate boundary "
                       "voxels (0: all partial-volume edges).",
        "role": "nuisance",
    },
    "binder_solid_share": {
        "dims": [SAMPLE_DIM],
        "units": "1",
        "long_name": "binder solid share",
        "description": "Nuisance drawn by the ambiguity sampler: the solid share s of the "
                       "middle-grey (carbon-binder) domain, from the prior of [sampler] "
                       "binder (solid and nanoporous binder look alike below the blur).",
        "role": "nuisance",
    },
    "binder_texture_length": {
        "dims": [SAMPLE_DIM],
        "units": "voxel",
        "long_name": "binder texture length",
        "description": "Nuisance drawn by the ambiguity sampler: correlation length of the "
                       "middle-grey domain's solid/pore texture.",
        "role": "nuisance",
    },
    "estimator_discrepancy": {
        "dims": [SAMPLE_DIM, "discrepancy_term"],
        "units": "1",
        "long_name": "estimator discrepancy",
        "description": "Log factor exp(delta) applied to each calibrated quantity element "
                       "of this member (for volume fractions, to its ratio to the pore "
                       "fraction): what members missed on phantom families of known "
                       "truth at the measured blur and resolution (the estimators' own "
                       "bias and what the priors do not reproduce), with its uncertainty "
                       "(uqtwin.results.discrepancy); NaN where the run did not compute "
                       "that element.",
        "role": "nuisance",
    },
    "psf_sigma": {
        "dims": ["axis"],
        "units": "voxel",
        "long_name": "point-spread width",
        "description": "Standard deviation of the scanner's Gaussian point spread per "
                       "axis (z, y, x), measured from the raw scan's edge profiles, or "
                       "as set by [sampler] psf_sigma.",
        "role": "imaging",
    },
    "photons_per_voxel": {
        "dims": [],
        "units": "1",
        "long_name": "photons per voxel",
        "description": "Photon count per voxel at the scan's mean grey value, from the "
                       "noise variance's growth with the grey value in flat regions "
                       "(inf: no signal-dependent noise detected).",
        "role": "imaging",
    },
    "read_noise": {
        "dims": [],
        "units": "grey",
        "long_name": "read noise",
        "description": "Standard deviation of the signal-independent noise of the raw "
                       "scan.",
        "role": "imaging",
    },
    "slice_drift": {
        "dims": [],
        "units": "1",
        "long_name": "slice drift",
        "description": "Relative change of the grey level over the z range (a linear "
                       "trend of the pure phases' slice means); divided out before "
                       "segmentation.",
        "role": "imaging",
    },
    "posterior_entropy": {
        "dims": ["z", "y", "x"],
        "units": "nat",
        "long_name": "posterior entropy",
        "description": "Shannon entropy of the per-voxel phase posterior; 0 where the "
                       "phase is certain, log(n_phases) where all are equally likely.",
    },
}


def schema_path(version: int = SCHEMA_VERSION) -> Path:
    """The committed schema file of a version (``results_schema/v<N>.json``).

    Parameters
    ----------
    version : int, optional
        The schema version; default the current ``SCHEMA_VERSION``.

    Returns
    -------
    Path
        Where that version's file is (it may not exist: see :func:`load_schema`).
    """
    return resource_dir("results_schema") / f"v{version}.json"


def load_schema(version: int = SCHEMA_VERSION) -> dict[str, Any]:
    """Read the committed schema file of a version.

    Parameters
    ----------
    version : int, optional
        The schema version; default the current ``SCHEMA_VERSION``.

    Returns
    -------
    dict
        The schema: ``schema_version``, ``required_attrs`` and ``variables`` (name -> dims,
        units, long_name, ...).

    Raises
    ------
    UqtwinInputError
        If there is no file for that version.
    """
    path = schema_path(version)
    if not path.is_file():
        raise UqtwinInputError(f"no results schema version {version} (looked for {path})")
    return json.loads(path.read_text())


def schema_problems(ds: xr.Dataset, schema: Mapping[str, Any] | None = None) -> list[str]:
    """Every way ``ds`` departs from the schema (empty list: it conforms).

    Checks the required attributes, and that every data variable is in the schema, with
    the schema's dims and units (``{length}`` replaced by the file's ``length_unit``)
    and a non-empty ``long_name``; and that a ``phase`` dim has a coordinate of names.

    Parameters
    ----------
    ds : xarray.Dataset
        A results Dataset.
    schema : mapping, optional
        The schema to check against; default the committed schema of the Dataset's own
        ``schema_version`` attribute (so old files are checked against their own version).

    Returns
    -------
    list of str
        One message per problem. If the schema cannot be found (no ``schema_version``, or no
        such version), that is the only message.
    """
    problems: list[str] = []
    version = ds.attrs.get("schema_version")
    if schema is None:
        if version is None:
            return ["attribute 'schema_version' is missing"]
        try:
            schema = load_schema(int(version))
        except (UqtwinInputError, ValueError) as exc:
            return [str(exc)]
    for attr in schema["required_attrs"]:
        if attr not in ds.attrs:
            problems.append(f"attribute {attr!r} is missing")
    length = str(ds.attrs.get("length_unit", "{length}"))
    for name, da in ds.data_vars.items():
        spec = schema["variables"].get(str(name))
        if spec is None:
            problems.append(f"variable {name!r} is not in schema v{schema['schema_version']}")
            continue
        if list(da.dims) != list(spec["dims"]):
            problems.append(f"variable {name!r} has dims {list(da.dims)}, schema says "
                            f"{spec['dims']}")
        expected_units = spec["units"].replace("{length}", length)
        if da.attrs.get("units") != expected_units:
            problems.append(f"variable {name!r} has units {da.attrs.get('units')!r}, schema "
                            f"says {expected_units!r}")
        if not da.attrs.get("long_name"):
            problems.append(f"variable {name!r} has no long_name")
    if "phase" in ds.dims and "phase" not in ds.coords:
        problems.append("dim 'phase' has no coordinate of phase names")
    return problems


def validate(ds: xr.Dataset) -> None:
    """Raise a :class:`UqtwinInputError` listing every departure from the schema.

    Parameters
    ----------
    ds : xarray.Dataset
        A results Dataset, checked against the schema of its ``schema_version`` by
        :func:`schema_problems`.

    Raises
    ------
    UqtwinInputError
        If there is at least one problem; the message lists them all, one per line.
    """
    problems = schema_problems(ds)
    if problems:
        raise UqtwinInputError(
            "results do not match the schema:\n  - " + "\n  - ".join(problems)
        )


def __getattr__(name: str):
    # The generator's names, kept importable from here without importing the generator
    # (and through it the quantity registry) when results are only read.
    if name in ("build_schema", "write_schema"):
        from uqtwin.results import schema_generator

        return getattr(schema_generator, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

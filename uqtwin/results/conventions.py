"""The conventions of a results Dataset, in one place.

What every reader of a results file (plots, report, export, CLI) and its writer (the
engine) must agree on: the name of the sample dim, where the phase names are kept,
where a run's sample store lies, the role of each variable (quantity, diagnostic,
nuisance, imaging condition), length units, and the highest-density interval (through
:func:`arviz.hdi`). Nothing here imports the quantity registry: the roles come from the
variables' ``role`` attribute, else from the committed schema file.
"""

from __future__ import annotations

import json
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from uqtwin.errors import UqtwinInputError
from uqtwin.volume import METRES_PER_UNIT, normalize_unit

#: Name of the dim along which the ensemble's members are stacked.
SAMPLE_DIM = "sample"
#: Name of a distribution's bin dim (also any dim named ``<something>_bin``).
BIN_DIM = "bin"
#: Dims of a 3×3 tensor variable.
TENSOR_DIMS = ("axis", "axis2")
#: Dims of a voxel map.
VOXEL_DIMS = ("z", "y", "x")
#: Suffix of a results file's sample store folder (``<output>.samples``).
STORE_SUFFIX = ".samples"
#: HDI probability when neither the caller nor the run names one.
DEFAULT_HDI_PROB = 0.9

#: Probability maps stored in 8 bits: the value k / PROBABILITY_LEVELS, k = 0..255, so a
#: stored probability is within 1 / (2 * PROBABILITY_LEVELS) ≈ 0.002 of the computed one,
#: 0 and 1 stay exact, and the map takes a quarter of the float32 bytes.
PROBABILITY_LEVELS = 255
#: The voxel maps so stored (decoded back to float32 by any NetCDF reader).
QUANTISED_MAPS = ("phase_probability",)



def quantised_probability(p: np.ndarray) -> np.ndarray:
    """Probabilities rounded to the 8-bit grid in which results files store them.

    The engine rounds its probability maps with this before returning them, so the maps in
    memory are bit for bit those read back from the file.

    Parameters
    ----------
    p : ndarray
        Probabilities in [0, 1].

    Returns
    -------
    ndarray of float32
        ``k * float32(1 / PROBABILITY_LEVELS)`` with ``k = round(p * PROBABILITY_LEVELS)``,
        exactly what a NetCDF reader decodes from the stored ``k``.

    Examples
    --------
    >>> quantised_probability(np.array([0.0, 0.5, 0.999, 1.0])).tolist()[::3]
    [0.0, 1.0]
    >>> round(float(quantised_probability(np.array([0.3]))[0]) * PROBABILITY_LEVELS, 3)
    76.0
    """
    k = np.rint(np.clip(p, 0.0, 1.0) * PROBABILITY_LEVELS).astype(np.float32)
    return k * np.float32(1.0 / PROBABILITY_LEVELS)


#: Roles of a results variable (the ``role`` attribute and the schema's ``role``).
QUANTITY = "quantity"
DIAGNOSTIC = "diagnostic"
NUISANCE = "nuisance"
IMAGING = "imaging"



def store_path(output: str | Path) -> Path:
    """The sample-store folder of a results file: ``<output>.samples`` beside it.

    Parameters
    ----------
    output : str or pathlib.Path
        The results file (the run's ``[output] path``).

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> store_path("runs/demo.nc").as_posix()
    'runs/demo.nc.samples'
    """
    output = Path(output)
    return output.with_name(output.name + STORE_SUFFIX)


def run_config(ds: xr.Dataset) -> dict[str, Any]:
    """The run configuration stored in the ``config`` attribute (empty dict if absent).

    Parameters
    ----------
    ds : xarray.Dataset
        A results Dataset.

    Returns
    -------
    dict

    Examples
    --------
    >>> run_config(xr.Dataset(attrs={"config": '{"seed": 3}'}))
    {'seed': 3}
    """
    raw = ds.attrs.get("config")
    if not raw:
        return {}
    try:
        return json.loads(raw) if isinstance(raw, str) else dict(raw)
    except ValueError:
        return {}


def results_store(ds: xr.Dataset, path: str | Path | None = None) -> Path | None:
    """The sample store of a results Dataset: beside ``path`` if given, else beside the
    output path recorded in its config; ``None`` when neither is known.

    Parameters
    ----------
    ds : xarray.Dataset
        A results Dataset.
    path : str or pathlib.Path, optional
        The file ``ds`` was read from.

    Returns
    -------
    pathlib.Path or None

    Examples
    --------
    >>> results_store(xr.Dataset(), "a.nc").name
    'a.nc.samples'
    >>> results_store(xr.Dataset()) is None
    True
    """
    if path is not None:
        return store_path(path)
    out = (run_config(ds).get("output") or {}).get("path")
    return store_path(out) if out else None


def phase_names(ds: xr.Dataset) -> list[str]:
    """Phase names of a results Dataset (``phases`` attribute, else the ``phase`` coord).

    Parameters
    ----------
    ds : xarray.Dataset
        A results Dataset.

    Returns
    -------
    list of str
        In order of increasing grey value; empty when the Dataset names none.

    Examples
    --------
    >>> phase_names(xr.Dataset(attrs={"phases": '["pore", "active"]'}))
    ['pore', 'active']
    >>> phase_names(xr.Dataset(coords={"phase": ["a", "b"]}))
    ['a', 'b']
    """
    raw = ds.attrs.get("phases")
    if raw is not None:
        return list(json.loads(raw)) if isinstance(raw, str) else [str(p) for p in raw]
    if "phase" in ds.coords:
        return [str(p) for p in ds["phase"].values]
    return []


def hdi_prob_of(ds: xr.Dataset, hdi_prob: float | None = None) -> float:
    """The HDI probability to use: the argument, else the run's, else 0.9.

    Examples
    --------
    >>> hdi_prob_of(xr.Dataset(attrs={"hdi_prob": 0.5}))
    0.5
    >>> hdi_prob_of(xr.Dataset(), 0.8)
    0.8
    """
    return float(hdi_prob if hdi_prob is not None
                 else ds.attrs.get("hdi_prob", DEFAULT_HDI_PROB))


# ---------------------------------------------------------------------------------------
# Variable roles


@lru_cache(maxsize=4)
def _schema_roles(version: int) -> dict[str, str]:
    # The committed schema file, not the registry: reading results must not import the
    # quantities.
    from uqtwin.results.schema import load_schema

    try:
        variables = load_schema(version)["variables"]
    except UqtwinInputError:
        return {}
    return {name: spec.get("role", QUANTITY) for name, spec in variables.items()}


def variable_role(da: xr.DataArray, version: int | None = None) -> str:
    """The role of a results variable: its ``role`` attribute, else the schema's.

    Parameters
    ----------
    da : xarray.DataArray
        A variable of a results Dataset (its ``name`` is looked up in the schema).
    version : int, optional
        Schema version to look the name up in (default: the current one).

    Returns
    -------
    str
        :data:`QUANTITY`, :data:`DIAGNOSTIC`, :data:`NUISANCE` or :data:`IMAGING`
        (``"quantity"`` for a variable the schema does not know).

    Examples
    --------
    >>> variable_role(xr.DataArray([1.0], name="diffusion_iterations"))
    'diagnostic'
    >>> variable_role(xr.DataArray([1.0], name="x", attrs={"role": "nuisance"}))
    'nuisance'
    """
    role = da.attrs.get("role")
    if role:
        return str(role)
    if version is None:
        from uqtwin.results.schema import SCHEMA_VERSION

        version = SCHEMA_VERSION
    return _schema_roles(int(version)).get(str(da.name), QUANTITY)


def is_diagnostic(da: xr.DataArray) -> bool:
    """Whether a variable is a solver diagnostic (reported in warnings, not plotted).

    Examples
    --------
    >>> is_diagnostic(xr.DataArray([0.0], name="diffusion_flux_mismatch"))
    True
    >>> is_diagnostic(xr.DataArray([0.3], name="volume_fraction"))
    False
    """
    return variable_role(da) == DIAGNOSTIC


def bin_dim(da: xr.DataArray) -> str | None:
    """The bin dim of a distribution variable: ``bin`` or a ``*_bin`` dim, else None.

    Examples
    --------
    >>> bin_dim(xr.DataArray(np.zeros((2, 3)), dims=("sample", "particle_bin")))
    'particle_bin'
    """
    for d in da.dims:
        if d == BIN_DIM or str(d).endswith("_" + BIN_DIM):
            return str(d)
    return None


# ---------------------------------------------------------------------------------------
# Units


def length_to_m(unit: str) -> float:
    """Metres per ``unit`` (``"um"``, ``"µm"``, ``"nm"``, ``"mm"``, ``"m"``, …).

    Raises
    ------
    UqtwinInputError
        For a unit that is not a length unit known here.

    Examples
    --------
    >>> length_to_m("nm")
    1e-09
    """
    if not is_length_unit(unit):
        raise UqtwinInputError(
            f"unknown length unit {unit!r}; known: {sorted(METRES_PER_UNIT)} (and their "
            "spellings such as µm, micron)")
    return METRES_PER_UNIT[normalize_unit(str(unit).strip())]


def is_length_unit(unit: str) -> bool:
    """Whether ``unit`` is a length unit (any spelling :func:`uqtwin.volume.normalize_unit`
    accepts, except ``voxel``).

    Examples
    --------
    >>> is_length_unit("µm"), is_length_unit("1"), is_length_unit("voxel")
    (True, False, False)
    """
    try:
        return normalize_unit(str(unit).strip()) in METRES_PER_UNIT
    except UqtwinInputError:
        return False


def units_label(da: xr.DataArray) -> str:
    """`` [units]`` for an axis label; empty for dimensionless or unitless variables.

    Examples
    --------
    >>> units_label(xr.DataArray(1.0, attrs={"units": "um"}))
    ' [um]'
    >>> units_label(xr.DataArray(1.0, attrs={"units": "1"}))
    ''
    """
    u = str(da.attrs.get("units", ""))
    return "" if u in ("", "1") else f" [{u}]"


# ---------------------------------------------------------------------------------------
# Intervals


def arviz():
    """The :mod:`arviz` module, imported quietly (its 1.0 notice is not actionable).

    Imported lazily, on first use, so that importing uqtwin does not pay for arviz.

    Returns
    -------
    module
        :mod:`arviz`. Only ``FutureWarning`` is silenced, and only during the import.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import arviz as az

    return az


def hdi(values: np.ndarray, hdi_prob: float = DEFAULT_HDI_PROB) -> tuple[float, float]:
    """Highest-density interval of 1-D draws through :func:`arviz.hdi`, non-finite
    draws left out.

    Parameters
    ----------
    values : numpy.ndarray
        Draws (flattened).
    hdi_prob : float
        Probability mass of the interval.

    Returns
    -------
    (float, float)
        ``(nan, nan)`` when no draw is finite.

    Examples
    --------
    >>> hdi(np.array([1.0, np.inf, 2.0, 3.0]))
    (1.0, 3.0)
    """
    x = np.asarray(values, dtype=float).ravel()
    x = x[np.isfinite(x)]
    n = x.size
    if n == 0:
        return (np.nan, np.nan)
    # arviz counts floor(p·n) draws inside; at least one, and all of them when that is
    # every draw (where arviz.hdi itself refuses).
    inside = int(np.floor(hdi_prob * n))
    if max(inside, 1) >= n:
        return (float(x.min()), float(x.max()))
    if inside < 1:
        hdi_prob = 1.5 / n  # a mass that arviz counts as exactly one draw inside
    lo, hi = arviz().hdi(x, hdi_prob=hdi_prob)
    return (float(lo), float(hi))

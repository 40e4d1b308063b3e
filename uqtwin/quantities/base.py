"""What a quantity is: a function of one microstructure plus a declaration of its outputs.

A quantity module defines a function ``compute(ms, *, phases=None, **options)`` that
returns a mapping of output name to ``xarray.DataArray`` (dims as declared, coordinates
for the named dims), and a module-level ``QUANTITY = Quantity(...)`` that declares those
outputs. One line in :mod:`uqtwin.quantities.registry` makes it appear in the results,
the summary, the schema and ``uqtwin measure``.

Units are written with the placeholder ``{length}``, filled in from the volume's length
unit: ``"1/{length}"`` becomes ``"1/um"`` for a volume with spacing in micrometres.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from uqtwin.microstructure import Microstructure

#: Coordinate values of the standard dims that quantities share.
AXES = ("z", "y", "x")


@dataclass(frozen=True)
class Output:
    """Declaration of one output variable of a quantity.

    Parameters
    ----------
    name : str
        Variable name in the results Dataset.
    dims : tuple of str
        Dims of one sample's value (the engine prepends ``"sample"``).
    units : str
        Units, with ``{length}`` standing for the volume's length unit; ``"1"`` for
        dimensionless.
    long_name : str
        Short human-readable name (used in tables and plots).
    description : str
        What it is and how it is computed (goes into the schema).
    diagnostic : bool
        True for solver diagnostics and auxiliary outputs (iterations, residuals,
        eigenvectors) that are kept in the results but left out of the summary table.
    """

    name: str
    dims: tuple[str, ...]
    units: str
    long_name: str
    description: str = ""
    diagnostic: bool = False

    def units_for(self, length_unit: str) -> str:
        """Units with the length unit filled in."""
        return self.units.replace("{length}", length_unit)


@dataclass(frozen=True)
class Quantity:
    """A registered quantity.

    Parameters
    ----------
    name : str
        Name used in configs and on the command line.
    compute : callable
        ``compute(ms, *, phases=None, **options) -> Mapping[str, xr.DataArray]``.
    outputs : tuple of Output
        Every variable ``compute`` returns.
    summary : str
        One line for ``--help`` listings.
    requires : tuple of str
        Quantities whose outputs this one is derived from; they are computed first and
        ``compute`` receives them as the keyword ``inputs`` (an ``xarray.Dataset``).
    prepare : callable, optional
        ``prepare(reference, *, phases=None, **options) -> Any``, called once per run on a
        reference microstructure (the most probable segmentation); its result reaches
        every sample as ``ms.context[context_key]`` (e.g. potentials that warm-start the
        transport solves of every sample).
    context_key : str, optional
        Key of the prepared state in ``ms.context`` (default: ``name``). Quantities that
        share one prepared state name the same key; the first of them in registry order
        whose hook gives a non-empty state fills it, and the others' hooks are skipped.
    """

    name: str
    compute: Callable[..., Mapping[str, xr.DataArray]]
    outputs: tuple[Output, ...]
    summary: str = ""
    requires: tuple[str, ...] = ()
    prepare: Callable[..., Any] | None = None
    context_key: str | None = None

    @property
    def context(self) -> str:
        """The key of this quantity's prepared state in ``ms.context``."""
        return self.name if self.context_key is None else self.context_key

    def option_names(self) -> tuple[str, ...]:
        """Keyword options ``compute`` accepts besides ``phases`` (the config may set them)."""
        sig = inspect.signature(self.compute)
        return tuple(
            p.name
            for p in sig.parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in ("phases", "inputs")
        )

    def output(self, name: str) -> Output:
        for out in self.outputs:
            if out.name == name:
                return out
        raise KeyError(name)


def phase_values(values: Sequence[Any], phases: Sequence[str], *, extra_dims=(), coords=None):
    """Wrap per-phase values as a DataArray with a ``phase`` coordinate of names.

    Parameters
    ----------
    values : sequence
        Values with the phase along the first axis, convertible to float.
    phases : sequence of str
        Phase names, one per entry of ``values``' first axis.
    extra_dims : tuple of str, optional, keyword-only
        Names of the further dims of ``values`` (e.g. ``("axis",)``); default none.
    coords : mapping, optional, keyword-only
        Further coordinates (e.g. of the extra dims); default none.

    Returns
    -------
    xarray.DataArray
        Float values on dims ``("phase", *extra_dims)``.

    Examples
    --------
    >>> from uqtwin.quantities.base import phase_values
    >>> da = phase_values([0.3, 0.7], ["pore", "solid"])
    >>> da.dims, da.phase.values.tolist(), float(da.sel(phase="solid"))
    (('phase',), ['pore', 'solid'], 0.7)
    """
    arr = np.asarray(values, dtype=float)
    dims = ("phase", *extra_dims)
    all_coords = {"phase": list(phases)}
    if coords:
        all_coords.update(coords)
    return xr.DataArray(arr, dims=dims, coords=all_coords)


def check_outputs(quantity: Quantity, values: Mapping[str, xr.DataArray], ms: Microstructure):
    """Check that ``compute`` returned exactly the declared outputs with the declared dims.

    Parameters
    ----------
    quantity : Quantity
        The quantity whose ``compute`` produced ``values``.
    values : mapping of str to xarray.DataArray
        Its outputs by name; array-likes that are not DataArrays are wrapped with the
        declared dims.
    ms : Microstructure
        The microstructure it was computed on; its length unit fills ``{length}`` in the
        declared units.

    Returns
    -------
    dict of str to xarray.DataArray
        Copies of the outputs, named, with ``units``, ``long_name``, ``description``,
        ``quantity`` and ``role`` (``diagnostic`` or ``quantity``) attributes from the
        declaration (any attributes ``compute`` set are replaced).

    Raises
    ------
    RuntimeError
        If an output is missing or undeclared, or has dims other than the declared ones
        (a bug in the quantity, not a user error).
    """
    declared = {o.name: o for o in quantity.outputs}
    missing = set(declared) - set(values)
    extra = set(values) - set(declared)
    if missing or extra:
        raise RuntimeError(
            f"quantity {quantity.name!r} returned {sorted(values)}, declared {sorted(declared)}"
        )
    out = {}
    for name, da in values.items():
        spec = declared[name]
        if not isinstance(da, xr.DataArray):
            da = xr.DataArray(np.asarray(da), dims=spec.dims)
        if tuple(da.dims) != spec.dims:
            raise RuntimeError(
                f"quantity {quantity.name!r} output {name!r} has dims {da.dims}, "
                f"declared {spec.dims}"
            )
        da = da.copy()
        da.name = name
        da.attrs = {
            "units": spec.units_for(ms.unit),
            "long_name": spec.long_name,
            "description": spec.description,
            "quantity": quantity.name,
            "role": "diagnostic" if spec.diagnostic else "quantity",
        }
        out[name] = da
    return out

"""The registry of quantities: one entry per quantity module.

Adding a quantity is one module that defines ``QUANTITY`` plus one line in
``_ENTRIES`` below; the results, summaries, schema and ``uqtwin measure`` pick it up.
The registry is an immutable mapping built at import (no global mutable state).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import xarray as xr

from uqtwin.errors import ConfigError
from uqtwin.microstructure import Microstructure
from uqtwin.quantities import (
    binder_contact,
    bruggeman,
    cell_parameters,
    connectivity,
    interfaces,
    particle_size,
    pore_size,
    surface_area,
    transport,
    volume_fraction,
)
from uqtwin.quantities.base import Quantity, check_outputs
from uqtwin.timing import StageClock

_ENTRIES: tuple[Quantity, ...] = (
    volume_fraction.QUANTITY,
    surface_area.QUANTITY,
    interfaces.QUANTITY,
    pore_size.QUANTITY,
    particle_size.QUANTITY,
    connectivity.QUANTITY,
    binder_contact.QUANTITY,
    cell_parameters.QUANTITY,
    transport.TORTUOSITY,
    transport.DIFFUSIVITY,
    transport.CONDUCTIVITY,
    bruggeman.QUANTITY,
)

QUANTITIES: Mapping[str, Quantity] = MappingProxyType({q.name: q for q in _ENTRIES})


def get_quantity(name: str) -> Quantity:
    """Look up a registered quantity by name, with a message listing the known ones.

    Parameters
    ----------
    name : str
        The quantity's registered name.

    Returns
    -------
    Quantity
        The registered quantity.

    Raises
    ------
    ConfigError
        If no quantity of that name is registered.
    """
    try:
        return QUANTITIES[name]
    except KeyError:
        raise ConfigError(
            f"unknown quantity {name!r}; registered quantities are {sorted(QUANTITIES)}"
        ) from None


def check_options(name: str, options: Mapping[str, Any]) -> None:
    """Raise a :class:`ConfigError` naming any option ``name``'s compute does not accept.

    Every quantity also accepts ``phases``: the phases of interest for that quantity alone
    (e.g. the tortuosity factor of the pore only, while volume fractions cover all).
    """
    allowed = get_quantity(name).option_names()
    for key in options:
        if key not in allowed and key != "phases":
            raise ConfigError(
                f"unknown option {key!r} for quantity {name!r}; allowed: "
                f"{['phases', *allowed]}"
            )


def needs_context(names: Sequence[str] | None = None) -> bool:
    """Whether any of the named quantities prepares a run-wide context.

    Parameters
    ----------
    names : sequence of str, optional
        Registered quantity names (default: all).

    Returns
    -------
    bool
        False when :func:`prepare_context` would return an empty context, so the caller
        can skip building the reference microstructure.

    Examples
    --------
    >>> needs_context(["volume_fraction"]), needs_context(["tortuosity_factor"])
    (False, True)
    """
    names = list(QUANTITIES) if names is None else list(names)
    return any(get_quantity(n).prepare is not None for n in names)


def prepare_context(
    reference: Microstructure,
    names: Sequence[str] | None = None,
    *,
    phases: Sequence[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Run-wide context: the named quantities' ``prepare`` hooks on the reference.

    Keyed by each quantity's :attr:`~uqtwin.quantities.base.Quantity.context` key. The
    hooks run in registry order; a key that an earlier hook filled with a non-empty state
    is not prepared again (quantities sharing a key share that state).
    """
    names = list(QUANTITIES) if names is None else list(names)
    for name in names:
        get_quantity(name)
    options = options or {}
    context: dict[str, Any] = {}
    for quantity in _ENTRIES:
        if quantity.name not in names or quantity.prepare is None:
            continue
        if context.get(quantity.context):
            continue
        opts = dict(options.get(quantity.name, {}))
        context[quantity.context] = quantity.prepare(
            reference, phases=opts.pop("phases", phases), **opts)
    return context


def compute_quantities(
    ms: Microstructure,
    names: Sequence[str] | None = None,
    *,
    phases: Sequence[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    adjust: Callable[[xr.Dataset], xr.Dataset] | None = None,
    clock: StageClock | None = None,
) -> xr.Dataset:
    """Compute registered quantities on one microstructure.

    Parameters
    ----------
    ms : Microstructure
        The sampled (or segmented) microstructure.
    names : sequence of str, optional
        Quantities to compute (default: all registered).
    phases : sequence of str, optional
        Phases of interest for per-phase outputs (default: all).
    options : mapping, optional
        Per-quantity keyword options, ``{quantity_name: {option: value}}``.
    adjust : callable, optional
        Applied once to the measured quantities (a Dataset) before any derived quantity
        is computed from them, e.g. the engine's estimator discrepancy
        (:func:`uqtwin.results.discrepancy.apply_discrepancy`), so that derived
        quantities (the Bruggeman exponent) follow the adjusted values.
    clock : StageClock, optional
        Receives the seconds each quantity took, under the quantity's name.

    Returns
    -------
    xarray.Dataset
        One variable per output, with ``units``, ``long_name`` and ``description``.
    """
    names = list(QUANTITIES) if names is None else list(names)
    options = options or {}
    variables: dict[str, xr.DataArray] = {}
    adjusted = adjust is None
    for name in resolve_order(names):
        quantity = get_quantity(name)
        opts = dict(options.get(name, {}))
        check_options(name, opts)
        if quantity.requires and not adjusted:
            variables, adjusted = dict(adjust(xr.Dataset(variables)).data_vars), True
        if quantity.requires:
            opts["inputs"] = xr.Dataset(variables)
        if clock is None:
            values = quantity.compute(ms, phases=opts.pop("phases", phases), **opts)
        else:
            with clock.stage(name):
                values = quantity.compute(ms, phases=opts.pop("phases", phases), **opts)
        variables.update(check_outputs(quantity, values, ms))
    ds = xr.Dataset(variables) if adjusted else adjust(xr.Dataset(variables))
    if "phase" in ds.dims:
        # Quantities restricted to some phases are aligned with the others (NaN where not
        # computed); keep the phases in the volume's order, not xarray's sorted union.
        ds = ds.reindex(phase=[p for p in ms.phases if p in set(ds.phase.values)])
    return ds


def resolve_order(names: Sequence[str]) -> list[str]:
    """``names`` with derived quantities after those they require (which must be named).

    Required quantities are not added silently: the user names every quantity computed, so
    a missing one is an error rather than a surprise cost.

    Parameters
    ----------
    names : sequence of str
        Registered quantity names; duplicates are dropped (first kept).

    Returns
    -------
    list of str
        The names in an order where each comes after all it requires; otherwise the given
        order is kept, level by level.

    Raises
    ------
    ConfigError
        If a name is not registered, a required quantity is not among ``names``, or the
        requirements are circular.
    """
    ordered: list[str] = []
    pending = list(dict.fromkeys(names))
    for name in pending:
        for req in get_quantity(name).requires:
            if req not in pending:
                raise ConfigError(
                    f"quantity {name!r} is derived from {req!r}: add {req!r} to the names"
                )
    while pending:
        ready = [n for n in pending if all(r in ordered for r in get_quantity(n).requires)]
        if not ready:
            raise ConfigError(f"circular quantity requirements among {pending}")
        ordered.extend(ready)
        pending = [n for n in pending if n not in ready]
    return ordered

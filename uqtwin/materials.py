"""Material cards: property values with units, ranges and literature sources.

A card is a TOML file in ``models/materials/``; each property is a table with ``value``,
``unit`` and ``source`` (and optionally ``range``, the span used for sampling)::

    [electronic_conductivity]
    value = 1.0e-2
    unit = "S/m"
    range = [1.0e-3, 1.0e-1]
    source = "..."

Cards are attached to phases through :attr:`uqtwin.microstructure.Microstructure.materials`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from uqtwin._resources import resource_dir
from uqtwin.errors import ConfigError

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = ["available_materials", "load_material", "property_value"]


def available_materials() -> tuple[str, ...]:
    """Names of the bundled material cards (file stems).

    Returns
    -------
    tuple of str
        The stems of ``models/materials/*.toml``, sorted; each is a valid argument of
        :func:`load_material`.
    """
    return tuple(sorted(p.stem for p in (resource_dir("models") / "materials").glob("*.toml")))


def load_material(name: str) -> dict[str, Any]:
    """Read the bundled material card ``name`` (file stem, e.g. ``"nmc111"``).

    Raises
    ------
    ConfigError
        If there is no such card (the message lists the available ones).
    """
    path = resource_dir("models") / "materials" / f"{name}.toml"
    if not path.is_file():
        raise ConfigError(
            f"unknown material {name!r}; available cards are {list(available_materials())}"
        )
    with path.open("rb") as fh:
        return tomllib.load(fh)


def property_value(card: Mapping[str, Any], key: str, default: float | None = None):
    """Value of property ``key`` of a card: a ``{"value": ...}`` table or a bare number.

    Parameters
    ----------
    card : mapping
        A material card (:func:`load_material`); may be None or empty.
    key : str
        The property name.
    default : float or None, optional
        Returned when the card is empty or lacks ``key``; default None.

    Returns
    -------
    float or None
        The value as a float (in the card's units), or ``default``.

    Raises
    ------
    KeyError
        If the property is a table without a ``value``.

    Examples
    --------
    >>> from uqtwin.materials import property_value
    >>> property_value({"density": {"value": 4.7, "units": "g/cm^3"}}, "density")
    4.7
    >>> property_value({"porosity": 0.3}, "porosity"), property_value({}, "x", 1.0)
    (0.3, 1.0)
    """
    entry = card.get(key) if card else None
    if entry is None:
        return default
    if isinstance(entry, Mapping):
        return float(entry["value"])
    return float(entry)

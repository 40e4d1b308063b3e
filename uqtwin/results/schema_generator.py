"""Generate the results schema from the quantity registry (``python -m uqtwin.results``).

The only results module that reads the quantity registry, and only when called: reading
or validating a results file (:mod:`uqtwin.results.schema`) never imports the
quantities.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from uqtwin.results.conventions import SAMPLE_DIM
from uqtwin.results.schema import (
    PIPELINE_VARIABLES,
    REQUIRED_ATTRS,
    SCHEMA_VERSION,
    schema_path,
)


def build_schema() -> dict[str, Any]:
    """The schema as generated from the registry and the pipeline's own variables.

    Returns
    -------
    dict
        ``schema_version``, ``title``, ``units_note``, ``required_attrs`` and ``variables``:
        every pipeline variable and every output of every registered quantity (dims with a
        leading ``sample``, units, long_name, description, quantity, and role ``diagnostic``
        or ``quantity``), sorted by name.

    Raises
    ------
    RuntimeError
        If two quantities, or a quantity and the pipeline, declare the same output name.
    """
    from uqtwin.quantities.registry import QUANTITIES

    variables = {name: dict(spec) for name, spec in PIPELINE_VARIABLES.items()}
    for quantity in QUANTITIES.values():
        for out in quantity.outputs:
            if out.name in variables:
                raise RuntimeError(f"output {out.name!r} is declared twice")
            variables[out.name] = {
                "dims": [SAMPLE_DIM, *out.dims],
                "units": out.units,
                "long_name": out.long_name,
                "description": out.description,
                "quantity": quantity.name,
                "role": "diagnostic" if out.diagnostic else "quantity",
            }
    return {
        "schema_version": SCHEMA_VERSION,
        "title": "uqtwin ensemble results",
        "units_note": "'{length}' stands for the file's length_unit attribute; '1' is "
                      "dimensionless.",
        "required_attrs": REQUIRED_ATTRS,
        "variables": dict(sorted(variables.items())),
    }


def write_schema(path: str | Path | None = None) -> Path:
    """Write the generated schema (default: the committed file in ``results_schema/``).

    Parameters
    ----------
    path : str or Path, optional
        Where to write it; default :func:`~uqtwin.results.schema.schema_path` of the current
        version. Written as indented UTF-8 JSON with a final newline.

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path) if path is not None else schema_path()
    path.write_text(json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n")
    return path

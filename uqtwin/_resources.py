"""Locate the top-level ``models/`` and ``results_schema/`` folders.

They live at the top of the source tree (so they can be read and reviewed as data)
and are copied into the wheel under ``uqtwin/_resources/`` by the build backend, so a
non-editable ``pip install .`` finds them too.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """Return the folder ``name`` ("models" or "results_schema"), installed or in-tree.

    A wheel carries the folders inside the package (``uqtwin/_resources/<name>``); a source
    checkout has them next to the package, so both places are tried, in that order.

    Parameters
    ----------
    name : str
        ``"models"`` or ``"results_schema"``.

    Returns
    -------
    Path
        The first of ``uqtwin/_resources/<name>`` and ``<repository>/<name>`` that exists.

    Raises
    ------
    FileNotFoundError
        If neither exists (an incomplete installation).
    """
    for candidate in (_PACKAGE / "_resources" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"uqtwin resource folder {name!r} not found (looked in {_PACKAGE / '_resources'} "
        f"and {_PACKAGE.parent}); the installation is incomplete"
    )

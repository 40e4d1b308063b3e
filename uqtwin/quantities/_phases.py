"""Find a phase by its role: an explicit option, else its name, else its material card."""

from __future__ import annotations

from collections.abc import Sequence

from uqtwin.errors import PhaseError
from uqtwin.microstructure import Microstructure


def find_phase(
    ms: Microstructure,
    phase: str | int | None,
    *,
    names: Sequence[str],
    kinds: Sequence[str],
    role: str,
) -> int:
    """Index of the phase playing ``role``.

    Parameters
    ----------
    ms : Microstructure
        Labelled volume.
    phase : str or int or None
        Explicit choice (name or index); ``None`` to look it up.
    names : sequence of str
        Phase names that play the role (e.g. ``("pore",)``), tried first.
    kinds : sequence of str
        Material-card ``kind`` values that play the role (e.g. ``("active",)``).
    role : str
        Role in words, for the error message.

    Returns
    -------
    int
        Phase index.

    Raises
    ------
    PhaseError
        If no phase can be found, naming the option to set.
    """
    if phase is not None:
        return ms.phase_index(phase)
    for name in names:
        if name in ms.phases:
            return ms.phases.index(name)
    for i, name in enumerate(ms.phases):
        if ms.materials.get(name, {}).get("kind") in kinds:
            return i
    raise PhaseError(
        f"no {role} phase: none of the phases {list(ms.phases)} is named "
        f"{' or '.join(repr(n) for n in names)} or has a material card of kind "
        f"{' or '.join(repr(k) for k in kinds)}; set the quantity's 'phase' option"
    )

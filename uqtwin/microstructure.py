"""One sampled multiphase microstructure: the input of every quantity."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from uqtwin.errors import PhaseError, VolumeError
from uqtwin.volume import check_array, check_spacing, normalize_unit

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class Microstructure:
    """A labelled volume with its voxel spacing, phase names and material cards.

    Parameters
    ----------
    labels : ndarray of int, shape (nz, ny, nx)
        Phase index of every voxel, ``0 .. len(phases) - 1``.
    spacing : tuple of 3 floats
        Voxel size along (z, y, x) in ``unit``.
    unit : str
        Length unit (canonical symbol, e.g. ``"um"``).
    phases : tuple of str
        Phase names; ``labels == i`` is phase ``phases[i]``.
    materials : mapping, optional
        Material card (a mapping of properties, see ``models/``) per phase name.
    context : mapping, optional
        Run-wide, read-only state that quantities prepared once on a reference
        microstructure (the most probable segmentation), keyed by quantity name: e.g. the
        potentials that warm-start every sample's transport solves. Fixed per run, so every
        sample sees the same context whatever the order in which samples are computed.
    """

    labels: np.ndarray
    spacing: tuple[float, float, float]
    unit: str
    phases: tuple[str, ...]
    materials: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict, repr=False)
    # Results shared between quantities on this one microstructure (a particle
    # segmentation, a set of transport solves), so each is computed once per sample.
    _memo: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        labels = check_array(self.labels, name="labels")
        if labels.dtype.kind not in "iub":
            raise VolumeError(f"labels must be integers, got dtype {labels.dtype}")
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "spacing", check_spacing(self.spacing))
        object.__setattr__(self, "unit", normalize_unit(self.unit))
        phases = tuple(str(p) for p in self.phases)
        if len(set(phases)) != len(phases) or not phases:
            raise PhaseError(f"phase names must be unique and non-empty, got {list(phases)}")
        object.__setattr__(self, "phases", phases)
        lo, hi = int(labels.min()), int(labels.max())
        if lo < 0 or hi >= len(phases):
            raise PhaseError(
                f"labels hold values {lo}..{hi} but only {len(phases)} phases are named "
                f"({list(phases)})"
            )

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.labels.shape  # type: ignore[return-value]

    @property
    def voxel_volume(self) -> float:
        """Volume of one voxel, in ``unit``³."""
        return float(np.prod(self.spacing))

    @property
    def total_volume(self) -> float:
        """Volume of the whole box, in ``unit``³."""
        return self.voxel_volume * self.labels.size

    def phase_index(self, phase: str | int) -> int:
        """Index of a phase given by name (or by index, which is checked)."""
        if isinstance(phase, (int, np.integer)):
            if not 0 <= int(phase) < len(self.phases):
                raise PhaseError(f"phase index {phase} out of range for phases {list(self.phases)}")
            return int(phase)
        try:
            return self.phases.index(str(phase))
        except ValueError:
            raise PhaseError(f"unknown phase {phase!r}; phases are {list(self.phases)}") from None

    def mask(self, phase: str | int) -> np.ndarray:
        """Boolean mask of one phase."""
        return self.labels == self.phase_index(phase)

    def memoized(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()`` once per microstructure and ``key``; later calls reuse it.

        Lets several quantities share an expensive intermediate (a particle segmentation,
        a transport solve) without global state: the memo lives and dies with ``self``.
        """
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def select_phases(self, phases: Sequence[str] | None) -> tuple[str, ...]:
        """Validate a subset of phase names (``None`` means all)."""
        if phases is None:
            return self.phases
        for p in phases:
            self.phase_index(p)
        return tuple(str(p) for p in phases)

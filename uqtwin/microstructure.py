"""One sampled multiphase microstructure, the input of every quantity, and its intermediates.

:class:`Microstructure` is the labelled volume; :class:`SampleCache` (its ``cache``) holds
the intermediates that several quantities of that one microstructure share, each computed
once: boundary areas, particle segmentations, transport solves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from uqtwin.errors import PhaseError, VolumeError
from uqtwin.volume import check_array, check_spacing, normalize_unit

T = TypeVar("T")


@dataclass(frozen=True)
class TransportKey:
    """What identifies one phase's set of transport solves (one per driven axis)."""

    phase: str
    tol: float
    max_iter: int
    periodic: bool


class SampleCache:
    """Intermediates shared by the quantities of one microstructure, each computed once.

    It lives on the microstructure (``ms.cache``, created with it), so it lives and dies
    with the sample: no global state, nothing to pass around, and every quantity of the
    sample (and every ``prepare`` hook on the reference microstructure) sees the same
    one. Named methods replace string keys that modules had to agree on:

    * :attr:`boundary_areas`: boundary areas of unions of phases
      (:class:`uqtwin.morphology.boundaries.BoundaryAreas`), shared by the surface and
      interfacial areas, the binder contact and the cell parameters;
    * :meth:`particles`: the watershed particle labels of a phase, shared by particle
      sizes, binder contact, cell parameters and the contact resistance of conduction;
    * :meth:`transport_solves`: a phase's three transport solves, shared by the
      tortuosity factor and the effective diffusivity.

    Parameters
    ----------
    labels : ndarray of int, shape (nz, ny, nx)
        The microstructure's (validated) labels.
    spacing : tuple of 3 floats
        Its voxel size.
    """

    def __init__(self, labels: np.ndarray, spacing: tuple[float, float, float]) -> None:
        self._labels = labels
        self._spacing = spacing
        self._boundary_areas = None
        self._particles: dict[tuple[int, float | None], np.ndarray] = {}
        self._transport: dict[TransportKey, Any] = {}

    @property
    def boundary_areas(self):
        """The :class:`~uqtwin.morphology.boundaries.BoundaryAreas` of these labels."""
        if self._boundary_areas is None:
            # imported here: measuring pulls in the compiled geometry, creating does not
            from uqtwin.morphology.boundaries import BoundaryAreas

            self._boundary_areas = BoundaryAreas(self._labels, self._spacing)
        return self._boundary_areas

    def particles(self, phase: int, h: float | None = None) -> np.ndarray:
        """Particle labels of phase index ``phase``
        (:func:`uqtwin.morphology.particles.particle_labels` with marker depth ``h``)."""
        key = (int(phase), h)
        if key not in self._particles:
            from uqtwin.morphology.particles import particle_labels

            self._particles[key] = particle_labels(self._labels == phase, self._spacing, h=h)
        return self._particles[key]

    def transport_solves(self, key: TransportKey, solve: Callable[[], T]) -> T:
        """``solve()`` once per ``key``; later calls with an equal key reuse its result."""
        if key not in self._transport:
            self._transport[key] = solve()
        return self._transport[key]


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
        microstructure (the most probable segmentation), keyed by each quantity's
        ``context_key`` (see :class:`uqtwin.quantities.base.Quantity`): e.g. the
        potentials that warm-start every sample's transport solves. Fixed per run, so every
        sample sees the same context whatever the order in which samples are computed.
    """

    labels: np.ndarray
    spacing: tuple[float, float, float]
    unit: str
    phases: tuple[str, ...]
    materials: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict, repr=False)
    #: Intermediates shared by the quantities of this microstructure (see SampleCache).
    cache: SampleCache = field(init=False, repr=False, compare=False)

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
        object.__setattr__(self, "cache", SampleCache(labels, self.spacing))

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

    def select_phases(self, phases: Sequence[str] | None) -> tuple[str, ...]:
        """Validate a subset of phase names (``None`` means all)."""
        if phases is None:
            return self.phases
        for p in phases:
            self.phase_index(p)
        return tuple(str(p) for p in phases)

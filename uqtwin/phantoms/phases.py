"""The phase label convention shared by every generator and by the image model."""

from __future__ import annotations

#: Label values written by the generators.
PORE, BINDER, ACTIVE = 0, 1, 2
#: Phase names in label order, for :func:`uqtwin.segment.mixture.phase_posteriors` and
#: :class:`uqtwin.microstructure.Microstructure`.
PHASES = ("pore", "binder", "active")

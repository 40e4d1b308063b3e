"""Synthetic electrodes with known answers: label generators and a tomography image model.

The label generators build three-phase microstructures (``0`` pore, ``1`` carbon-binder,
``2`` active material); :func:`image_phantom` turns any label volume into a grey volume
the way a scanner would (partial-volume blur, photon noise, read noise, intensity drift).
Together they give volumes whose true phase of every voxel is known, for testing the
segmentation and sampling stages and for calibrating the samplers on geometry families
that differ in kind.

One idea per module:

- :mod:`~uqtwin.phantoms.phases`: the label values :data:`PORE`, :data:`BINDER`,
  :data:`ACTIVE` and the names :data:`PHASES`.
- :mod:`~uqtwin.phantoms.imaging`: :func:`image_phantom`, the scanner model.
- :mod:`~uqtwin.phantoms.packings`: packed spheres and calendered spheroids with a binder
  film and necks (:func:`spheres_with_binder`, :func:`calendered_ellipsoids`).
- :mod:`~uqtwin.phantoms.flakes`: platelet graphite anodes (:func:`graphite_flakes`,
  an active mask).
- :mod:`~uqtwin.phantoms.binder`: carbon-binder grown on any active mask, a conformal
  film (:func:`binder_film`) or bridges at the contacts (:func:`binder_bridges`).
- :mod:`~uqtwin.phantoms.nanoporous`: a binder domain only partly solid
  (:func:`nanoporous_binder`).
- :mod:`~uqtwin.phantoms.particles`: particle separation and nearest-particle
  distances, the machinery of the bridges.

Everything is deterministic given ``seed`` and uses no global random state.
"""

from uqtwin.phantoms.binder import binder_bridges, binder_film
from uqtwin.phantoms.flakes import graphite_flakes
from uqtwin.phantoms.imaging import image_phantom
from uqtwin.phantoms.nanoporous import nanoporous_binder
from uqtwin.phantoms.packings import calendered_ellipsoids, spheres_with_binder
from uqtwin.phantoms.phases import ACTIVE, BINDER, PHASES, PORE

__all__ = [
    "ACTIVE",
    "BINDER",
    "PHASES",
    "PORE",
    "binder_bridges",
    "binder_film",
    "calendered_ellipsoids",
    "graphite_flakes",
    "image_phantom",
    "nanoporous_binder",
    "spheres_with_binder",
]

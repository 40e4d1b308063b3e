"""Connectivity of each phase along each axis: percolating, dead-end and isolated fractions.

Clusters are the connected components of a phase under the project's dual connectivity
convention (:mod:`uqtwin.morphology.components`: pore face-connected, as the finite-volume
transport through it; solids 26-connected, so that pore and solid paths never cross
through a shared edge or corner). Along axis a, with the two box faces normal to a:

* percolating fraction: volume in clusters touching both faces;
* dead-end fraction: volume in clusters touching exactly one of them;
* isolated fraction: volume in clusters touching neither (they may touch the side faces).

The three partition the phase: they sum to 1 for every axis. All are fractions of the
phase volume (NaN for an absent phase). Uses :func:`scipy.ndimage.label`; volumes of more
than :data:`CHUNKED_VOXELS` voxels are labelled chunk by chunk with the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from uqtwin.errors import ConfigError
from uqtwin.microstructure import Microstructure
from uqtwin.morphology.chunked_components import cluster_fractions_by_chunks
from uqtwin.morphology.cluster_faces import face_fractions
from uqtwin.morphology.components import connected_components
from uqtwin.quantities.base import AXES, Output, Quantity, phase_values

#: Neighbourhood size -> rank of scipy's structuring element.
_RANK = {6: 1, 26: 3}


def cluster_fractions(mask: np.ndarray, connectivity: int = 6) -> np.ndarray:
    """Percolating, dead-end and isolated volume fractions of a mask along each axis.

    Parameters
    ----------
    mask : ndarray of bool, shape (nz, ny, nx)
        The phase.
    connectivity : {6, 26}
        Voxel connectivity of its clusters (6 for the pore, 26 for solids by convention).

    Returns
    -------
    ndarray of float, shape (3, 3)
        ``[axis, kind]`` with kind 0 percolating, 1 dead-end, 2 isolated; fractions of
        the mask volume (NaN if the mask is empty).
    """
    if connectivity not in _RANK:
        raise ConfigError(f"connectivity must be 6 or 26, got {connectivity!r}")
    mask = np.asarray(mask, dtype=bool)
    total = int(mask.sum())
    out = np.full((3, 3), np.nan)
    if total == 0:
        return out
    labels, n = connected_components(mask, connectivity=_RANK[connectivity])
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    sizes[0] = 0  # the background is not a cluster
    touches = np.zeros((3, 2, n + 1), bool)
    for ax in range(3):
        for side, idx in enumerate((0, -1)):
            touches[ax, side, np.take(labels, idx, axis=ax).ravel()] = True
    return face_fractions(sizes, touches)


#: Volumes with more voxels than this are labelled chunk by chunk (the same numbers:
#: :func:`~uqtwin.morphology.chunked_components.cluster_fractions_by_chunks`), holding one
#: chunk's labels instead of the whole volume's (5 bytes per voxel).
CHUNKED_VOXELS = 2**25
#: Their chunk side, voxels.
CHUNK = 256


def _fractions(ms: Microstructure, name: str, connectivity: int) -> np.ndarray:
    if ms.labels.size > CHUNKED_VOXELS:
        if connectivity not in _RANK:
            raise ConfigError(f"connectivity must be 6 or 26, got {connectivity!r}")
        return cluster_fractions_by_chunks(ms.labels, connectivity,
                                           phase=ms.phase_index(name), chunk=CHUNK)
    return cluster_fractions(ms.mask(name), connectivity)


def _default_connectivity(ms: Microstructure, name: str) -> int:
    kind = ms.materials.get(name, {}).get("kind")
    return 6 if name == "pore" or kind in ("pore", "electrolyte") else 26


def phase_connectivity(
    ms: Microstructure,
    *,
    phases: Sequence[str] | None = None,
    connectivity: Mapping[str, int] | None = None,
) -> dict[str, xr.DataArray]:
    """Percolating, dead-end and isolated fractions of each phase along z, y, x.

    Parameters
    ----------
    ms : Microstructure
        Labelled volume.
    phases : sequence of str, optional
        Phases to report (default: all).
    connectivity : mapping of str to int, optional
        Connectivity (6 or 26) per phase name; default 6 for the phase named
        ``"pore"`` (or with material kind pore/electrolyte), 26 for the others.

    Returns
    -------
    dict
        ``percolating_fraction``, ``dead_end_fraction``, ``isolated_fraction``, each a
        DataArray (phase, axis), fractions of the phase volume.
    """
    names = ms.select_phases(phases)
    chosen = dict(connectivity or {})
    for key in chosen:
        ms.phase_index(key)
    values = np.stack([
        _fractions(ms, p, int(chosen.get(p, _default_connectivity(ms, p)))) for p in names
    ])
    coords = {"axis": list(AXES)}
    return {
        name: phase_values(values[:, :, k], names, extra_dims=("axis",), coords=coords)
        for k, name in enumerate(
            ("percolating_fraction", "dead_end_fraction", "isolated_fraction")
        )
    }


QUANTITY = Quantity(
    name="connectivity",
    compute=phase_connectivity,
    outputs=(
        Output(
            "percolating_fraction",
            ("phase", "axis"),
            "1",
            "percolating fraction",
            "Fraction of the phase volume in clusters touching both box faces normal to "
            "the axis (6-connected pore, 26-connected solids).",
        ),
        Output(
            "dead_end_fraction",
            ("phase", "axis"),
            "1",
            "dead-end fraction",
            "Fraction of the phase volume in clusters touching exactly one of the two box "
            "faces normal to the axis.",
        ),
        Output(
            "isolated_fraction",
            ("phase", "axis"),
            "1",
            "isolated fraction",
            "Fraction of the phase volume in clusters touching neither box face normal to "
            "the axis; the three fractions sum to 1.",
        ),
    ),
    summary="percolating / dead-end / isolated fractions of each phase along each axis",
)

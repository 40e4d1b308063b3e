"""Pore size distribution: continuous local thickness and face-accessible (intrusion) size.

Local thickness
    The diameter of the largest ball that fits in the pore and covers the voxel
    (Hildebrand & Rüegsegger 1997; :func:`uqtwin.morphology.local_thickness`).
Intrusion (porosimetry-like) size
    The ball diameter at which a non-wetting fluid entering from one box face first
    reaches the voxel (:func:`uqtwin.morphology.intrusion_size`). Voxels never reached
    (isolated pores) are left out of the distribution, so it sums to the accessible
    fraction.
Bins
    All samples of an ensemble share the same bins (:mod:`uqtwin.morphology.bins`): the
    option ``bins`` (edges), else geometric edges from the smallest voxel size up to
    twice the box diagonal with four bins per octave.

One distance transform (:func:`uqtwin.morphology.distance.distance_field`) serves both
sizes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from uqtwin.microstructure import Microstructure
from uqtwin.morphology.bins import bin_coords, binned_fractions, check_bins, default_bins
from uqtwin.morphology.distance import distance_field
from uqtwin.morphology.intrusion import intrusion_from_field, intrusion_size, parse_face
from uqtwin.morphology.thickness import local_thickness, thickness_from_field
from uqtwin.quantities._phases import find_phase
from uqtwin.quantities.base import Output, Quantity

__all__ = [
    "bin_coords",
    "binned_fractions",
    "check_bins",
    "default_bins",
    "intrusion_size",
    "local_thickness",
    "pore_size_distribution",
]


def pore_size_distribution(
    ms: Microstructure,
    *,
    phases: Sequence[str] | None = None,
    phase: str | None = None,
    bins: Sequence[float] | None = None,
    intrusion_face: str = "z-",
) -> dict[str, xr.DataArray]:
    """Local-thickness and intrusion pore size distributions on common bins.

    Parameters
    ----------
    ms : Microstructure
        Labelled volume.
    phases : sequence of str, optional
        Unused (the outputs are not per phase); accepted for the common signature.
    phase : str, optional
        The pore phase (default: the phase named ``"pore"``, else the one whose material
        card has ``kind = "pore"`` or ``"electrolyte"``).
    bins : sequence of float, optional
        Diameter bin edges in length units (default :func:`default_bins`).
    intrusion_face : str
        Inlet face of the intrusion distribution (``"z-"``: the first slice along z).

    Returns
    -------
    dict
        ``pore_size_distribution`` and ``pore_intrusion_distribution`` (dims ``bin``,
        fraction of the pore volume per bin) and ``mean_pore_diameter`` (volume-weighted
        mean local thickness, length units; NaN without pore).
    """
    del phases
    index = find_phase(ms, phase, names=("pore",), kinds=("pore", "electrolyte"), role="pore")
    edges = check_bins(bins, ms.shape, ms.spacing)
    mask = ms.labels == index
    n_pore = int(mask.sum())
    coords = bin_coords(edges)
    if n_pore == 0:
        nan = np.full(len(edges) - 1, np.nan)
        return {
            "pore_size_distribution": xr.DataArray(nan, dims=("bin",), coords=coords),
            "pore_intrusion_distribution": xr.DataArray(nan, dims=("bin",), coords=coords),
            "mean_pore_diameter": xr.DataArray(np.nan),
        }
    spacing = np.asarray(ms.spacing)
    axis, side = parse_face(intrusion_face)
    # one distance transform serves both sizes (each would cost a quarter of the quantity)
    field = distance_field(mask, spacing)
    lt = thickness_from_field(field, spacing)[mask]
    intr = intrusion_from_field(mask, spacing, axis, side, field)[mask]
    intr = intr[intr > 0]
    return {
        "pore_size_distribution": xr.DataArray(
            binned_fractions(lt, None, edges) / n_pore, dims=("bin",), coords=coords
        ),
        "pore_intrusion_distribution": xr.DataArray(
            binned_fractions(intr, None, edges) / n_pore, dims=("bin",), coords=coords
        ),
        "mean_pore_diameter": xr.DataArray(float(lt.mean(dtype=np.float64))),
    }


QUANTITY = Quantity(
    name="pore_size_distribution",
    compute=pore_size_distribution,
    outputs=(
        Output(
            "pore_size_distribution",
            ("bin",),
            "1",
            "pore size distribution",
            "Fraction of the pore volume whose local thickness (diameter of the largest "
            "inscribed ball covering the voxel, exact Euclidean distance transform) falls "
            "in each diameter bin; bin coordinate = bin centre in length units.",
        ),
        Output(
            "pore_intrusion_distribution",
            ("bin",),
            "1",
            "intrusion pore size distribution",
            "Fraction of the pore volume first reached, at that ball diameter, by a "
            "non-wetting fluid entering from the inlet face (porosimetry without radius "
            "bins); sums to the accessible fraction.",
        ),
        Output(
            "mean_pore_diameter",
            (),
            "{length}",
            "mean pore diameter",
            "Volume-weighted mean local thickness of the pore space.",
        ),
    ),
    summary="pore size distribution (local thickness and intrusion) and mean pore diameter",
)

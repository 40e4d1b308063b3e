"""Volume fraction of each phase (porosity, for the pore phase)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from uqtwin.microstructure import Microstructure
from uqtwin.quantities.base import Output, Quantity, phase_values


def volume_fraction(
    ms: Microstructure, *, phases: Sequence[str] | None = None
) -> dict[str, xr.DataArray]:
    """Fraction of the box volume occupied by each phase.

    Parameters
    ----------
    ms : Microstructure
        Labelled volume.
    phases : sequence of str, optional
        Phases to report (default: all).

    Returns
    -------
    dict
        ``{"volume_fraction": DataArray(phase)}``, dimensionless. With anisotropic
        voxels every voxel has the same volume, so the fraction is a voxel count ratio.
    """
    names = ms.select_phases(phases)
    counts = np.bincount(ms.labels.ravel().astype(np.intp), minlength=len(ms.phases))
    frac = counts / ms.labels.size
    return {"volume_fraction": phase_values([frac[ms.phase_index(p)] for p in names], names)}


QUANTITY = Quantity(
    name="volume_fraction",
    compute=volume_fraction,
    outputs=(
        Output(
            "volume_fraction",
            ("phase",),
            "1",
            "volume fraction",
            "Fraction of the box volume occupied by the phase (porosity for the pore phase); "
            "voxel count of the phase over the total voxel count.",
        ),
    ),
    summary="fraction of the volume in each phase (porosity for the pore phase)",
)

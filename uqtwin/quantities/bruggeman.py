"""Bruggeman exponent of the electrolyte (pore) phase, from its porosity and tortuosity.

Porous-electrode (Doyle–Fuller–Newman) models write the effective transport of the
electrolyte as ε^b times the bulk value, i.e. τ = ε^(1 − b); for each sample and axis the
exponent b = 1 − ln τ / ln ε follows from that sample's porosity and tortuosity factor.
A derived quantity: it needs ``volume_fraction`` and ``tortuosity_factor`` in the run.
"""

from __future__ import annotations

from collections.abc import Sequence

import xarray as xr

from uqtwin.microstructure import Microstructure
from uqtwin.quantities._phases import find_phase
from uqtwin.quantities.base import AXES, Output, Quantity
from uqtwin.solvers.relations import bruggeman_exponent


def bruggeman(
    ms: Microstructure,
    *,
    phases: Sequence[str] | None = None,
    inputs: xr.Dataset,
    pore_phase: str | None = None,
) -> dict[str, xr.DataArray]:
    """Bruggeman exponent b per axis, from this sample's ε and τ of the pore phase.

    Parameters
    ----------
    ms : Microstructure
        The sample (used to find the pore phase).
    phases : sequence of str, optional
        Unused (the exponent is about the pore phase).
    inputs : xarray.Dataset
        This sample's ``volume_fraction`` (phase) and ``tortuosity_factor`` (phase, axis).
    pore_phase : str, optional
        Name of the electrolyte-filled phase (default: the phase named ``"pore"`` or with
        material kind electrolyte).

    Returns
    -------
    dict
        ``bruggeman_exponent`` (axis): b = 1 − ln τ / ln ε; NaN where τ is infinite (no
        percolating path) or ε is 0 or 1.
    """
    del phases
    name = ms.phases[find_phase(ms, pore_phase, names=("pore",), kinds=("pore", "electrolyte"),
                                role="pore")]
    if name not in inputs["tortuosity_factor"].phase.values:
        from uqtwin.errors import ConfigError

        raise ConfigError(
            f"bruggeman_exponent needs the tortuosity factor of phase {name!r}; include it "
            "in [quantities] phases"
        )
    eps = float(inputs["volume_fraction"].sel(phase=name))
    tau = inputs["tortuosity_factor"].sel(phase=name).values
    return {"bruggeman_exponent": xr.DataArray(bruggeman_exponent(eps, tau), dims=("axis",),
                                               coords={"axis": list(AXES)})}


QUANTITY = Quantity(
    name="bruggeman_exponent",
    compute=bruggeman,
    requires=("volume_fraction", "tortuosity_factor"),
    outputs=(
        Output(
            "bruggeman_exponent",
            ("axis",),
            "1",
            "Bruggeman exponent",
            "Exponent b of the pore phase with τ = ε^(1 − b), from this sample's porosity ε "
            "and tortuosity factor τ along the axis; NaN where the pore does not percolate.",
        ),
    ),
    summary="Bruggeman exponent of the pore phase from its porosity and tortuosity",
)

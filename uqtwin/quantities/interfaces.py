"""Specific interfacial area between every pair of phases (pore|active, pore|binder, ...).

Method
------
Each area is a boundary area of a union of phases, measured by the same smoothed
marching-cubes code as :mod:`uqtwin.quantities.surface_area`. For two phases i, j the
set identity

    A(i|j) = [A(∂i) + A(∂j) − A(∂(i ∪ j))] / 2

holds for any number of phases (the boundary of i ∪ j is the boundary of i and of j less
their common interface, counted once from each side). A union and its complement have the
same boundary, so with three phases A(∂(i ∪ j)) = A(∂k) and three meshes serve all three
pairs. Box sides are not interface (see :mod:`uqtwin.morphology.mesh`).

Convergence (benchmarks/README.md, "Morphology"): an active ball of radius R, its upper
half covered by a binder shell of outer radius 1.5 R, in pore; cut plane 0.27 voxel above
the centre; relative error of smoothed marching cubes (plain marching cubes in brackets)

==========  ================  ================  ================
R (voxels)  pore|active       pore|binder       active|binder
==========  ================  ================  ================
5           −1.7 % (+6.8 %)   −6.7 % (+1.3 %)   +3.9 % (+8.8 %)
10          +1.2 % (+9.3 %)   −2.4 % (+4.5 %)   +0.5 % (+8.3 %)
20          +0.8 % (+8.9 %)   −1.1 % (+5.6 %)   +0.7 % (+8.7 %)
40          +0.8 % (+8.8 %)   −0.2 % (+6.3 %)   +0.7 % (+8.8 %)
==========  ================  ================  ================

pore|binder includes the flat annulus under the shell, whose two sharp 90° rims are
rounded within half a voxel (hence the larger negative error at small R). A cube of
active resting on a binder slab gives its contact face to −0.1 %.
The error is the sphere error (+0.8 %) plus a triple-line term: near the line where three
phases meet each surface is rounded within half a voxel, which shifts ~0.3 voxel × line
length of area between the pairs; it falls as 1/R relative to the areas.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import xarray as xr

from uqtwin.errors import PhaseError
from uqtwin.microstructure import Microstructure
from uqtwin.morphology.boundaries import interfacial_areas
from uqtwin.morphology.smoothing import DEFAULT_ITERATIONS
from uqtwin.quantities.base import Output, Quantity

__all__ = ["PAIR_SEPARATOR", "interfacial_areas", "pair_names", "specific_interfacial_area"]

#: Separator of the two phase names in a ``pair`` coordinate value.
PAIR_SEPARATOR = "|"


def pair_names(phases: Sequence[str]) -> list[str]:
    """Coordinate values ``"a|b"`` of every unordered pair, in phase order.

    Parameters
    ----------
    phases : sequence of str
        Phase names.

    Returns
    -------
    list of str
        ``"a|b"`` for each pair (a before b in ``phases``), in
        :func:`itertools.combinations` order.

    Examples
    --------
    >>> from uqtwin.quantities.interfaces import pair_names
    >>> pair_names(["pore", "binder", "solid"])
    ['pore|binder', 'pore|solid', 'binder|solid']
    """
    return [f"{a}{PAIR_SEPARATOR}{b}" for a, b in combinations(phases, 2)]


def specific_interfacial_area(
    ms: Microstructure,
    *,
    phases: Sequence[str] | None = None,
    smoothing_iterations: int = DEFAULT_ITERATIONS,
) -> dict[str, xr.DataArray]:
    """Interface area of every pair of phases per total box volume.

    Parameters
    ----------
    ms : Microstructure
        Labelled volume.
    phases : sequence of str, optional
        Phases whose pairs are reported (default: all; at least two).
    smoothing_iterations : int
        Constrained Taubin iterations on the marching-cubes meshes (0: plain marching
        cubes).

    Returns
    -------
    dict
        ``{"specific_interfacial_area": DataArray(pair)}`` in 1/length unit, with
        ``pair`` coordinates such as ``"pore|active"``.
    """
    names = ms.select_phases(phases)
    if len(names) < 2:
        raise PhaseError(f"interfacial areas need at least two phases, got {list(names)}")
    pairs = [(ms.phase_index(a), ms.phase_index(b)) for a, b in combinations(names, 2)]
    areas = interfacial_areas(
        ms.labels, ms.spacing, pairs, n_phases=len(ms.phases),
        smoothing_iterations=smoothing_iterations, areas=ms.cache.boundary_areas,
    )
    da = xr.DataArray(
        areas / ms.total_volume, dims=("pair",), coords={"pair": pair_names(names)}
    )
    return {"specific_interfacial_area": da}


QUANTITY = Quantity(
    name="specific_interfacial_area",
    compute=specific_interfacial_area,
    outputs=(
        Output(
            "specific_interfacial_area",
            ("pair",),
            "1/{length}",
            "specific interfacial area",
            "Area of the interface between two phases per total box volume: "
            "(A(∂i) + A(∂j) − A(∂(i∪j)))/2 with each boundary area measured by "
            "smoothed marching cubes (as specific_surface_area); box sides excluded.",
        ),
    ),
    summary="interface area between each pair of phases per volume",
)

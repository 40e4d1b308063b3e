"""The tortuosity factor of a phase along one axis, from a voxel mask.

``τ = ε D_bulk / D_eff`` along the driven axis: steady diffusion in the phase alone
(``D_bulk = 1``), fixed values on the two outer faces normal to the axis (half a voxel
outside the first and last cell centres, length ``L = n h``: TauFactor's convention,
Cooper et al., *SoftwareX* 5, 2016), no-flux sides, and ``ε`` the total volume fraction
of the phase (including clusters that carry no flux). It is the definition, and the very
solve, of the ``tortuosity_factor`` quantity (:mod:`uqtwin.quantities.transport`): the
same numbers to the bit. A phase without a 6-connected path between the two faces has
``τ = inf`` (:class:`NonPercolatingWarning`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from uqtwin.solvers.diffusion import solve_axis
from uqtwin.solvers.options import SolverOptions

__all__ = ["NonPercolatingWarning", "tortuosity_factor"]

_AXIS_NAMES = ("z", "y", "x")


class NonPercolatingWarning(UserWarning):
    """A phase has no connected path between the two faces of an axis (τ = ∞)."""


def _axis_index(axis: int | str) -> int:
    if isinstance(axis, str):
        if axis not in _AXIS_NAMES:
            raise ValueError(f"axis must be 0, 1, 2, 'z', 'y' or 'x', got {axis!r}")
        return _AXIS_NAMES.index(axis)
    if isinstance(axis, bool) or int(axis) != axis or not 0 <= int(axis) <= 2:
        raise ValueError(f"axis must be 0, 1, 2, 'z', 'y' or 'x', got {axis!r}")
    return int(axis)


def tortuosity_factor(
    mask: np.ndarray,
    axis: int | str,
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
    *,
    options: SolverOptions | None = None,
) -> float:
    """Tortuosity factor ``τ = ε D_bulk / D_eff`` of the phase ``mask`` along ``axis``.

    Steady diffusion in the phase alone, solved by finite volumes with
    multigrid-preconditioned conjugate gradients (:func:`~uqtwin.solvers.solve_axis`):
    fixed values on the two outer faces normal to ``axis`` (half a voxel outside the
    first and last cell centres), no-flux sides; ``ε`` is the volume fraction of the
    whole phase. The same definition and numbers as the ``tortuosity_factor`` quantity.

    Parameters
    ----------
    mask : ndarray of bool, shape (nz, ny, nx)
        The phase (True) in which diffusion takes place.
    axis : {0, 1, 2, "z", "y", "x"}
        Driven axis.
    spacing : sequence of 3 floats
        Voxel size along (z, y, x), in any length unit (τ is dimensionless; anisotropic
        spacing is honoured).
    options : SolverOptions, optional
        Tolerances and solver settings (default ``SolverOptions()``: τ to about 1e-4
        relative; ``periodic`` sides are honoured).

    Returns
    -------
    float
        τ (≥ 1 for an isotropic medium up to the tolerance); ``inf`` with a
        :class:`NonPercolatingWarning` naming the reason when no 6-connected path of the
        phase joins the two faces normal to ``axis`` (or the phase is empty). A solve
        that stops short of its tolerances warns (``RuntimeWarning``).

    Raises
    ------
    ValueError
        If ``mask`` is not 3-D or ``axis`` is not an axis.

    Examples
    --------
    A straight channel along z has τ = 1:

    >>> import numpy as np
    >>> from uqtwin.solvers import tortuosity_factor
    >>> mask = np.zeros((8, 4, 4), dtype=bool)
    >>> mask[:, 1:3, 1:3] = True
    >>> round(tortuosity_factor(mask, "z"), 6)
    1.0

    Blocked by a solid slab, it does not percolate:

    >>> import warnings
    >>> mask[4] = False
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     tau = tortuosity_factor(mask, 0)
    >>> tau, caught[0].category.__name__
    (inf, 'NonPercolatingWarning')
    """
    a = _axis_index(axis)
    mask = np.asarray(mask)
    if mask.ndim != 3:
        raise ValueError(f"mask must be 3-D, got shape {mask.shape}")
    if len(spacing) != 3:
        raise ValueError(f"spacing must have 3 values (z, y, x), got {spacing!r}")
    options = SolverOptions() if options is None else options
    # exactly the quantity's solve: the phase at conductivity 1 (a boolean mask gives
    # the numbers of float32 ones without the copy), the voxel spacing
    k = mask if mask.dtype == bool else mask.astype(np.float32)
    sol = solve_axis(k, tuple(spacing), a, options=options)
    eps = float(mask.mean())
    if not sol.percolates:
        warnings.warn(f"the phase does not percolate along {_AXIS_NAMES[a]} (axis {a}): "
                      f"{sol.reason}; tortuosity factor set to inf",
                      NonPercolatingWarning, stacklevel=2)
        return float("inf")
    if not sol.converged:
        warnings.warn(f"transport solve along {_AXIS_NAMES[a]} did not reach its tolerances: "
                      f"{sol.stop_reason or 'stopped'} after {sol.iterations} iterations "
                      f"(flux mismatch {sol.flux_mismatch:.2e}, change {sol.change:.2e})",
                      RuntimeWarning, stacklevel=2)
    d_eff = sol.effective[a]
    if not d_eff > 0:
        warnings.warn(f"no flux through the phase along {_AXIS_NAMES[a]} (axis {a}); "
                      "tortuosity factor set to inf", NonPercolatingWarning, stacklevel=2)
        return float("inf")
    return float(eps / d_eff)

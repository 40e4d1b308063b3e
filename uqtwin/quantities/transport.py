"""Transport quantities: tortuosity factor, effective diffusivity and effective conductivity.

Three registered quantities share the finite-volume solver of :mod:`uqtwin.solvers`:

``tortuosity_factor``
    τ along z, y, x per phase, whether the phase percolates, and the convergence
    diagnostics.
``effective_diffusivity``
    The 3 x 3 effective diffusivity tensor ``D_eff / D_bulk`` per phase (dimensionless),
    its eigenvalues and principal axes.
``effective_conductivity``
    The electronic conductivity tensor (S/m) of the solid phases together, from the
    material cards, with an optional contact resistance between particles.

``tortuosity_factor`` and ``effective_diffusivity`` come from the same three solves per
phase (one driven along each axis). When both are requested for a microstructure the
solves are done once: they are kept in the microstructure's cache
(:meth:`~uqtwin.microstructure.SampleCache.transport_solves`). With ``warm_start`` the
engine solves the most probable segmentation once per run (the ``prepare`` hook, shared
by both quantities: a :class:`WarmStarts` in ``ms.context[WARM_START_KEY]``) and every
sample starts from its potentials, whatever the order in which samples run.

Conventions (the same as TauFactor's): the phase alone conducts, with ``D_bulk = 1``;
fixed values on the two outer faces normal to the driven axis, half a voxel outside the
first cell centres (length ``L = n h``); insulated sides unless ``periodic``;
``τ_ii = ε D_bulk / D_eff,ii`` with ``ε`` the total volume fraction of the phase
(including clusters that carry no flux). PoreSpy and PuMA fix the values at the first and
last slab centres (length ``L − h``) and PoreSpy divides by the percolating fraction;
their τ therefore differ by up to about 1/n (0.4 % at n = 256). A direction without a
6-connected path through the phase gives ``τ = inf``, ``percolates = False`` and a
:class:`NonPercolatingWarning` naming the phase and axis.

This module is long because the three quantities share their solver settings, warnings
and labelling helpers, and a quantity module may not import another (about 430 lines).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from uqtwin.errors import PhaseError
from uqtwin.materials import property_value
from uqtwin.microstructure import Microstructure, TransportKey
from uqtwin.quantities.base import AXES, Output, Quantity
from uqtwin.solvers import NonPercolatingWarning, SolverOptions, WarmStart, effective_tensor
from uqtwin.volume import unit_scale

__all__ = [
    "WARM_START_KEY",
    "NonPercolatingWarning",
    "WarmStarts",
    "effective_conductivity",
    "effective_diffusivity",
    "tortuosity_factor",
]

PRINCIPAL = (0, 1, 2)


#: Key of the diffusion warm starts in ``ms.context`` (shared by the tortuosity factor
#: and the effective diffusivity).
WARM_START_KEY = "diffusion_warm_start"


@dataclass(frozen=True)
class WarmStarts:
    """The reference microstructure's diffusion solves that warm-start every sample's.

    Parameters
    ----------
    by_phase : mapping of str to tuple
        Per phase, one :class:`~uqtwin.solvers.WarmStart` per driven axis (None where the
        reference does not percolate). Empty when warm starts are off.
    """

    by_phase: Mapping[str, tuple[WarmStart | None, ...]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.by_phase)

    def for_phase(self, phase: str) -> tuple[WarmStart | None, ...] | None:
        """The warm starts of ``phase``, or None if the reference has none for it."""
        return self.by_phase.get(phase)


def _options(tol: float, max_iter: int, periodic: bool) -> SolverOptions:
    p = bool(periodic)
    return SolverOptions(flux_tol=float(tol), change_tol=float(tol), max_iter=int(max_iter),
                         periodic=(p, p, p))


def _solve(ms: Microstructure, phase: str, tol, max_iter, periodic, x0, keep: bool):
    return effective_tensor(ms.mask(phase), ms.spacing,
                            options=_options(tol, max_iter, periodic), x0=x0,
                            keep_warm_start=keep)


def prepare_warm_start(
    reference: Microstructure,
    *,
    phases: Sequence[str] | None = None,
    tol: float = 1e-4,
    max_iter: int = 500,
    periodic: bool = False,
    warm_start: bool = False,
) -> WarmStarts:
    """Warm starts from the reference microstructure's solves, per phase (``prepare`` hook).

    Per phase a tuple (one per driven axis) of :class:`~uqtwin.solvers.WarmStart`: the
    reference's converged potential (each sample's initial guess) and its coarsest-grid
    factorisation (each sample's coarse solver, saving its factorisation), or None where
    the reference does not percolate. Empty unless ``warm_start``. ``tortuosity_factor``
    and ``effective_diffusivity`` share it (``context_key`` :data:`WARM_START_KEY`).
    """
    if not warm_start:
        return WarmStarts()
    return WarmStarts({
        p: tuple(s.warm_start for s in
                 _solve(reference, p, tol, max_iter, periodic, None, True).axes)
        for p in reference.select_phases(phases)
    })


def _phase_solves(ms: Microstructure, phase: str, tol, max_iter, periodic, warm_start):
    key = TransportKey(phase, float(tol), int(max_iter), bool(periodic))
    return ms.cache.transport_solves(key, lambda: _phase_solves_uncached(
        ms, phase, tol, max_iter, periodic, warm_start))


def _phase_solves_uncached(ms, phase, tol, max_iter, periodic, warm_start):
    x0 = None
    if warm_start:
        prepared = ms.context.get(WARM_START_KEY)
        x0 = prepared.for_phase(phase) if prepared else None
    sol = _solve(ms, phase, tol, max_iter, periodic, x0, False)
    eps = float(ms.mask(phase).mean())
    for s in sol.axes:
        if not s.percolates:
            warnings.warn(
                f"phase {phase!r} does not percolate along {AXES[s.axis]} "
                f"(axis {s.axis}): {s.reason}; tortuosity factor set to inf",
                NonPercolatingWarning, stacklevel=5)
        elif not s.converged:
            warnings.warn(f"transport solve for phase {phase!r} {_not_converged(s, tol)}",
                          RuntimeWarning, stacklevel=5)
    tau = np.array([eps / s.effective[s.axis] if s.percolates and s.effective[s.axis] > 0
                    else np.inf for s in sol.axes])
    return {"solution": sol, "tau": tau, "eps": eps}


def _not_converged(s, tol) -> str:
    """The end of the warning for a solve that stopped short of its tolerances."""
    return (f"along {AXES[s.axis]} did not reach tol={tol}: {s.stop_reason or 'stopped'} "
            f"after {s.iterations} iterations (flux mismatch {s.flux_mismatch:.2e}, "
            f"change {s.change:.2e})")


def _da(values, dims, names=None):
    coords = {}
    for d in dims:
        if d == "phase":
            coords[d] = list(names)
        elif d in ("axis", "axis2"):
            coords[d] = list(AXES)
        elif d == "principal":
            coords[d] = list(PRINCIPAL)
    return xr.DataArray(np.asarray(values), dims=dims, coords=coords)


def tortuosity_factor(
    ms: Microstructure,
    *,
    phases: Sequence[str] | None = None,
    tol: float = 1e-4,
    max_iter: int = 500,
    periodic: bool = False,
    warm_start: bool = False,
) -> dict[str, xr.DataArray]:
    """Tortuosity factor of each phase along z, y and x.

    Parameters
    ----------
    ms : Microstructure
        Labelled volume.
    phases : sequence of str, optional
        Phases to report (default: all).
    tol : float
        Relative tolerance on the inflow/outflow mismatch and on the change of the
        effective diffusivity (from the dissipation, whose error is quadratic in the
        potential's) between iterations; 1e-4 gives τ to 1e-4 relative (measured: 1e-6
        to 2e-5; :mod:`uqtwin.solvers.diffusion`).
    max_iter : int
        CG iteration limit per solve.
    periodic : bool
        Periodic instead of insulated side faces.
    warm_start : bool
        Start each sample's solves from the potentials of the most probable
        segmentation, solved once per run by the engine (the answer changes only within
        ``tol``; it saves iterations when samples differ only near interfaces).

    Returns
    -------
    dict
        ``tortuosity_factor`` (phase, axis), dimensionless, ``inf`` where the phase does
        not percolate; ``percolates`` (phase, axis); ``diffusion_flux_mismatch``,
        ``diffusion_change`` and ``diffusion_iterations`` (phase, axis): the achieved
        convergence.
    """
    names = ms.select_phases(phases)
    res = [_phase_solves(ms, p, tol, max_iter, periodic, warm_start) for p in names]
    axes = [r["solution"].axes for r in res]
    return {
        "tortuosity_factor": _da([r["tau"] for r in res], ("phase", "axis"), names),
        "percolates": _da([[s.percolates for s in a] for a in axes], ("phase", "axis"), names),
        "diffusion_flux_mismatch": _da([[s.flux_mismatch for s in a] for a in axes],
                                       ("phase", "axis"), names),
        "diffusion_change": _da([[s.change for s in a] for a in axes], ("phase", "axis"), names),
        "diffusion_iterations": _da([[s.iterations for s in a] for a in axes],
                                    ("phase", "axis"), names),
    }


def effective_diffusivity(
    ms: Microstructure,
    *,
    phases: Sequence[str] | None = None,
    tol: float = 1e-4,
    max_iter: int = 500,
    periodic: bool = False,
    warm_start: bool = False,
) -> dict[str, xr.DataArray]:
    """Effective diffusivity tensor of each phase, relative to its bulk diffusivity.

    Parameters are those of :func:`tortuosity_factor` (the solves are shared).

    Returns
    -------
    dict
        ``effective_diffusivity`` (phase, axis, axis2): ``D_eff[axis, axis2] / D_bulk``,
        the flux along ``axis`` for a unit gradient along ``axis2``;
        ``diffusivity_eigenvalues`` (phase, principal) of its symmetric part, ascending;
        ``diffusivity_principal_axes`` (phase, axis, principal): unit eigenvectors
        (columns) with components along z, y, x.
    """
    names = ms.select_phases(phases)
    res = [_phase_solves(ms, p, tol, max_iter, periodic, warm_start)["solution"] for p in names]
    return {
        "effective_diffusivity": _da([r.tensor for r in res], ("phase", "axis", "axis2"),
                                     names),
        "diffusivity_eigenvalues": _da([r.eigenvalues for r in res], ("phase", "principal"),
                                       names),
        "diffusivity_principal_axes": _da([r.principal_axes for r in res],
                                          ("phase", "axis", "principal"), names),
    }


def effective_conductivity(
    ms: Microstructure,
    *,
    phases: Sequence[str] | None = None,
    conductivities: Mapping[str, float] | None = None,
    contact_resistance: float = 0.0,
    particle_phase: str | None = None,
    h: float | None = None,
    tol: float = 1e-4,
    max_iter: int = 500,
    periodic: bool = False,
) -> dict[str, xr.DataArray]:
    """Effective electronic conductivity tensor of the solid phases together (S/m).

    Parameters
    ----------
    ms : Microstructure
        Labelled volume.
    phases : sequence of str, optional
        Not used (the tensor is of the whole electrode); accepted for uniformity.
    conductivities : mapping, optional
        Electronic conductivity per phase name, S/m; overrides the material cards
        (``electronic_conductivity``). Phases with neither are insulating (0).
    contact_resistance : float
        Area-specific electronic contact resistance between two particles of
        ``particle_phase``, Ω·m². A face between two particles gets the conductance
        ``1 / (1/g + R_c / A_face)``. Needs a physical length unit.
    particle_phase : str, optional
        Phase split into particles for the contact resistance (the watershed of
        :func:`uqtwin.morphology.particle_labels`, shared with the particle sizes);
        default: the phase whose card has ``kind = "active"``.
    h : float, optional
        Watershed marker depth in length units (see ``particle_labels``).
    tol, max_iter, periodic
        As in :func:`tortuosity_factor`. At the contrast of electrode phases (binder
        10⁴ times NMC) with binder islands the solver deflates the islands
        (:mod:`uqtwin.solvers.deflation`); a solve that stops short of ``tol`` warns
        (RuntimeWarning) as the diffusion solves do.

    Returns
    -------
    dict
        ``effective_conductivity`` (axis, axis2), S/m; ``conductivity_eigenvalues``
        (principal), S/m; ``conduction_percolates`` (axis). NaN (with a warning) when no
        phase has a conductivity, so that "all quantities" works on any volume.
    """
    del phases
    sigma = np.zeros(len(ms.phases))
    for i, p in enumerate(ms.phases):
        if conductivities and p in conductivities:
            sigma[i] = float(conductivities[p])
        else:
            sigma[i] = property_value(ms.materials.get(p, {}), "electronic_conductivity", 0.0)
    if not (sigma > 0).any():
        # not an error: "all quantities" must work on volumes without material cards
        warnings.warn(
            "effective_conductivity: no phase has an electronic conductivity (material cards "
            f"of {list(ms.phases)} or the option 'conductivities'); reporting NaN",
            RuntimeWarning, stacklevel=2)
        nan3 = np.full(3, np.nan)
        return {
            "effective_conductivity": _da(np.full((3, 3), np.nan), ("axis", "axis2")),
            "conductivity_eigenvalues": _da(nan3, ("principal",)),
            "conduction_percolates": _da(np.zeros(3, dtype=bool), ("axis",)),
        }
    k = sigma[ms.labels].astype(np.float32)
    spacing = ms.spacing
    particles = None
    if contact_resistance > 0:
        if particle_phase is None:
            active = [p for p in ms.phases if ms.materials.get(p, {}).get("kind") == "active"]
            if len(active) != 1:
                raise PhaseError(
                    "contact_resistance needs 'particle_phase' (no single phase has a card "
                    f"with kind = 'active'; phases are {list(ms.phases)})")
            particle_phase = active[0]
        particles = ms.cache.particles(ms.phase_index(particle_phase), h)
        # conductances in S (σ in S/m, lengths in m) so that R_c/A is in Ω
        spacing = tuple(s * unit_scale(ms.unit, "m") for s in spacing)
    sol = effective_tensor(k, spacing, options=_options(tol, max_iter, periodic),
                           particles=particles, contact_resistance=float(contact_resistance))
    for s in sol.axes:
        if not s.percolates:
            warnings.warn(f"the conducting phases do not percolate along {AXES[s.axis]}: "
                          f"{s.reason}", NonPercolatingWarning, stacklevel=2)
        elif not s.converged:
            warnings.warn(f"conduction solve {_not_converged(s, tol)}", RuntimeWarning,
                          stacklevel=2)
    return {
        "effective_conductivity": _da(sol.tensor, ("axis", "axis2")),
        "conductivity_eigenvalues": _da(sol.eigenvalues, ("principal",)),
        "conduction_percolates": _da([s.percolates for s in sol.axes], ("axis",)),
    }


_DIAG = ("phase", "axis")

TORTUOSITY = Quantity(
    name="tortuosity_factor",
    compute=tortuosity_factor,
    outputs=(
        Output("tortuosity_factor", _DIAG, "1", "tortuosity factor",
               "τ = ε D_bulk / D_eff along each axis, ε the total volume fraction of the "
               "phase; steady diffusion in the phase alone, fixed values on the two outer "
               "faces (half a voxel outside the first cell centres), insulated sides; inf "
               "where the phase does not percolate."),
        Output("percolates", _DIAG, "1", "percolates",
               "Whether a 6-connected path of the phase joins the two faces of the axis."),
        Output("diffusion_flux_mismatch", _DIAG, "1", "flux mismatch",
               "Achieved |inflow − outflow| / mean flow of the diffusion solve.",
               diagnostic=True),
        Output("diffusion_change", _DIAG, "1", "last relative change",
               "Relative change of D_eff in the last iteration of the diffusion solve.",
               diagnostic=True),
        Output("diffusion_iterations", _DIAG, "1", "solver iterations",
               "Multigrid-preconditioned CG iterations of the diffusion solve.",
               diagnostic=True),
    ),
    summary="tortuosity factor of each phase along z, y, x (finite-volume diffusion)",
    prepare=prepare_warm_start,
    context_key=WARM_START_KEY,
)

DIFFUSIVITY = Quantity(
    name="effective_diffusivity",
    compute=effective_diffusivity,
    outputs=(
        Output("effective_diffusivity", ("phase", "axis", "axis2"), "1",
               "relative effective diffusivity",
               "D_eff / D_bulk (dimensionless): volume-averaged flux along 'axis' for a unit "
               "mean gradient imposed along 'axis2', diffusion in the phase alone; the "
               "same solves as tortuosity_factor."),
        Output("diffusivity_eigenvalues", ("phase", "principal"), "1",
               "principal relative diffusivities",
               "Eigenvalues (ascending) of the symmetric part of D_eff / D_bulk."),
        Output("diffusivity_principal_axes", ("phase", "axis", "principal"), "1",
               "principal axes of diffusion",
               "Unit eigenvectors (columns) of the symmetric part of D_eff / D_bulk, "
               "components along z, y, x (each defined up to its sign).", diagnostic=True),
    ),
    summary="effective diffusivity tensor D_eff/D_bulk of each phase",
    prepare=prepare_warm_start,
    context_key=WARM_START_KEY,
)

CONDUCTIVITY = Quantity(
    name="effective_conductivity",
    compute=effective_conductivity,
    outputs=(
        Output("effective_conductivity", ("axis", "axis2"), "S/m",
               "effective electronic conductivity",
               "Electronic conductivity tensor of the electrode: all phases with their "
               "card (or option) conductivities, harmonic means across phase boundaries, "
               "optional contact resistance between active particles."),
        Output("conductivity_eigenvalues", ("principal",), "S/m",
               "principal electronic conductivities",
               "Eigenvalues (ascending) of the symmetric part of the conductivity tensor."),
        Output("conduction_percolates", ("axis",), "1", "solid percolates",
               "Whether the conducting phases join the two faces of the axis."),
    ),
    summary="effective electronic conductivity tensor (S/m) from material cards",
)

QUANTITY = TORTUOSITY

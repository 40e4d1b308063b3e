"""Options of the diffusion solver (one frozen dataclass, validated once)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CYCLE_INDEX", "SolverOptions"]

# cycles on each coarse problem per visit of the multigrid cycle
CYCLE_INDEX = {"V": 1, "W": 2}


@dataclass(frozen=True)
class SolverOptions:
    """Options of the diffusion solver.

    Parameters
    ----------
    flux_tol : float
        Stop when ``|F_in − F_out| / F̄`` is below this (and ``change_tol`` holds).
    change_tol : float
        Stop when the relative change of the effective property (from the dissipation,
        see :mod:`uqtwin.solvers.diffusion`) between two iterations is below this, and so is the
        change still to come estimated from the ratio of the last two changes. The
        defaults give τ to 1e-4 relative (measured: 1e-6 to 2e-5).
    max_iter : int
        CG iteration limit (a result that hits it has ``converged=False``).
    periodic : tuple of 3 bools
        Periodic sides (the driven axis is never periodic).
    sweeps : int
        Red-black Gauss-Seidel sweeps before and after the coarse-grid correction on the
        finest grid.
    coarse_sweeps : int
        The same on the coarser grids.
    cycle : {"W", "V"}
        Multigrid cycle (:mod:`uqtwin.solvers.multigrid`). The W-cycle with 2/2 sweeps
        was measured fastest (``benchmarks/README.md``). Piecewise-constant transfers
        handle the smoothest error worst, and that is what limits CG (and the
        inflow/outflow balance); the second visit of each coarse grid removes it for
        ~25 % more work per cycle.
    coarsest_size : int
        Coarsen until a grid has at most this many cells; that one is solved directly
        (sparse LU). 512 was measured fastest (``benchmarks/README.md``): a larger
        coarsest grid's factorisation costs more than the cycles on it save.
    dtype : str
        Storage type of the potential and the conductances ("float32" or "float64").
    deflation : {"auto", "off"}
        "auto": add a coarse space of the high-conductivity clusters to the multigrid
        preconditioner when the medium has a high contrast and disconnected
        high-conductivity clusters (:mod:`uqtwin.solvers.deflation`, which states the
        rule); "off": never. Either way CG converges to the same answer under the same
        stopping test; media the rule leaves out (any single-phase field) are solved
        exactly as with "off". Without the coarse space CG can meet its stopping test
        while island modes it has not yet found still carry the error (measurements:
        ``benchmarks/deflation.py`` and ``benchmarks/README.md``).
    deflation_contrast : float
        Smallest ``k_max / k_min`` of the cells in the solve that "auto" deflates.
    deflation_min_clusters : int
        Fewest clusters of high cells (``k ≥ √(k_min k_max)``) not pinned by a driven
        face that "auto" deflates (per driven axis).
    """

    flux_tol: float = 1e-4
    change_tol: float = 1e-4
    max_iter: int = 500
    periodic: tuple[bool, bool, bool] = (False, False, False)
    sweeps: int = 2
    coarse_sweeps: int = 2
    cycle: str = "W"
    coarsest_size: int = 512
    dtype: str = "float32"
    deflation: str = "auto"
    deflation_contrast: float = 100.0
    deflation_min_clusters: int = 2

    def __post_init__(self) -> None:
        if self.cycle not in CYCLE_INDEX:
            raise ValueError(f"cycle must be 'W' or 'V', got {self.cycle!r}")
        if self.deflation not in ("auto", "off"):
            raise ValueError(f"deflation must be 'auto' or 'off', got {self.deflation!r}")
        if self.sweeps < 1 or self.coarse_sweeps < 1:
            raise ValueError(f"sweeps and coarse_sweeps must be >= 1, got {self.sweeps}, "
                             f"{self.coarse_sweeps}")

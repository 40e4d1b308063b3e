"""Numerical solvers on voxel grids (numpy arrays in, numpy arrays out).

:mod:`~uqtwin.solvers.diffusion` solves steady diffusion / conduction with finite volumes,
matrix-free (numba kernels in :mod:`~uqtwin.solvers.operators`), by conjugate gradients
(:mod:`~uqtwin.solvers.cg`) preconditioned with geometric multigrid
(:mod:`~uqtwin.solvers.multigrid`), to which media of high contrast with isolated
high-conductivity clusters (:mod:`~uqtwin.solvers.clusters`) get a coarse space of those
clusters (:mod:`~uqtwin.solvers.deflation`). The solvers know nothing of microstructures or
material cards; :mod:`uqtwin.quantities.transport` maps those onto arrays.
"""

from uqtwin.solvers.diffusion import (
    AxisSolution,
    SolverOptions,
    TensorSolution,
    WarmStart,
    connected_to_faces,
    effective_tensor,
    label_clusters,
    solve_axis,
)

__all__ = [
    "AxisSolution",
    "SolverOptions",
    "TensorSolution",
    "WarmStart",
    "connected_to_faces",
    "effective_tensor",
    "label_clusters",
    "solve_axis",
]

"""Numerical solvers on voxel grids (numpy arrays in, numpy arrays out).

Steady diffusion / conduction ``∇·(k ∇u) = 0`` by 7-point finite volumes, matrix-free,
solved by conjugate gradients preconditioned with geometric multigrid, deflated over
isolated high-conductivity clusters at high contrast. The solvers know nothing of
microstructures or material cards; :mod:`uqtwin.quantities.transport` maps those onto
arrays.

Public API (this package): :func:`tortuosity_factor` (τ of a mask along an axis),
:func:`solve_axis` and :func:`effective_tensor` (any conductivity field), their options
(:class:`SolverOptions`) and results (:class:`AxisSolution`, :class:`TensorSolution`,
:class:`WarmStart`), and the percolation helpers :func:`connected_to_faces` and
:func:`label_clusters`.

Modules, one idea each (their ``__all__`` are the building blocks):

=========================================  ==============================================
:mod:`~uqtwin.solvers.diffusion`           solve along one axis, the effective tensor
:mod:`~uqtwin.solvers.tortuosity`          τ of a mask
:mod:`~uqtwin.solvers.relations`           the Bruggeman relation τ = ε^(1 − b)
:mod:`~uqtwin.solvers.options`             :class:`SolverOptions`
:mod:`~uqtwin.solvers.solutions`           what a solve returns, warm starts
:mod:`~uqtwin.solvers.percolation`         voxels joining the two driven faces
:mod:`~uqtwin.solvers.medium`              a medium prepared once, driven per axis
:mod:`~uqtwin.solvers.axis_solve`          one driven solve (preconditioned CG)
:mod:`~uqtwin.solvers.stopping`            the physical stopping test
:mod:`~uqtwin.solvers.fluxes`              fluxes, dissipation, effective column
:mod:`~uqtwin.solvers.layout`              padded arrays and ghost cells
:mod:`~uqtwin.solvers.conductances`        the face rule (harmonic, fixed value, contact)
:mod:`~uqtwin.solvers.binary`              one conductivity: the faces implied by a mask
:mod:`~uqtwin.solvers.operators`           the matrix-free operator and right-hand side
:mod:`~uqtwin.solvers.smoothers`           red-black Gauss-Seidel, relaxation of cells
:mod:`~uqtwin.solvers.transfer`            multigrid restriction, prolongation, coarsening
:mod:`~uqtwin.solvers.multigrid`           the multigrid cycle
:mod:`~uqtwin.solvers.vectors`             reproducible CG vector kernels
:mod:`~uqtwin.solvers.cg`                  preconditioned conjugate gradients
:mod:`~uqtwin.solvers.clusters`            high-conductivity clusters to deflate
:mod:`~uqtwin.solvers.deflation`           the deflated (balancing) preconditioner
=========================================  ==============================================

Reproducibility
---------------
No kernel uses ``fastmath``. With its value-changing flags (``reassoc``, ``contract``) a
parallel kernel's result depended on how LLVM happened to optimise the parfor body, and
the code compiled in the process and the code loaded from numba's cache were not
optimised alike (transport results differed by ~1e-5 relative). Without those flags
every optimisation must keep the IEEE result. The stencil loops vectorise without them
(no reduction); the reductions keep one accumulator per column of a plane, whose lanes
are independent and vectorise without reassociation, and sum the columns and the planes
in order (:mod:`~uqtwin.solvers.vectors`): the same bits for any thread count.
"""

from uqtwin.solvers.diffusion import effective_tensor, solve_axis
from uqtwin.solvers.options import SolverOptions
from uqtwin.solvers.percolation import connected_to_faces, label_clusters
from uqtwin.solvers.relations import bruggeman_exponent
from uqtwin.solvers.solutions import AxisSolution, TensorSolution, WarmStart
from uqtwin.solvers.tortuosity import NonPercolatingWarning, tortuosity_factor

__all__ = [
    "AxisSolution",
    "NonPercolatingWarning",
    "SolverOptions",
    "TensorSolution",
    "WarmStart",
    "bruggeman_exponent",
    "connected_to_faces",
    "effective_tensor",
    "label_clusters",
    "solve_axis",
    "tortuosity_factor",
]

"""Deflation of high-conductivity clusters: a coarse space for high-contrast media.

Why
---
In a medium of contrast ``c = k_max / k_min`` (carbon-binder at 100 S/m inside NMC at
0.01 S/m: ``c = 10⁴``), every cluster of high-conductivity cells that the low phase
isolates carries a potential that is nearly constant over the cluster. The indicator of
such a cluster is a near-null vector of the operator ``A``: its energy is the conductance
of the few low-conductivity faces around the cluster, ``c`` times smaller than that of a
generic vector of the same size. Geometric multigrid with piecewise-constant transfers
does not represent these vectors (the clusters do not follow the coarse cells), so each
isolated cluster leaves one small eigenvalue of the preconditioned operator, and CG
needs about one iteration per eigenvalue it has to resolve: thousands of islands take
hundreds of iterations and the float32 recurrence reaches its rounding floor first.

What
----
The clusters' indicators ``Z`` (one column per cluster, piecewise constant) form a coarse
space. The coarse operator ``E = Zᵀ A Z`` is the conductance of the faces around each
cluster (diagonal: two clusters never share a face, they would be one); ``A Z`` is
nonzero only on the cells on either side of those faces. The multigrid cycle ``M⁻¹`` is
combined with the coarse solve ``Q = Z E⁻¹ Zᵀ`` in the balancing (BNN) form

    ``M_d⁻¹ = (I − Q A) M⁻¹ (I − A Q) + Q``

(Mandel 1993; the "deflation" of Nicolaides 1987 and of Vuik, Segal & Meijerink 2004 for
bubbly flow, whose high-contrast bubbles play the role of the islands; the variants are
compared by Tang, Nabben, Vuik & Erlangga 2009, who find BNN the robust one under an
inexact ``M`` and rounding). ``M_d`` is SPD for any SPD ``M`` and any full-rank ``Z``, so
the unchanged CG (:func:`~uqtwin.solvers.cg.pcg`) converges to the same answer under the
same stopping test; the spectrum of ``M_d⁻¹ A`` no longer has the islands' eigenvalues.
Per application it costs one multigrid cycle plus gathers and scatters on the cluster
cells and their neighbours (``A Z`` is stored in float64 as a sparse matrix on those
cells only, exact: the operator applied to an indicator in float32 would leave rounding
noise of ``ε k_max`` on every interior cell, as large as the true values at the rim).

When (the rule of ``SolverOptions(deflation="auto")``)
-----------------------------------------------------
Let ``k_min``, ``k_max`` be the smallest and largest positive conductivities of the cells
in the solve. Deflation is used in a solve when

1. ``k_max ≥ contrast · k_min`` (``deflation_contrast``, default 100), and
2. the cells with ``k ≥ √(k_min k_max)`` (the geometric midpoint of the range: with two
   phases exactly the high one) form at least ``min_clusters``
   (``deflation_min_clusters``, default 2: "disconnected islands") 6-connected
   clusters (:func:`~uqtwin.solvers.clusters.high_conductivity_clusters`) that remain
   once clusters touching across a periodic side are joined and clusters pinned by a
   driven face are left out (:func:`~uqtwin.solvers.clusters.isolated_clusters`; the
   count is per driven axis).

Otherwise the solve is exactly (bit for bit) the one with ``deflation="off"``:
single-phase pore diffusion for τ has ``k_max = k_min``. Clusters are labelled with
``scipy.ndimage.label`` (cc3d is not installed; ndimage is what the rest of the solver
uses) and joined across periodic sides with ``scipy.sparse.csgraph``
(:mod:`uqtwin.solvers.clusters`). Face conductances
lowered by a contact resistance do not split a cluster: its indicator is still a valid
deflation vector, if a less effective one.

Its cost and effect are measured by ``benchmarks/deflation.py`` (``benchmarks/README.md``).

Everything here is serial (numba kernels without ``prange`` or ``fastmath``, scipy's
sparse assembly), summed in index order: the same bits for any number of threads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numba import njit
from scipy.sparse.linalg import splu

__all__ = [
    "ClusterSpace",
    "DeflatedPreconditioner",
    "cluster_space",
]


def _padded(flat: np.ndarray, shape) -> np.ndarray:
    """Flat indices of cells of ``shape`` -> flat indices into the padded array."""
    ny, nx = shape[1], shape[2]
    k, rest = np.divmod(flat, ny * nx)
    j, i = np.divmod(rest, nx)
    return ((k + 1) * (ny + 2) + j + 1) * (nx + 2) + i + 1


# Serial kernels (no prange, no fastmath): every sum runs in index order, so the bits do
# not depend on the thread count or on how the code was compiled; several times faster
# than numpy's fancy indexing (measured), which matters once per CG iteration.
@njit(cache=True, nogil=True)
def _segment_sums(v, cells, starts, out):  # pragma: no cover - compiled
    """``out[c] = Σ v[cells[starts[c]:starts[c + 1]]]`` in float64."""
    m = out.size
    for c in range(m):
        end = starts[c + 1] if c + 1 < m else cells.size
        acc = 0.0
        for p in range(starts[c], end):
            acc += np.float64(v[cells[p]])
        out[c] = acc


@njit(cache=True, nogil=True)
def _subtract_rows(s, rows, indptr, indices, data, c):  # pragma: no cover - compiled
    """``s[rows] -= (A Z) c`` with ``A Z`` in CSR over ``rows``."""
    for i in range(rows.size):
        acc = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            acc += data[p] * c[indices[p]]
        s[rows[i]] = s[rows[i]] - acc


@njit(cache=True, nogil=True)
def _transpose_product(z, rows, indptr, indices, data, out):  # pragma: no cover - compiled
    """``out = (A Z)ᵀ z[rows]``, accumulated row by row."""
    out[:] = 0.0
    for i in range(rows.size):
        zi = np.float64(z[rows[i]])
        for p in range(indptr[i], indptr[i + 1]):
            out[indices[p]] += data[p] * zi


@njit(cache=True, nogil=True)
def _gather(v, idx, out):  # pragma: no cover - compiled
    """``out = v[idx]``."""
    for p in range(idx.size):
        out[p] = v[idx[p]]


@njit(cache=True, nogil=True)
def _scatter(v, idx, values):  # pragma: no cover - compiled
    """``v[idx] = values``."""
    for p in range(idx.size):
        v[idx[p]] = values[p]


@njit(cache=True, nogil=True)
def _scatter_add(z, cells, owner, d):  # pragma: no cover - compiled
    """``z[cells] += d[owner]``."""
    for p in range(cells.size):
        z[cells[p]] += d[owner[p]]


@dataclass(frozen=True, eq=False)
class ClusterSpace:
    """The coarse space of piecewise-constant cluster vectors ``Z`` for one operator.

    Attributes
    ----------
    size : int
        Number of clusters (columns of ``Z``).
    cells : ndarray of int64
        Padded flat indices of the cluster cells, grouped by cluster, ascending within.
    starts : ndarray of int64
        Position in ``cells`` where each cluster's cells start.
    owner : ndarray of int64
        Cluster (0-based) of each entry of ``cells``.
    rows : ndarray of int64
        Padded flat indices of the cells where ``A Z`` is nonzero.
    az : scipy.sparse.csr_matrix
        ``A Z`` on ``rows`` (float64, exact for the float32 conductances).
    coarse : ndarray or scipy SuperLU
        ``1 / diag(E)`` when ``E = Zᵀ A Z`` is diagonal (always, for the clusters of
        :mod:`uqtwin.solvers.clusters`), else the factorisation of ``E``.
    """

    size: int
    cells: np.ndarray
    starts: np.ndarray
    owner: np.ndarray
    rows: np.ndarray
    az: sp.csr_matrix
    coarse: object

    def project(self, v: np.ndarray) -> np.ndarray:
        """``Zᵀ v`` (float64) for a padded array ``v``."""
        out = np.empty(self.size)
        _segment_sums(v.reshape(-1), self.cells, self.starts, out)
        return out

    def solve(self, c: np.ndarray) -> np.ndarray:
        """``E⁻¹ c``."""
        if isinstance(self.coarse, np.ndarray):
            return self.coarse * c
        return self.coarse.solve(c)


@njit(cache=True, nogil=True)
def _rim_kernel(labels, gz, gy, gx, periodic, rows, cols, vals):  # pragma: no cover
    """Walk the faces of the cluster cells; write the entries of ``A Z`` if ``rows`` has
    room for them, and return how many there are (call once with empty arrays to size).

    Serial, in cell order, without temporaries the size of the volume (a 500³ solve
    would need several GB for numpy's index arrays and masks).
    """
    nz, ny, nx = labels.shape
    dims = (nz, ny, nx)
    fill = rows.size > 0
    n = 0
    for z in range(nz):
        for y in range(ny):
            for x in range(nx):
                la = labels[z, y, x]
                if la <= 0:
                    continue
                here = (z * ny + y) * nx + x
                for a in range(3):
                    for side in range(2):  # lower face, upper face
                        pos = (z, y, x)[a]
                        if a == 0:
                            gf = gz[z + side, y, x]
                        elif a == 1:
                            gf = gy[z, y + side, x]
                        else:
                            gf = gx[z, y, x + side]
                        if gf <= 0:
                            continue
                        q = pos - 1 + 2 * side
                        if q < 0 or q >= dims[a]:
                            if not periodic[a]:  # a fixed value behind the face
                                if fill:
                                    rows[n], cols[n], vals[n] = here, la - 1, gf
                                n += 1
                                continue
                            q = q % dims[a]
                        nb = (q, y, x) if a == 0 else ((z, q, x) if a == 1 else (z, y, q))
                        if labels[nb] == la:
                            continue  # inside the cluster: A of a constant is 0
                        if fill:
                            rows[n], cols[n], vals[n] = here, la - 1, gf
                            rows[n + 1] = (nb[0] * ny + nb[1]) * nx + nb[2]
                            cols[n + 1], vals[n + 1] = la - 1, -np.float64(gf)
                        n += 2
    return n


def _face_entries(labels, g, periodic):
    """``(row, cluster, value)`` of the nonzeros of ``A Z``, unpadded flat rows.

    A face of conductance ``G`` between a cell of cluster ``a`` and a cell not in ``a``
    adds ``+G`` at the former and ``−G`` at the latter in column ``a``; an outer face that
    is not periodic (fixed value behind it, or ``G = 0`` if insulated) adds ``+G`` at its
    cell. Faces inside a cluster add nothing: ``A`` of a constant is 0 there, exactly.
    """
    labels = np.ascontiguousarray(labels, dtype=np.int32)
    flags = np.array([bool(p) for p in periodic])
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    n = _rim_kernel(labels, *g, flags, *empty)
    rows, cols, vals = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n)
    _rim_kernel(labels, *g, flags, rows, cols, vals)
    return rows, cols, vals


def cluster_space(labels: np.ndarray, m: int, g, periodic=(False, False, False)) -> ClusterSpace:
    """The coarse space of the clusters ``labels`` for the operator of conductances ``g``.

    Parameters
    ----------
    labels : ndarray of int, shape (nz, ny, nx)
        Cluster of every cell, ``1..m`` (0 = none); clusters touching across a periodic
        side must already be joined
        (:func:`~uqtwin.solvers.clusters.join_periodic_clusters`), and every cluster
        must be coupled to something (a face to another cell or a non-periodic outer
        face of positive conductance), which holds for cells of a solve.
    m : int
        Number of clusters.
    g : tuple of 3 ndarrays
        Face conductances ``(gz, gy, gx)`` of the operator, driven faces included
        (:mod:`uqtwin.solvers.conductances`).
    periodic : tuple of 3 bools
        Periodic axes of the operator.

    Returns
    -------
    ClusterSpace

    Examples
    --------
    >>> from uqtwin.solvers.clusters import high_conductivity_clusters
    >>> from uqtwin.solvers.conductances import face_conductances
    >>> k = np.full((3, 1, 1), 0.01)
    >>> k[1] = 100.0
    >>> labels, m = high_conductivity_clusters(k, min_clusters=1)
    >>> space = cluster_space(labels, m, face_conductances(k, (1, 1, 1), 0))
    >>> round(float(1 / space.coarse[0]), 6)  # two faces of 2·0.01·100/100.01 in E
    0.039996
    """
    shape = labels.shape
    rows, cols, vals = _face_entries(labels, g, periodic)
    flat = labels.ravel()
    # E = Zᵀ (A Z): the entries of A Z on cells of a cluster, summed per cluster
    in_cluster = flat[rows] > 0
    e = sp.coo_matrix((vals[in_cluster], (flat[rows[in_cluster]].astype(np.int64) - 1,
                                          cols[in_cluster])), shape=(m, m)).tocsr()
    e.sum_duplicates()
    diag = e.diagonal()
    if np.any(diag <= 0):
        raise ValueError("a cluster is coupled to nothing: it is not part of the solve")
    off = e - sp.diags(diag)
    off.eliminate_zeros()
    coarse = 1.0 / diag if off.nnz == 0 else splu(e.tocsc())
    unique_rows, pos = np.unique(rows, return_inverse=True)
    az = sp.coo_matrix((vals, (pos, cols)), shape=(unique_rows.size, m)).tocsr()
    az.sum_duplicates()
    cells = np.flatnonzero(flat)
    order = np.argsort(flat[cells], kind="stable")
    cells = cells[order]
    owner = flat[cells].astype(np.int64) - 1
    starts = np.searchsorted(owner, np.arange(m))
    return ClusterSpace(m, _padded(cells, shape), starts, owner, _padded(unique_rows, shape),
                        az, coarse)


@dataclass(frozen=True, eq=False)
class DeflatedPreconditioner:
    """``M_d⁻¹ = (I − Q A) M⁻¹ (I − A Q) + Q`` with ``Q = Z E⁻¹ Zᵀ`` (module docstring).

    Parameters
    ----------
    inner : callable
        ``inner(r, z)`` writes ``M⁻¹ r`` into ``z`` and only reads ``r`` (e.g.
        :meth:`~uqtwin.solvers.multigrid.MultigridPreconditioner.apply`).
    space : ClusterSpace
        The cluster vectors.

    Examples
    --------
    >>> from uqtwin.solvers.clusters import high_conductivity_clusters
    >>> from uqtwin.solvers.conductances import face_conductances
    >>> from uqtwin.solvers.layout import padded_zeros
    >>> k = np.full((4, 1, 1), 0.01)
    >>> k[1:3] = 100.0
    >>> labels, m = high_conductivity_clusters(k, min_clusters=1)
    >>> space = cluster_space(labels, m, face_conductances(k, (1, 1, 1), 0))
    >>> jacobi = lambda r, z: np.copyto(z, r)  # any SPD M
    >>> pre = DeflatedPreconditioner(jacobi, space)
    >>> r, z = padded_zeros(k.shape, np.float64), padded_zeros(k.shape, np.float64)
    >>> r[2, 1, 1] = 1.0
    >>> pre.apply(r, z)
    >>> bool(z[2, 1, 1] > 0), float(r.sum())
    (True, 1.0)
    """

    inner: Callable[[np.ndarray, np.ndarray], None]
    space: ClusterSpace

    def apply(self, r: np.ndarray, z: np.ndarray) -> None:
        """Write ``M_d⁻¹ r`` into ``z`` (padded arrays).

        ``(I − A Q) r`` differs from ``r`` only on the rim cells: it is formed in ``r``
        itself and the rim values are put back, bit for bit, before returning (a copy of
        the whole residual per iteration cost 6 % of a 64³ cycle, measured).
        """
        sp_ = self.space
        az = sp_.az
        c1 = sp_.solve(sp_.project(r))  # Q r = Z c1
        rf = r.reshape(-1)
        saved = np.empty(sp_.rows.size, dtype=r.dtype)
        _gather(rf, sp_.rows, saved)
        try:
            _subtract_rows(rf, sp_.rows, az.indptr, az.indices, az.data, c1)
            self.inner(r, z)  # t = M⁻¹ (I − A Q) r
        finally:
            _scatter(rf, sp_.rows, saved)
        zat = np.empty(sp_.size)
        _transpose_product(z.reshape(-1), sp_.rows, az.indptr, az.indices, az.data, zat)
        c2 = sp_.solve(zat)  # Q A t = Z c2
        _scatter_add(z.reshape(-1), sp_.cells, sp_.owner, c1 - c2)  # t − Q A t + Q r

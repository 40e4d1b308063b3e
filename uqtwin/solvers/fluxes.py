"""Fluxes and dissipation of a solved potential, and the effective conductivity from them.

The effective tensor (column ``a`` from the solve driven along ``a``) is
``K_ba = ⟨j_b⟩ L_a / ΔU``: the volume average of the flux density along ``b`` (all faces
normal to ``b``, weighted by their control volumes, :func:`face_fluxes`) times the length
over the potential drop. The diagonal ``K_aa`` is taken from the dissipation instead,
``K_aa = Σ_faces G (Δu)² L_a / (A_a ΔU²)`` (:func:`face_energy`), which for the exact
solution equals the flux through either face times ``L_a / (A_a ΔU)``. For any other
potential with the same face values it is larger by exactly ``‖u − u*‖²_A L_a / (A_a ΔU²)``
(Dirichlet's principle): the error is one-sided (``K_aa`` high, τ low) and *quadratic* in
the error of the potential, where the boundary fluxes' is linear. CG minimises that very
norm, so the dissipation converges about twice as fast as the fluxes.

All sums are taken per plane and then in order (:func:`~uqtwin.solvers.vectors.serial_sum`),
so the numbers do not depend on the number of threads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from uqtwin.solvers.binary import mask_face, mask_faces
from uqtwin.solvers.layout import fill_ghosts
from uqtwin.solvers.vectors import serial_sum

__all__ = [
    "DrivenFaces",
    "boundary_fluxes",
    "face_energy",
    "face_fluxes",
    "mask_face_energy",
    "mask_face_fluxes",
]


@dataclass(frozen=True, eq=False)
class DrivenFaces:
    """The flux bookkeeping of a solve driven along ``axis`` (unit drop, inlet at face 0).

    Attributes
    ----------
    g : tuple of 3 ndarrays
        Face conductances, driven along ``axis``.
    axis : int
        Driven axis.
    periodic : tuple of 3 bools
        Periodic axes of the solve.
    spacing : tuple of 3 floats
        Voxel size.
    inlet, outlet : ndarray of float64
        Conductances of the inlet and outlet faces.
    weights : tuple of 3 ndarrays
        Per-face-layer weights of :func:`face_fluxes`.
    energy_weights : tuple of 3 ndarrays
        Per-face-layer weights of :func:`face_energy` (the inlet is added separately).
    """

    g: tuple
    axis: int
    periodic: tuple
    spacing: tuple
    inlet: np.ndarray
    outlet: np.ndarray
    weights: tuple
    energy_weights: tuple
    mask: tuple | None = None  # (padded mask, unit) of a BinaryMedium instead of g

    @classmethod
    def of(cls, g, axis: int, periodic, spacing) -> DrivenFaces:
        """Bookkeeping of the driven face conductances ``g`` (see the class)."""
        shape = (g[0].shape[0] - 1, g[1].shape[1] - 1, g[2].shape[2] - 1)
        inlet = np.take(g[axis], 0, axis=axis).astype(np.float64)
        outlet = np.take(g[axis], shape[axis], axis=axis).astype(np.float64)
        return cls(tuple(g), axis, tuple(periodic), tuple(float(s) for s in spacing),
                   inlet, outlet, *_weights(shape, axis, periodic))

    @classmethod
    def of_mask(cls, mask, unit, axis: int, periodic, spacing) -> DrivenFaces:
        """The same bookkeeping for the faces implied by a padded ``mask`` and ``unit``
        (:mod:`~uqtwin.solvers.binary`, its ghosts set for the solve): ``g`` is empty
        and the sums run over the mask."""
        shape = tuple(n - 2 for n in mask.shape)
        outer = []
        for face in (0, shape[axis]):
            s = list(shape)
            s[axis] = 1
            out = np.empty(s, dtype=np.float32)
            mask_faces(mask, unit, axis, out, face)
            outer.append(np.take(out, 0, axis=axis).astype(np.float64))
        return cls((), axis, tuple(periodic), tuple(float(s) for s in spacing),
                   *outer, *_weights(shape, axis, periodic), (mask, unit))

    @property
    def shape(self) -> tuple[int, int, int]:
        """Cells along (z, y, x)."""
        if self.mask is not None:
            return tuple(n - 2 for n in self.mask[0].shape)
        g = self.g
        return (g[0].shape[0] - 1, g[1].shape[1] - 1, g[2].shape[2] - 1)

    def _layers(self):
        shape = self.shape
        first = [slice(1, -1)] * 3
        last = [slice(1, -1)] * 3
        first[self.axis], last[self.axis] = 1, shape[self.axis]
        return tuple(first), tuple(last)

    def boundary_fluxes(self, v: np.ndarray) -> tuple[float, float]:
        """Inflow and outflow of the padded potential ``v`` (unit drop)."""
        return boundary_fluxes(self.inlet, self.outlet, v, self.axis)

    def dissipation(self, v: np.ndarray) -> float:
        """Dissipation at unit drop, ``Σ G (Δu)²`` over all faces (fills periodic ghosts).

        At least the exact conductance, by ``‖error‖²_A`` (Dirichlet's principle): it
        converges twice as fast as the fluxes, and from above.
        """
        if any(self.periodic):
            fill_ghosts(v, self.periodic)
        first, _ = self._layers()
        inlet = float(np.sum(self.inlet * (1.0 - v[first]) ** 2))
        if self.mask is not None:
            return mask_face_energy(*self.mask, v, *self.energy_weights) + inlet
        return face_energy(*self.g, v, *self.energy_weights) + inlet

    def effective(self, v: np.ndarray, f_in: float, f_out: float) -> np.ndarray:
        """Column ``K[:, axis]`` of the effective tensor from the solved potential ``v``.

        Off the diagonal from the volume-averaged fluxes, ``K[axis, axis]`` from the
        dissipation (ghosts of ``v`` already filled; ``f_in, f_out`` from
        :meth:`boundary_fluxes`).
        """
        shape, h, axis = self.shape, list(self.spacing), self.axis
        length = shape[axis] * h[axis]
        area = float(np.prod([shape[a] * h[a] for a in range(3) if a != axis]))
        sums = np.array(mask_face_fluxes(*self.mask, v, *self.weights)
                        if self.mask is not None else face_fluxes(*self.g, v, *self.weights))
        sums[axis] += 0.5 * (f_in + f_out)
        volume = float(np.prod([shape[a] * h[a] for a in range(3)]))
        effective = sums * np.array(h) / volume * length
        # K_aa from the energy: its error is quadratic in the potential's (the boundary
        # fluxes' is linear), and one-sided (K_aa too high by ||error||_A^2 L / A)
        effective[axis] = self.dissipation(v) * length / area
        return effective


def boundary_fluxes(inlet: np.ndarray, outlet: np.ndarray, v: np.ndarray,
                    axis: int) -> tuple[float, float]:
    """Inflow and outflow of the padded potential ``v`` driven along ``axis`` (unit drop).

    Parameters
    ----------
    inlet, outlet : ndarray of float64, 2-D
        Conductances of the inlet and outlet faces (the outer faces normal to ``axis``).
    v : ndarray, padded
        Potential.
    axis : int
        Driven axis.

    Returns
    -------
    f_in, f_out : float
        ``Σ G_in (1 − v_first)`` and ``Σ G_out v_last``, units of the conductances.

    Examples
    --------
    >>> v = np.zeros((4, 3, 3))
    >>> v[1:-1, 1, 1] = [0.75, 0.25]
    >>> boundary_fluxes(np.full((1, 1), 2.0), np.full((1, 1), 2.0), v, 0)
    (0.5, 0.5)
    """
    first = [slice(1, -1)] * 3
    last = [slice(1, -1)] * 3
    first[axis], last[axis] = 1, v.shape[axis] - 2
    f_in = float(np.sum(inlet * (1.0 - v[tuple(first)])))
    f_out = float(np.sum(outlet * v[tuple(last)]))
    return f_in, f_out


def _weights(shape, axis, periodic):
    """Per-face-layer weights of :func:`face_fluxes` and of :func:`face_energy`."""
    weights = []
    for a in range(3):
        w = np.ones(shape[a] + 1)
        if a == axis:
            w[0] = w[-1] = 0.0
        elif periodic[a]:
            w[-1] = 0.0
        weights.append(w)
    # the energy counts the outlet face through its zero ghost; the inlet is added
    e_weights = [w.copy() for w in weights]
    e_weights[axis][-1] = 1.0
    return tuple(weights), tuple(e_weights)


@njit(parallel=True, cache=True, nogil=True)
def face_fluxes(gz, gy, gx, x, wz, wy, wx):  # pragma: no cover - compiled
    """Weighted sums of the face fluxes ``G (u_lo - u_hi)`` per axis, in float64.

    ``w*`` are per-face-layer weights (length ``n + 1``): 1 inside, 1/2 on a fixed-value
    face (it closes half a control volume), 1 on one copy of a periodic face and 0 on the
    other. Ghost values supply the outer neighbours (0 beyond a fixed-value or insulated
    face, the wrapped value along a periodic axis).
    """
    nz = x.shape[0] - 2
    ny = x.shape[1] - 2
    nx = x.shape[2] - 2
    sz = np.zeros(nz + 1)
    sy = np.zeros(nz + 1)
    sx = np.zeros(nz + 1)
    for f in prange(nz + 1):
        acc_z = 0.0
        for j in range(ny):
            for i in range(nx):
                acc_z += np.float64(gz[f, j, i]) * (np.float64(x[f, j + 1, i + 1])
                                                    - np.float64(x[f + 1, j + 1, i + 1]))
        sz[f] = acc_z * wz[f]
        if f < nz:
            acc_y = 0.0
            acc_x = 0.0
            for j in range(ny + 1):
                for i in range(nx):
                    acc_y += wy[j] * np.float64(gy[f, j, i]) * (
                        np.float64(x[f + 1, j, i + 1]) - np.float64(x[f + 1, j + 1, i + 1]))
            for j in range(ny):
                for i in range(nx + 1):
                    acc_x += wx[i] * np.float64(gx[f, j, i]) * (
                        np.float64(x[f + 1, j + 1, i]) - np.float64(x[f + 1, j + 1, i + 1]))
            sy[f] = acc_y
            sx[f] = acc_x
    return serial_sum(sz), serial_sum(sy), serial_sum(sx)


@njit(parallel=True, cache=True, nogil=True)
def face_energy(gz, gy, gx, x, wz, wy, wx):  # pragma: no cover - compiled
    """Weighted dissipation ``sum w G (u_lo - u_hi)^2`` over all faces, in float64.

    Weights as in :func:`face_fluxes` (per face layer); ghost values supply the outer
    neighbours. With the driven inlet face weighted 0 (its term needs the fixed value,
    not the ghost) the caller adds ``sum G (1 - u_first)^2``. Each cell adds its three
    lower faces (unit-stride loops, like
    :func:`~uqtwin.solvers.operators.apply_operator`); the last layer of faces
    along each axis is added separately.
    """
    nz = x.shape[0] - 2
    ny = x.shape[1] - 2
    nx = x.shape[2] - 2
    acc = np.zeros(nz + 1)
    for k in prange(1, nz + 2):
        s = 0.0
        if k <= nz:
            for j in range(1, ny + 1):
                wyj = wy[j - 1]
                for i in range(1, nx + 1):
                    xc = x[k, j, i]
                    dz = x[k - 1, j, i] - xc
                    dy = x[k, j - 1, i] - xc
                    dx = x[k, j, i - 1] - xc
                    s += (wz[k - 1] * gz[k - 1, j - 1, i - 1] * dz * dz
                          + wyj * gy[k - 1, j - 1, i - 1] * dy * dy
                          + wx[i - 1] * gx[k - 1, j - 1, i - 1] * dx * dx)
                dx = x[k, j, nx + 1] - x[k, j, nx]
                s += wx[nx] * gx[k - 1, j - 1, nx] * dx * dx
            for i in range(1, nx + 1):
                dy = x[k, ny + 1, i] - x[k, ny, i]
                s += wy[ny] * gy[k - 1, ny, i - 1] * dy * dy
        else:
            for j in range(1, ny + 1):
                for i in range(1, nx + 1):
                    dz = x[nz + 1, j, i] - x[nz, j, i]
                    s += wz[nz] * gz[nz, j - 1, i - 1] * dz * dz
        acc[k - 1] = s
    return serial_sum(acc)


@njit(parallel=True, cache=True, nogil=True)
def mask_face_fluxes(m, unit, x, wz, wy, wx):  # pragma: no cover - compiled
    """Sums of :func:`face_fluxes` over the faces implied by the padded mask ``m``
    (:func:`~uqtwin.solvers.binary.mask_face`): the same sums, in the same order."""
    nz = x.shape[0] - 2
    ny = x.shape[1] - 2
    nx = x.shape[2] - 2
    sz = np.zeros(nz + 1)
    sy = np.zeros(nz + 1)
    sx = np.zeros(nz + 1)
    for f in prange(nz + 1):
        acc_z = 0.0
        for j in range(ny):
            for i in range(nx):
                acc_z += np.float64(mask_face(m, unit, 0, f, j, i)) * (
                    np.float64(x[f, j + 1, i + 1]) - np.float64(x[f + 1, j + 1, i + 1]))
        sz[f] = acc_z * wz[f]
        if f < nz:
            acc_y = 0.0
            acc_x = 0.0
            for j in range(ny + 1):
                for i in range(nx):
                    acc_y += wy[j] * np.float64(mask_face(m, unit, 1, f, j, i)) * (
                        np.float64(x[f + 1, j, i + 1]) - np.float64(x[f + 1, j + 1, i + 1]))
            for j in range(ny):
                for i in range(nx + 1):
                    acc_x += wx[i] * np.float64(mask_face(m, unit, 2, f, j, i)) * (
                        np.float64(x[f + 1, j + 1, i]) - np.float64(x[f + 1, j + 1, i + 1]))
            sy[f] = acc_y
            sx[f] = acc_x
    return serial_sum(sz), serial_sum(sy), serial_sum(sx)


@njit(parallel=True, cache=True, nogil=True)
def mask_face_energy(m, unit, x, wz, wy, wx):  # pragma: no cover - compiled
    """Sums of :func:`face_energy` over the faces implied by the padded mask ``m``
    (:func:`~uqtwin.solvers.binary.mask_face`): the same sums, in the same order."""
    nz = x.shape[0] - 2
    ny = x.shape[1] - 2
    nx = x.shape[2] - 2
    acc = np.zeros(nz + 1)
    for k in prange(1, nz + 2):
        s = 0.0
        if k <= nz:
            for j in range(1, ny + 1):
                wyj = wy[j - 1]
                for i in range(1, nx + 1):
                    xc = x[k, j, i]
                    dz = x[k - 1, j, i] - xc
                    dy = x[k, j - 1, i] - xc
                    dx = x[k, j, i - 1] - xc
                    s += (wz[k - 1] * mask_face(m, unit, 0, k - 1, j - 1, i - 1) * dz * dz
                          + wyj * mask_face(m, unit, 1, k - 1, j - 1, i - 1) * dy * dy
                          + wx[i - 1] * mask_face(m, unit, 2, k - 1, j - 1, i - 1) * dx * dx)
                dx = x[k, j, nx + 1] - x[k, j, nx]
                s += wx[nx] * mask_face(m, unit, 2, k - 1, j - 1, nx) * dx * dx
            for i in range(1, nx + 1):
                dy = x[k, ny + 1, i] - x[k, ny, i]
                s += wy[ny] * mask_face(m, unit, 1, k - 1, ny, i - 1) * dy * dy
        else:
            for j in range(1, ny + 1):
                for i in range(1, nx + 1):
                    dz = x[nz + 1, j, i] - x[nz, j, i]
                    s += wz[nz] * mask_face(m, unit, 0, nz, j - 1, i - 1) * dz * dz
        acc[k - 1] = s
    return serial_sum(acc)


"""Packed particles: random sequential addition of spheres or calendered spheroids.

The generators here give three-phase labels: the particles (active material) with a
binder film and necks grown on them, the particle count tuned until the pore fraction is
reached. For other binder morphologies on the same particles, generate with
``binder_thickness=0`` and pass ``labels == ACTIVE`` to :mod:`uqtwin.phantoms.binder`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from uqtwin.errors import VolumeError
from uqtwin.phantoms.binder import film_and_necks
from uqtwin.phantoms.phases import PORE


def _pack_particles(
    shape: tuple[int, int, int],
    radius: tuple[float, float],
    solid_target: float,
    aspect: np.ndarray,
    max_overlap: float,
    rng: np.random.Generator,
    batch: int = 16,
    max_tries: int = 20000,
) -> np.ndarray:
    """Random sequential addition of axis-aligned ellipsoids until the target solid fraction.

    Ellipsoid ``i`` has semi-axes ``r_i * aspect``; all share the same aspect, so in
    coordinates divided by ``aspect`` they are spheres and the overlap test is the sphere
    test ``|c_i - c_j| >= (1 - max_overlap) (r_i + r_j)``.
    """
    solid = np.zeros(shape, dtype=bool)
    target = solid_target * solid.size
    centres: list[np.ndarray] = []
    radii: list[float] = []
    count = 0
    grids = [np.arange(n, dtype=float) for n in shape]
    tries = 0
    while count < target and tries < max_tries:
        # Draw candidates in batches: the overlap test is vectorised over placed particles.
        cand_r = rng.uniform(radius[0], radius[1], size=batch)
        cand_c = rng.uniform(0, 1, size=(batch, 3)) * np.asarray(shape, dtype=float)
        for c, r in zip(cand_c, cand_r, strict=True):
            tries += 1
            if centres:
                d = np.linalg.norm((np.asarray(centres) - c) / aspect, axis=1)
                if np.any(d < (1.0 - max_overlap) * (np.asarray(radii) + r)):
                    continue
            centres.append(c)
            radii.append(float(r))
            semi = r * aspect
            sl = tuple(
                slice(max(0, int(np.floor(ci - ai))), min(n, int(np.ceil(ci + ai)) + 1))
                for ci, ai, n in zip(c, semi, shape, strict=True)
            )
            z, y, x = (
                (g[s_] - ci) / ai for g, s_, ci, ai in zip(grids, sl, c, semi, strict=True)
            )
            inside = z[:, None, None] ** 2 + y[None, :, None] ** 2 + x[None, None, :] ** 2 <= 1
            block = solid[sl]
            count += int(np.count_nonzero(inside & ~block))
            block |= inside
            if count >= target:
                break
    return solid


def _generate(
    shape: Sequence[int],
    radius: tuple[float, float],
    porosity: float,
    binder_thickness: float,
    neck_radius: float | None,
    aspect: np.ndarray,
    max_overlap: float,
    seed: int,
) -> np.ndarray:
    shp = tuple(int(n) for n in shape)
    if len(shp) != 3 or min(shp) < 1:
        raise VolumeError(f"shape must be three positive integers, got {shape!r}")
    if not 0.0 < porosity < 1.0:
        raise VolumeError(f"porosity must be in (0, 1), got {porosity!r}")
    r0, r1 = float(radius[0]), float(radius[1])
    if not 0 < r0 <= r1:
        raise VolumeError(f"radius must be (min, max) with 0 < min <= max, got {radius!r}")
    if binder_thickness < 0:
        raise VolumeError(f"binder_thickness must be >= 0, got {binder_thickness!r}")
    neck = 2.0 * binder_thickness if neck_radius is None else float(neck_radius)
    rng = np.random.default_rng(seed)
    # The binder takes pore space, so pack the active phase a little short of 1 - porosity,
    # then correct the target from the binder fraction the first packing produced.
    solid_target = 1.0 - porosity
    labels = None
    for _ in range(3):
        active = _pack_particles(shp, (r0, r1), solid_target, aspect, max_overlap,
                                 np.random.default_rng(rng.integers(2**63)))
        labels = film_and_necks(active, binder_thickness, neck)
        pore = float(np.mean(labels == PORE))
        if abs(pore - porosity) < 0.01:
            break
        solid_target = float(np.clip(solid_target + (pore - porosity), 0.02, 0.95))
    assert labels is not None
    return labels


def spheres_with_binder(
    shape: Sequence[int],
    *,
    radius: tuple[float, float] = (4.0, 8.0),
    porosity: float = 0.4,
    binder_thickness: float = 1.0,
    neck_radius: float | None = None,
    max_overlap: float = 0.3,
    seed: int = 0,
) -> np.ndarray:
    """Packed spherical particles with a carbon-binder film and necks at the contacts.

    Spheres of uniformly random radius are added at random positions (random sequential
    addition) and rejected if they overlap an existing sphere by more than
    ``max_overlap`` of the sum of radii, until the pore fraction reaches ``porosity``
    after the binder is grown. The binder is the pore within ``binder_thickness`` of a
    particle (a thin film) plus the gaps filled by closing the particles with a ball of
    ``neck_radius`` (necks where particles are close). Boundaries are not periodic.

    Parameters
    ----------
    shape : sequence of 3 ints
        Volume shape (z, y, x), voxels.
    radius : (float, float)
        Range of sphere radii, voxels.
    porosity : float
        Target pore fraction (within about 0.01; the particle count is discrete).
    binder_thickness : float
        Thickness of the binder film, voxels; 0 for no film.
    neck_radius : float, optional
        Radius of the closing ball that grows binder necks, voxels; default
        ``2 * binder_thickness``; 0 for no necks.
    max_overlap : float
        Largest allowed overlap, as a fraction of the sum of two radii (0: no overlap).
    seed : int
        Random seed.

    Returns
    -------
    ndarray of uint8, shape ``shape``
        ``0`` pore, ``1`` binder, ``2`` active (:data:`PHASES`).
    """
    return _generate(shape, radius, porosity, binder_thickness, neck_radius,
                     np.ones(3), max_overlap, seed)


def calendered_ellipsoids(
    shape: Sequence[int],
    *,
    flattening: float = 0.4,
    radius: tuple[float, float] = (4.0, 8.0),
    porosity: float = 0.35,
    binder_thickness: float = 1.0,
    neck_radius: float | None = None,
    max_overlap: float = 0.3,
    seed: int = 0,
) -> np.ndarray:
    """Particles flattened along z by calendering, with binder film and necks.

    As :func:`spheres_with_binder`, but each particle of nominal radius ``r`` is an
    oblate spheroid with semi-axis ``r (1 - flattening)`` along z (the through-plane,
    pressing direction) and ``r / sqrt(1 - flattening)`` in the (y, x) plane, so its
    volume equals that of the sphere. The texture makes transport anisotropic: the
    through-plane (z) tortuosity is higher than the in-plane one.

    Parameters
    ----------
    shape : sequence of 3 ints
        Volume shape (z, y, x), voxels.
    flattening : float
        ``1 - c / r``, in [0, 1): 0 gives spheres.
    radius, porosity, binder_thickness, neck_radius, max_overlap, seed
        As in :func:`spheres_with_binder`.

    Returns
    -------
    ndarray of uint8, shape ``shape``
        ``0`` pore, ``1`` binder, ``2`` active.
    """
    if not 0.0 <= flattening < 1.0:
        raise VolumeError(f"flattening must be in [0, 1), got {flattening!r}")
    k = 1.0 - flattening
    aspect = np.array([k, 1.0 / np.sqrt(k), 1.0 / np.sqrt(k)])
    return _generate(shape, radius, porosity, binder_thickness, neck_radius,
                     aspect, max_overlap, seed)

"""Synthetic electrodes with known answers: label generators and a tomography image model.

The label generators build three-phase microstructures (``0`` pore, ``1`` carbon-binder,
``2`` active material) from packed particles with a binder film; :func:`image_phantom`
turns any label volume into a grey volume the way a scanner would (partial-volume blur,
photon noise, read noise, intensity drift). Together they give volumes whose true phase
of every voxel is known, for testing the segmentation and sampling stages.

Everything is deterministic given ``seed`` and uses no global random state.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from scipy import ndimage

from uqtwin.errors import VolumeError
from uqtwin.volume import check_array, make_volume

#: Label values written by the generators.
PORE, BINDER, ACTIVE = 0, 1, 2
#: Phase names in label order, for :func:`uqtwin.segment.mixture.phase_posteriors` and
#: :class:`uqtwin.microstructure.Microstructure`.
PHASES = ("pore", "binder", "active")


def _per_axis(value: float | Sequence[float], name: str) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(value, dtype=float))
    if arr.size == 1:
        arr = np.repeat(arr, 3)
    if arr.shape != (3,) or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise VolumeError(f"{name} must be one or three finite values >= 0, got {value!r}")
    return arr


def image_phantom(
    labels: np.ndarray,
    means: Sequence[float],
    *,
    spacing: Sequence[float] | float = (1.0, 1.0, 1.0),
    unit: str = "um",
    blur_sigma: float | Sequence[float] = (0.7, 0.7, 0.7),
    supersample: int = 1,
    photons: float | None = None,
    read_noise: float = 0.0,
    drift: float = 0.0,
    seed: int = 0,
) -> xr.DataArray:
    """Simulate a tomogram of a label volume.

    The image model, applied in this order:

    1. **Phase contrast**: every voxel gets the grey mean of its phase, ``means[label]``.
    2. **Partial volume and blur**: a Gaussian point-spread function of ``blur_sigma``
       (output voxels, per axis). With ``supersample = s > 1`` the labels are taken to be
       sampled on a grid ``s`` times finer than the output; the blurred fine image is
       block-averaged over ``s x s x s`` blocks, so a voxel that straddles an interface
       gets the volume-weighted mean of its phases (the partial-volume effect) even with
       no blur. With ``s = 1`` the partial-volume effect comes from the blur alone.
    3. **Drift**: slice ``k`` along z is multiplied by ``1 + drift * (k / (nz - 1) - 1/2)``,
       a linear beam-intensity drift of relative size ``drift`` over the scan.
    4. **Photon noise** (when ``photons`` is given): the image is scaled so its mean grey
       value is ``photons`` counts, Poisson-sampled, and scaled back, so the noise is
       signal-dependent with relative size ``1 / sqrt(photons * grey / mean_grey)``.
    5. **Read noise**: additive Gaussian noise of standard deviation ``read_noise``
       (grey units).

    Parameters
    ----------
    labels : ndarray of int, shape (nz, ny, nx)
        Phase index per voxel, ``0 .. len(means) - 1`` (for tf_electrode's 0/85/170 labels,
        map them to indices first). With ``supersample = s`` every dimension must be a
        multiple of ``s``.
    means : sequence of float
        Grey mean of each phase (grey units, arbitrary scale, e.g. 0-255).
    spacing : float or sequence of 3 floats
        Output voxel size along (z, y, x) in ``unit``.
    unit : str
        Length unit of ``spacing``.
    blur_sigma : float or sequence of 3 floats
        Standard deviation of the Gaussian point-spread function, in output voxels.
    supersample : int
        Ratio of the label grid to the output grid (see above); 1 means the same grid.
    photons : float, optional
        Mean photon count per voxel; ``None`` means no photon noise.
    read_noise : float
        Standard deviation of additive Gaussian noise, grey units.
    drift : float
        Relative intensity drift over the z range (0.1 means +-5 % at the ends).
    seed : int
        Seed of the noise.

    Returns
    -------
    xarray.DataArray
        Float32 grey volume of shape ``labels.shape // supersample`` with ``spacing`` and
        ``unit`` attributes, and the image-model parameters in ``attrs["phantom"]``
        (a string, so the attrs stay serialisable).
    """
    lab = check_array(labels, name="labels")
    if lab.dtype.kind not in "biu":
        raise VolumeError(f"labels must be integers, got dtype {lab.dtype}")
    mu = np.asarray(means, dtype=float)
    if mu.ndim != 1 or mu.size == 0 or not np.all(np.isfinite(mu)):
        raise VolumeError(f"means must be a non-empty sequence of finite numbers, got {means!r}")
    lo, hi = int(lab.min()), int(lab.max())
    if lo < 0 or hi >= mu.size:
        raise VolumeError(
            f"labels hold values {lo}..{hi} but only {mu.size} grey means are given; "
            "map the labels to 0 .. len(means) - 1 first"
        )
    s = int(supersample)
    if s < 1 or any(n % s for n in lab.shape):
        raise VolumeError(
            f"supersample must be an integer >= 1 dividing every dimension of {lab.shape}, "
            f"got {supersample!r}"
        )
    sigma = _per_axis(blur_sigma, "blur_sigma")
    if photons is not None and not (np.isfinite(photons) and photons > 0):
        raise VolumeError(f"photons must be a positive number or None, got {photons!r}")
    if not (np.isfinite(read_noise) and read_noise >= 0):
        raise VolumeError(f"read_noise must be >= 0, got {read_noise!r}")
    rng = np.random.default_rng(seed)

    grey = mu[lab]
    if np.any(sigma > 0):
        grey = ndimage.gaussian_filter(grey, sigma * s, mode="nearest")
    if s > 1:
        nz, ny, nx = (n // s for n in lab.shape)
        grey = grey.reshape(nz, s, ny, s, nx, s).mean(axis=(1, 3, 5))
    if drift:
        nz = grey.shape[0]
        ramp = np.linspace(-0.5, 0.5, nz) if nz > 1 else np.zeros(1)
        grey = grey * (1.0 + drift * ramp)[:, None, None]
    if photons is not None:
        mean_grey = float(grey.mean())
        if mean_grey <= 0 or grey.min() < 0:
            raise VolumeError("photon noise needs non-negative grey means with a positive mean")
        scale = photons / mean_grey
        grey = rng.poisson(grey * scale) / scale
    if read_noise > 0:
        grey = grey + rng.normal(0.0, read_noise, size=grey.shape)

    params = (
        f"means={mu.tolist()}, blur_sigma={sigma.tolist()}, supersample={s}, "
        f"photons={photons}, read_noise={read_noise}, drift={drift}, seed={seed}"
    )
    return make_volume(grey.astype(np.float32), spacing, unit, attrs={"phantom": params})


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


def _add_binder(active: np.ndarray, thickness: float, neck: float) -> np.ndarray:
    """Labels with a binder film of ``thickness`` voxels and necks of radius ``neck``.

    The film is the pore within ``thickness`` of the active surface; the necks are the
    pore filled by a morphological closing of the active phase with a ball of radius
    ``neck``, i.e. the concave gaps near particle contacts, where carbon-binder collects.
    Both come from Euclidean distance transforms, which are exact and fast.
    """
    labels = np.where(active, ACTIVE, PORE).astype(np.uint8)
    if thickness <= 0 and neck <= 0:
        return labels
    dist_out = ndimage.distance_transform_edt(~active)
    binder = (dist_out > 0) & (dist_out <= thickness)
    if neck > 0:
        dilated = dist_out <= neck
        closed = ndimage.distance_transform_edt(dilated) > neck
        binder |= closed & ~active
    labels[binder] = BINDER
    return labels


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
        labels = _add_binder(active, binder_thickness, neck)
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

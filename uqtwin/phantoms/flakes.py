"""Graphite flakes: oblate platelets lying nearly flat, as in a calendered graphite anode.

Graphite particles are flakes several times wider than thick, and calendering lays them
down with their basal planes near the current collector, which makes the through-plane
tortuosity of an anode several times the in-plane one. :func:`graphite_flakes` packs
oblate spheroids (semi-axes ``r, r, r / aspect``) whose short axes scatter around one
axis by random sequential addition.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from uqtwin.errors import VolumeError
from uqtwin.phantoms._checks import check_open_unit, check_radius, check_shape


def _tilted_axes(
    normal_axis: int, spread_rad: float, size: int, rng: np.random.Generator
) -> np.ndarray:
    """Unit vectors tilted from ``normal_axis`` by a half-normal polar angle.

    The polar angle is ``|N(0, spread)|`` (so its root mean square is ``spread``), the
    azimuth uniform; shape ``(size, 3)``.
    """
    theta = np.abs(rng.normal(0.0, spread_rad, size))
    phi = rng.uniform(0.0, 2.0 * np.pi, size)
    a, b = (ax for ax in range(3) if ax != normal_axis)
    u = np.zeros((size, 3))
    u[:, normal_axis] = np.cos(theta)
    u[:, a] = np.sin(theta) * np.cos(phi)
    u[:, b] = np.sin(theta) * np.sin(phi)
    return u


def _flake_mask(
    centre: np.ndarray, r: float, c: float, u: np.ndarray, shape: tuple[int, int, int]
) -> tuple[tuple[slice, ...], np.ndarray]:
    """Voxels of the spheroid ``r, r, c`` with short axis ``u``: bounding box and mask.

    The spheroid is ``x^T M x <= 1`` with ``M = I / r^2 + (1/c^2 - 1/r^2) u u^T``; its
    half-extent along axis ``i`` is ``sqrt((M^-1)_ii) = sqrt(r^2 + (c^2 - r^2) u_i^2)``.
    """
    half = np.sqrt(r**2 + (c**2 - r**2) * u**2)
    box = tuple(
        slice(max(0, int(np.floor(ci - hi))), min(n, int(np.ceil(ci + hi)) + 1))
        for ci, hi, n in zip(centre, half, shape, strict=True)
    )
    d = [np.arange(s.start, s.stop, dtype=float) - ci for s, ci in zip(box, centre, strict=True)]
    dz, dy, dx = d[0][:, None, None], d[1][None, :, None], d[2][None, None, :]
    along = u[0] * dz + u[1] * dy + u[2] * dx
    inside = (dz**2 + dy**2 + dx**2) / r**2 + (1.0 / c**2 - 1.0 / r**2) * along**2 <= 1.0
    return box, inside


def graphite_flakes(
    shape: Sequence[int],
    *,
    porosity: float = 0.35,
    aspect: float = 4.0,
    orientation_spread: float = 10.0,
    normal_axis: int = 0,
    radius: tuple[float, float] = (6.0, 10.0),
    max_overlap: float = 0.3,
    return_ids: bool = False,
    seed: int = 0,
) -> np.ndarray:
    """Packed oblate flakes with their short axes near ``normal_axis``.

    Flakes of in-plane radius ``r`` (uniform in ``radius``) and half-thickness
    ``r / aspect`` are placed by random sequential addition: a candidate gets a uniform
    random centre (redrawn if it falls in a flake already placed) and a short axis tilted
    from ``normal_axis`` by a half-normal polar angle of root mean square
    ``orientation_spread`` and a uniform azimuth; it is kept when at most
    ``max_overlap`` of its voxels lie in flakes already placed. Placement stops once the
    pore fraction is ``porosity`` or lower (within one flake's volume: the last flake
    overshoots). Centres lie in the volume and flakes are cut at its faces (no periodic
    wrap).

    Parameters
    ----------
    shape : sequence of 3 ints
        Volume shape (z, y, x), voxels.
    porosity : float
        Target pore fraction, in (0, 1).
    aspect : float
        Ratio of in-plane radius to half-thickness, >= 1 (1 gives spheres).
    orientation_spread : float
        Root mean square tilt of the short axes from ``normal_axis``, degrees, in
        [0, 90]. Measured from the flakes' inertia tensors on 48³: 10.2-10.6 for 10,
        19.4-20.3 for 20, 2.5 for 0 (the grid's own scatter); for wide spreads tilts past
        90 degrees fold back, so 40 gives 36-37.
    normal_axis : int
        Axis (0 z, 1 y, 2 x) the short axes scatter around: the pressing direction.
    radius : (float, float)
        Range of in-plane radii, voxels.
    max_overlap : float
        Largest share of a new flake's voxels that may lie in flakes already placed, in
        [0, 1).
    return_ids : bool
        Return the flakes' ids instead of the mask. Overlapping thin flakes defeat a
        watershed (on 48³ at the defaults, 180-185 flakes give 77-95 watershed
        regions), so pass these ids to :func:`binder_bridges` to bridge every pair of
        flakes in contact.
    seed : int
        Random seed.

    Returns
    -------
    ndarray of bool, shape ``shape``
        The active-material mask (pass it to :func:`binder_bridges`,
        :func:`binder_film` or :func:`nanoporous_binder` for the carbon-binder); with
        ``return_ids``, int32 ids instead: ``0`` pore, ``1 .. n`` the flakes in placement
        order, a voxel shared by two flakes belonging to the first placed.

    Raises
    ------
    VolumeError
        On a bad argument, or when the packing jams before ``porosity`` is reached
        (raise ``max_overlap`` or ``porosity``).

    Examples
    --------
    >>> import numpy as np
    >>> flakes = graphite_flakes((48, 48, 48), porosity=0.35, seed=0)
    >>> round(float(1 - flakes.mean()), 3)
    0.349
    >>> # flat flakes: the solid changes phase more often across (z) than along them (x)
    >>> cz = np.mean(flakes[1:] != flakes[:-1])
    >>> cx = np.mean(flakes[:, :, 1:] != flakes[:, :, :-1])
    >>> round(float(cz / cx), 1)
    3.2
    """
    shp = check_shape(shape)
    phi = check_open_unit(porosity, "porosity")
    r0, r1 = check_radius(radius)
    if not (np.isfinite(aspect) and aspect >= 1.0):
        raise VolumeError(f"aspect must be a finite number >= 1, got {aspect!r}")
    if not (np.isfinite(orientation_spread) and 0.0 <= orientation_spread <= 90.0):
        raise VolumeError(
            f"orientation_spread must be in [0, 90] degrees, got {orientation_spread!r}"
        )
    if normal_axis not in (0, 1, 2):
        raise VolumeError(f"normal_axis must be 0, 1 or 2, got {normal_axis!r}")
    if not 0.0 <= max_overlap < 1.0:
        raise VolumeError(f"max_overlap must be in [0, 1), got {max_overlap!r}")
    if r1 / aspect < 0.5:
        raise VolumeError(
            f"flakes of half-thickness radius / aspect = {r1 / aspect:.2f} < 0.5 voxel "
            "would vanish on the grid; raise radius or lower aspect"
        )
    rng = np.random.default_rng(seed)
    ids = np.zeros(shp, dtype=np.int32)
    target = (1.0 - phi) * ids.size
    count, placed = 0, 0
    # Candidates are drawn in batches (vectorised draws) and their number is capped so a
    # jammed packing fails with a message instead of looping on.
    batch, max_tries, tries = 64, 200 * int(np.ceil(target / (np.pi * r0**3 / aspect))), 0
    spread = np.deg2rad(orientation_spread)
    while count < target:
        if tries >= max_tries:
            raise VolumeError(
                f"graphite flakes jammed at porosity {1 - count / ids.size:.3f} before "
                f"reaching {phi}; raise max_overlap ({max_overlap}) or porosity"
            )
        centres = rng.uniform(0.0, 1.0, (batch, 3)) * np.asarray(shp, dtype=float)
        radii = rng.uniform(r0, r1, batch)
        axes = _tilted_axes(normal_axis, spread, batch, rng)
        for c, r, u in zip(centres, radii, axes, strict=True):
            tries += 1
            # Cheap pre-test: a centre inside a placed flake would overlap it heavily.
            if ids[tuple(np.minimum(c.astype(int), np.asarray(shp) - 1))]:
                continue
            box, inside = _flake_mask(c, r, r / aspect, u, shp)
            vol = int(np.count_nonzero(inside))
            block = ids[box]
            new = inside & (block == 0)
            n_new = int(np.count_nonzero(new))
            if vol == 0 or vol - n_new > max_overlap * vol:
                continue
            placed += 1
            block[new] = placed
            count += n_new
            if count >= target:
                break
    return ids if return_ids else ids > 0

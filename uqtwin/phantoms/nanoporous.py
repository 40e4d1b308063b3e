"""Nanoporous carbon-binder: a binder domain only partly solid, its pores below resolution.

Real carbon-binder is a sponge of carbon black and polymer whose pores (tens of nm) a
micro-CT scan cannot resolve: it images as a middle-grey domain that is neither solid
nor pore. :func:`nanoporous_binder` builds that truth: a bridge or film domain (see
:mod:`uqtwin.phantoms.binder`) of which a share is solid, the solid/pore texture a
thresholded Gaussian random field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from uqtwin.errors import VolumeError
from uqtwin.phantoms._checks import as_particles, check_open_unit, per_axis
from uqtwin.phantoms.binder import binder_bridges, binder_film
from uqtwin.phantoms.phases import BINDER, PORE
from uqtwin.sample.correlated import gaussian_random_field


def nanoporous_binder(
    active: np.ndarray,
    *,
    fraction: float = 0.15,
    solid_share: float = 0.5,
    texture_length: float | Sequence[float] = 0.7,
    domain: Literal["bridges", "film"] = "bridges",
    spacing: Sequence[float] | float = (1.0, 1.0, 1.0),
    seed: int = 0,
) -> np.ndarray:
    """Carbon-binder domain of which only ``solid_share`` is solid, the rest nanopore.

    The domain is :func:`binder_bridges` or :func:`binder_film` (called with the same
    ``active``, ``spacing`` and ``seed``) sized to ``fraction / solid_share``. A
    Gaussian random field of correlation ``exp(-r^2 / (2 l^2))``, ``l = texture_length``
    (:func:`uqtwin.sample.correlated.gaussian_random_field`), is drawn over the volume,
    and the domain voxels with the lowest field values are solid binder, as many as make
    the solid binder fraction ``fraction`` (to one voxel); the rest of the domain is
    pore. So the solid share of the domain is ``solid_share`` up to the rounding of the
    two voxel counts, and for ``solid_share = 0.5`` neighbouring domain voxels are both
    solid with the indicator correlation ``(2/pi) arcsin(exp(-1 / (2 l^2)))`` (measured
    on 48³: 0.26, 0.59, 0.79 for ``l`` = 0.7, 1.5, 3.0; the law gives 0.24, 0.59, 0.79).

    Parameters
    ----------
    active : ndarray of bool or int, shape (nz, ny, nx)
        The particles, as for :func:`binder_bridges` (for ``domain="film"`` every
        non-zero voxel is active).
    fraction : float
        Volume fraction of *solid* binder in the whole volume, in (0, 1).
    solid_share : float
        Solid share of the binder domain, in (0, 1]; 1 gives a solid binder.
    texture_length : float or sequence of 3 floats
        Correlation length ``l`` of the texture field, voxels (per axis z, y, x);
        0 gives voxel-independent nanopores.
    domain : {"bridges", "film"}
        Where the binder domain sits: bridges at the particle contacts or a conformal
        film on every particle.
    spacing : float or sequence of 3 floats
        Voxel size along (z, y, x), for the domain's distances.
    seed : int
        Random seed (domain tie-break and texture field).

    Returns
    -------
    ndarray of uint8, shape ``active.shape``
        ``0`` pore (open pore and nanopore alike), ``1`` solid binder, ``2`` active.

    Examples
    --------
    >>> import numpy as np
    >>> from uqtwin.phantoms import ACTIVE, BINDER, binder_bridges, spheres_with_binder
    >>> active = spheres_with_binder((32, 32, 32), binder_thickness=0, seed=0) == ACTIVE
    >>> labels = nanoporous_binder(active, fraction=0.1, solid_share=0.5)
    >>> round(float(np.mean(labels == BINDER)), 4)
    0.1
    >>> domain = binder_bridges(active, fraction=0.2) == BINDER
    >>> round(float(np.mean(labels[domain] == BINDER)), 3)
    0.5
    """
    arr = as_particles(active)
    frac = check_open_unit(fraction, "fraction")
    share = check_open_unit(solid_share, "solid_share", closed_right=True)
    length = per_axis(texture_length, "texture_length")
    if domain not in ("bridges", "film"):
        raise VolumeError(f"domain must be 'bridges' or 'film', got {domain!r}")
    pore = float(np.mean(arr == 0))
    if frac / share > pore:
        raise VolumeError(
            f"the binder domain, fraction / solid_share = {frac:g} / {share:g} = "
            f"{frac / share:.3f} of the volume, does not fit in the pore ({pore:.3f})"
        )
    grow = binder_bridges if domain == "bridges" else binder_film
    labels = grow(arr, fraction=frac / share, spacing=spacing, seed=seed)
    inside = labels == BINDER
    # The field's seed is derived from, not equal to, ``seed``: the domain's tie-break
    # already drew from ``default_rng(seed)``, and reusing that stream would correlate
    # the two.
    field = gaussian_random_field(arr.shape, length, np.random.default_rng([seed, 1]))
    n_solid = int(round(frac * arr.size))
    values = field[inside]
    solid = np.zeros(values.size, dtype=bool)
    solid[np.argsort(values, kind="stable")[:n_solid]] = True
    labels[inside] = np.where(solid, BINDER, PORE)
    return labels

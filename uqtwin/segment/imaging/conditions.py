"""The result record of :func:`uqtwin.segment.imaging.estimate_imaging`: the imaging
conditions, their plain-dict form, and the warning for estimates that fell back."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from uqtwin.errors import VolumeError

__all__ = ["ImagingConditions", "ImagingWarning"]


class ImagingWarning(UserWarning):
    """An estimate fell back to a default (the reason is also in ``notes``)."""


@dataclass(frozen=True)
class ImagingConditions:
    """Imaging conditions of a grey volume, in :func:`uqtwin.phantoms.image_phantom` terms.

    Parameters
    ----------
    psf_sigma : tuple of 3 float
        Standard deviation of the Gaussian point-spread function along (z, y, x), in
        voxels of each axis.
    psf_sigma_se : tuple of 3 float
        Standard error of ``psf_sigma`` (statistical only; 0 where the default was used).
    photon_gain : float
        Grey units per photon: the noise variance is
        ``photon_gain * grey + read_noise ** 2`` (grey units squared).
    read_noise : float
        Standard deviation of the signal-independent noise, grey units.
    photons : float
        Mean photon count per voxel at the volume's mean grey (mean grey / gain);
        ``inf`` when no photon noise is detectable.
    drift : float
        Relative intensity change over the z range: slice ``k`` of ``nz`` is scaled by
        ``1 + drift * (k / (nz - 1) - 1/2)``.
    n_edges : tuple of 3 int
        Edge profiles used along (z, y, x).
    notes : tuple of str
        Every fallback taken and every notable finding, in words.
    drift_se : float
        Standard error of ``drift``, mostly from the structure of the volume (slice means
        over few deep voxels follow the particles); ``inf`` where no drift could be
        measured. See :func:`drift_is_significant`.
    """

    psf_sigma: tuple[float, float, float]
    psf_sigma_se: tuple[float, float, float]
    photon_gain: float
    read_noise: float
    photons: float
    drift: float
    n_edges: tuple[int, int, int]
    notes: tuple[str, ...] = field(default_factory=tuple)
    drift_se: float = 0.0

    def __post_init__(self) -> None:
        for name in ("psf_sigma", "psf_sigma_se", "n_edges"):
            values = tuple(getattr(self, name))
            if len(values) != 3:
                raise VolumeError(f"{name} needs 3 values (z, y, x), got {values!r}")
            cast = int if name == "n_edges" else float
            object.__setattr__(self, name, tuple(cast(v) for v in values))
        for name in ("photon_gain", "read_noise", "photons", "drift", "drift_se"):
            object.__setattr__(self, name, float(getattr(self, name)))
        object.__setattr__(self, "notes", tuple(str(n) for n in self.notes))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable values (lists, floats, ``None`` for an infinite
        ``photons`` or ``drift_se``).

        Returns
        -------
        dict
            Field name to value; ``json.dumps(..., allow_nan=False)`` accepts it.

        Examples
        --------
        >>> c = ImagingConditions((1.0, 1.0, 1.0), (0.01, 0.01, 0.01), 0.0, 3.0,
        ...                       float("inf"), 0.0, (100, 100, 100))
        >>> c.to_dict()["photons"] is None
        True
        >>> ImagingConditions.from_dict(c.to_dict()) == c
        True
        """
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, float) and not math.isfinite(value):
                value = None  # JSON has no infinity; from_dict reads None back as inf
            out[key] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImagingConditions:
        """Inverse of :meth:`to_dict`."""
        photons = data["photons"]
        # Older records have no drift_se: 0, as the field's default.
        drift_se = data.get("drift_se", 0.0)
        return cls(
            tuple(data["psf_sigma"]), tuple(data["psf_sigma_se"]), data["photon_gain"],
            data["read_noise"], math.inf if photons is None else photons, data["drift"],
            tuple(data["n_edges"]), tuple(data.get("notes", ())),
            math.inf if drift_se is None else drift_se,
        )

"""uqtwin.segment: denoising, Gaussian-mixture phase posteriors and label clean-up."""

from uqtwin.segment.cleanup import (
    CONNECTIVITY,
    connected_components,
    opening_closing,
    percolates,
    remove_islands,
)
from uqtwin.segment.denoise import anscombe, denoise_nlm, estimate_noise_sd, inverse_anscombe
from uqtwin.segment.imaging import ImagingConditions, correct_drift, estimate_imaging
from uqtwin.segment.mixture import (
    MixtureModel,
    fit_mixture,
    most_probable,
    phase_posteriors,
    select_n_phases,
)

__all__ = [
    "CONNECTIVITY",
    "ImagingConditions",
    "MixtureModel",
    "anscombe",
    "connected_components",
    "correct_drift",
    "denoise_nlm",
    "estimate_imaging",
    "estimate_noise_sd",
    "fit_mixture",
    "inverse_anscombe",
    "most_probable",
    "opening_closing",
    "percolates",
    "phase_posteriors",
    "remove_islands",
    "select_n_phases",
]

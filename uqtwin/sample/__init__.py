"""uqtwin.sample: ensembles of microstructures drawn from per-voxel phase posteriors."""

from uqtwin.sample.correlated import gaussian_random_field, sample_correlated
from uqtwin.sample.independent import (
    categorical_from_uniform,
    check_posteriors,
    sample_independent,
)

__all__ = [
    "categorical_from_uniform",
    "check_posteriors",
    "gaussian_random_field",
    "sample_correlated",
    "sample_independent",
]

"""uqtwin.sample: ensembles of microstructures drawn from per-voxel phase posteriors.

The draws (:mod:`~uqtwin.sample.independent`, :mod:`~uqtwin.sample.correlated`), the
Potts regularisation of posteriors (:mod:`~uqtwin.sample.mrf`), the nuisance priors
(:mod:`~uqtwin.sample.priors`), the samplers (:mod:`~uqtwin.sample.parametric`,
:mod:`~uqtwin.sample.ambiguity`, :mod:`~uqtwin.sample.model`) and the registry of sampler
kinds the engine fits (:mod:`uqtwin.sample.kinds`: adding a sampler is one module there
plus one entry). ``sample`` builds on ``segment`` (mixtures, partial volume), never the
reverse.
"""

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

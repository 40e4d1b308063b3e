"""Calibrated default priors of the ambiguity sampler (:mod:`uqtwin.sample.ambiguity`).

Kept apart from the sampler so that the configuration can name them without importing
the fitting code. Each was fitted on the calibration half of the phantom study
(``benchmarks/calibration.py``) and checked on the validation half; the figures and the
command are in ``benchmarks/README.md``, "Calibration". They describe an unresolved,
nanoporous carbon-binder domain imaged with a blur of 0.6-1.0 voxel.
"""

#: Beta prior of ``q``, the share of the plain reading of the active phase's boundary.
#: Calibrated on the calibration half of benchmarks/calibration.py (method of moments on
#: the ``q`` that reproduces each phantom's true active fraction; benchmarks/README.md).
DEFAULT_SHARE_PRIOR = (25.2, 81.7)
#: Beta prior of ``s``, the solid share of the middle-grey (carbon-binder) domain; same
#: calibration (the ``s`` that reproduces each phantom's middle-phase fraction).
DEFAULT_SOLID_PRIOR = (35.2, 37.2)
#: LogNormal prior of the texture length of that domain: (median in voxels, sd of its
#: logarithm); same calibration (the lengths that reproduce pore and middle-phase areas).
DEFAULT_TEXTURE_LENGTH = (1.44, 0.42)

"""Figures of a results Dataset: what a user looks at after a run.

Every function returns a :class:`matplotlib.figure.Figure` built directly (not through
``pyplot``), so nothing is registered in a global figure manager, nothing needs closing,
and the Agg renderer is used whatever the session's backend. Save one with
``fig.savefig("name.png")`` or show it in a notebook by leaving it as a cell's value.

The functions are generic over the variables present: scalars per phase / axis / pair
(``plot_posterior_predictive``, ``plot_convergence``), distributions over a ``bin`` dim
(``plot_size_distributions``) and 3×3 tensors over ``(axis, axis2)`` (``plot_tensors``).
The results' conventions (sample dim, phase names, variable roles, HDI) come from
:mod:`uqtwin.results.conventions`; the sampled label volumes are redrawn by the engine
(:func:`uqtwin.engine.redraw.redraw_samples`), and :func:`plot_sample_gallery` draws them.

Modules: :mod:`~uqtwin.plot.layout` (panel grids, colours), :mod:`~uqtwin.plot.select`
(which variables go where), :mod:`~uqtwin.plot.volumes` (slices, gallery),
:mod:`~uqtwin.plot.distributions`, :mod:`~uqtwin.plot.tensors`,
:mod:`~uqtwin.plot.convergence`.
"""

from uqtwin.plot.convergence import interval_drift, plot_convergence, running_summary
from uqtwin.plot.distributions import bin_axis, plot_posterior_predictive, plot_size_distributions
from uqtwin.plot.select import (
    distribution_variables,
    iter_elements,
    scalar_variables,
    tensor_variables,
)
from uqtwin.plot.tensors import plot_tensors, principal_values
from uqtwin.plot.volumes import (
    grey_volume,
    mid_slices,
    plot_sample_gallery,
    plot_slices,
    redraw_samples,
)
from uqtwin.results.conventions import (
    BIN_DIM,
    SAMPLE_DIM,
    TENSOR_DIMS,
    VOXEL_DIMS,
    bin_dim,
    hdi,
    hdi_prob_of,
    phase_names,
    run_config,
)

__all__ = [
    "BIN_DIM",
    "SAMPLE_DIM",
    "TENSOR_DIMS",
    "VOXEL_DIMS",
    "bin_axis",
    "bin_dim",
    "distribution_variables",
    "grey_volume",
    "hdi",
    "hdi_prob_of",
    "interval_drift",
    "iter_elements",
    "mid_slices",
    "phase_names",
    "plot_convergence",
    "plot_posterior_predictive",
    "plot_sample_gallery",
    "plot_size_distributions",
    "plot_slices",
    "plot_tensors",
    "principal_values",
    "redraw_samples",
    "run_config",
    "running_summary",
    "scalar_variables",
    "tensor_variables",
]

"""One sample of the ensemble: its seed, its cleaned microstructure and its quantities.

``evaluate_sample`` is what the driver (:mod:`uqtwin.engine.pipeline`) schedules once per
sample, on any worker: it depends only on the fitted model, the run-wide context, the
run-wide inputs (:class:`RunInputs`) and the sample's seed, so the same seed gives the
same numbers wherever it runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from uqtwin.engine.config import RunConfig, SegmentConfig
from uqtwin.engine.stages import Prepared
from uqtwin.microstructure import Microstructure
from uqtwin.results.schema import PIPELINE_VARIABLES
from uqtwin.sample.model import EnsembleSampler, member_nuisances
from uqtwin.timing import StageClock


def sample_seed(seed: int, index: int) -> int:
    """Seed of sample ``index`` of an ensemble with master ``seed``.

    63-bit, independent streams per index, stable whatever the ensemble size or the order
    of computation.

    Examples
    --------
    >>> sample_seed(0, 1) == sample_seed(0, 1) != sample_seed(0, 2)
    True
    """
    state = np.random.SeedSequence(seed, spawn_key=(index,)).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))


def draw_sample(
    sampler: EnsembleSampler, seed: int, segment: SegmentConfig, phases: Sequence[str]
) -> np.ndarray:
    """Stage 4: one cleaned microstructure (phase index per voxel) from the fitted model.

    Parameters
    ----------
    sampler : EnsembleSampler
        The fitted model; ``sampler.sample(seed)`` draws the raw labels.
    seed : int
        The member's seed; the same seed gives the same member.
    segment : SegmentConfig
        The ``[segment]`` settings: ``min_feature_size`` (voxels; an opening-closing of
        radius ``(min_feature_size - 1) // 2`` is applied when that radius is >= 1) and
        ``min_island_voxels`` (islands smaller than this are removed when > 0).
    phases : sequence of str
        The phase names, in label order. A phase named ``"pore"`` is passed to the island
        removal as the pore label (which uses the dual connectivity convention for it).

    Returns
    -------
    ndarray of uint8, shape (nz, ny, nx)
        The phase index of every voxel.
    """
    from uqtwin.segment.cleanup import opening_closing, remove_islands

    labels = sampler.sample(seed)
    radius = (segment.min_feature_size - 1) // 2
    if radius >= 1:
        labels = opening_closing(labels, radius, n_phases=len(phases))
    if segment.min_island_voxels > 0:
        pore = list(phases).index("pore") if "pore" in phases else None
        labels = remove_islands(labels, segment.min_island_voxels, n_phases=len(phases),
                                pore_label=pore)
    return labels


def materials_of(cfg: RunConfig) -> dict[str, Any]:
    """The material cards of ``[phases] materials``, by phase name.

    Parameters
    ----------
    cfg : RunConfig
        The run configuration.

    Returns
    -------
    dict of str to dict
        Phase name -> its material card (as read by :func:`uqtwin.materials.load_material`);
        phases without a card are absent.

    Raises
    ------
    ConfigError
        If a card name is unknown.
    """
    from uqtwin.materials import load_material

    return {p: load_material(card) for p, card in cfg.phases.materials.items()}


def reference_context(prepared: Prepared, cfg: RunConfig) -> dict[str, Any]:
    """Run-wide context of the quantities, prepared on the most probable segmentation.

    Computed once per run so that every sample shares it (e.g. reference values a quantity
    needs that must not vary from member to member).

    Parameters
    ----------
    prepared : Prepared
        The fitted run; the most probable phase of ``prepared.sampler.point_posteriors()``
        gives the reference segmentation.
    cfg : RunConfig
        The run configuration: the quantity names, phases and options, and the materials.

    Returns
    -------
    dict of str to object
        The context of :func:`uqtwin.quantities.registry.prepare_context`, passed to every
        sample's :class:`~uqtwin.volume.Microstructure`.
    """
    from uqtwin.quantities.registry import needs_context, prepare_context

    q = cfg.quantities
    if not needs_context(q.names):
        # nothing to prepare: skip the reference segmentation (seconds on a large scan)
        return {}
    labels = np.argmax(prepared.sampler.point_posteriors(), axis=0).astype(np.uint8)
    ms = Microstructure(labels, prepared.spacing, prepared.unit, prepared.phases,
                        materials_of(cfg))
    return prepare_context(ms, q.names, phases=q.phases, options=q.options)


@dataclass(frozen=True, eq=False)
class RunInputs:
    """What every sample of a run shares besides the fitted model and the context.

    Small and picklable: the driver sends it with every task.
    """

    spacing: tuple[float, float, float]
    unit: str
    phases: tuple[str, ...]
    materials: Mapping[str, Any]
    cfg: RunConfig
    covariates: Mapping[str, float] | None = None  # of the discrepancy terms

    @classmethod
    def of(cls, prepared: Prepared, cfg: RunConfig) -> RunInputs:
        """The inputs of a run from its prepared model and its config."""
        return cls(prepared.spacing, prepared.unit, prepared.phases, materials_of(cfg), cfg,
                   prepared.covariates)


def evaluate_sample(
    index: int,
    seed: int,
    sampler: EnsembleSampler,
    context: Mapping[str, Any],
    inputs: RunInputs,
) -> tuple[int, xr.Dataset, StageClock]:
    """Stages 4–5 for one sample: draw it, compute its quantities. Picklable for dask.

    A module-level function of picklable arguments so that it can be shipped to workers.

    Parameters
    ----------
    index : int
        The sample index, returned unchanged so that results arriving out of order can be
        put back in order.
    seed : int
        The member's seed (drawing and, for the ``ambiguity`` sampler, its discrepancy
        draws); stored as ``sample_seed``.
    sampler : EnsembleSampler
        The fitted model.
    context : mapping
        The run-wide context of :func:`reference_context`.
    inputs : RunInputs
        What every sample shares: spacing, unit, phases, materials, config, covariates.

    Returns
    -------
    index : int
        ``index``, unchanged.
    dataset : xarray.Dataset
        The sample's quantities, its nuisance draws (if the sampler draws any) and
        ``sample_seed``. With the ``ambiguity`` sampler, ``[sampler] discrepancy`` on and
        covariates available, the estimator discrepancy is applied before the derived
        quantities are computed (so that e.g. the Bruggeman exponent follows the adjusted
        tortuosity).
    clock : StageClock
        The seconds spent drawing the sample (``draw``) and on each quantity.
    """
    from uqtwin.quantities.registry import compute_quantities

    cfg = inputs.cfg
    clock = StageClock()
    with clock.stage("draw"):
        labels = draw_sample(sampler, seed, cfg.segment, inputs.phases)
    ms = Microstructure(labels, tuple(inputs.spacing), inputs.unit, tuple(inputs.phases),
                        inputs.materials, context)
    q = cfg.quantities
    adjust = None
    covariates = inputs.covariates
    if cfg.sampler.kind == "ambiguity" and cfg.sampler.discrepancy and covariates:
        from uqtwin.results.discrepancy import apply_discrepancy, load_discrepancy

        model = load_discrepancy()

        def adjust(measured: xr.Dataset) -> xr.Dataset:
            # Before derived quantities, so the Bruggeman exponent follows the adjusted τ.
            return apply_discrepancy(measured, model, covariates, seed)

    ds = compute_quantities(ms, q.names, phases=q.phases, options=q.options, adjust=adjust,
                            clock=clock)
    if "estimator_discrepancy" in ds:
        ds["estimator_discrepancy"].attrs = pipeline_attrs("estimator_discrepancy")
    for name, value in member_nuisances(sampler, seed).items():
        ds[name] = xr.DataArray(float(value), attrs=pipeline_attrs(name))
    ds["sample_seed"] = xr.DataArray(np.int64(seed), attrs=pipeline_attrs("sample_seed"))
    return index, ds, clock


def pipeline_attrs(name: str) -> dict[str, str]:
    """units, long_name, description (and role) of a pipeline variable, from the schema.

    Parameters
    ----------
    name : str
        A variable the pipeline itself writes (a key of ``PIPELINE_VARIABLES``), e.g.
        ``"sample_seed"``.

    Returns
    -------
    dict of str to str
        Its ``units``, ``long_name`` and ``description``, and ``role`` when the schema gives
        one. ``units`` may contain the ``{length}`` placeholder of the schema.

    Raises
    ------
    KeyError
        If ``name`` is not a pipeline variable.
    """
    spec = PIPELINE_VARIABLES[name]
    return {k: spec[k] for k in ("units", "long_name", "description", "role") if k in spec}

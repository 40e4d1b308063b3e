"""The ambiguity sampler: every member draws what the grey values cannot decide.

Why
---
After the scanner's blur, grey values leave three things open that decide the volume
fractions and, above all, the surface areas:

1. **Where the brightest (active) phase ends.** Every pore–active interface passes
   through the grey value of the middle phase (carbon-binder domain, CBD). Two readings
   explain the data almost equally well (the blurred-label likelihood differs by ~0.005
   nats per voxel on tf_electrode crops at blur 0.8): the intermediate voxels are
   pore–active edge voxels (partial volume,
   :func:`uqtwin.segment.partial_volume.pv_phase_posteriors`) or they are not active at all
   (the plain Gaussian mixture, :func:`uqtwin.segment.mixture.phase_posteriors`). A member
   draws the share ``q`` of the plain reading, ``q ~ Beta(share_prior)``, and uses the
   active-phase probability ``A = (1 - q) A_pv + q A_plain``.
2. **How much of the middle-grey domain is solid.** The CBD of a real electrode may be
   nanoporous, with a texture below the point spread, or solid; below the blur the two
   look alike, so a region that reads as middle phase is, at the scale of a voxel, a
   mixture of middle phase and pore in unknown proportion. A member draws the solid
   share ``s`` from the prior of the binder material (:data:`~uqtwin.sample.priors.
   BINDER_PRIORS`: ``solid``, ``nanoporous``, or ``unknown``, their equal mixture, the
   default); a non-active voxel is middle phase with probability ``s r``, where
   ``r = P_plain(middle) / P_plain(not active)`` is how middle-grey the voxel reads.
3. **The texture of that domain.** Which of its voxels are solid is drawn from a
   Gaussian random field with a correlation length ``l ~ LogNormal(texture_length)``
   voxels per member. The length sets the middle phase's surface area per volume (short:
   fine, fragmented domain; long: compact patches); the data cannot fix it.

The active phase is drawn with a separate, long-range field (correlation length
``correlation_scale * psf_sigma``): the data cannot place a particle's boundary more finely
than the blur, so its uncertain voxels move together (coherent boundary shifts) and the
particle surfaces stay smooth. Each voxel keeps its member's marginal law:
``P(active) = A``, ``P(middle) = (1 - A) s r``, ``P(pore) = (1 - A)(1 - s r)``.

Both fields are lattice fields (:mod:`uqtwin.sample.fields`): a member drawn chunk by chunk
(``sample_member(..., chunk=...)``) is the member drawn whole, bit for bit. They replaced
FFT fields of the same law (Gaussian correlation, unit variance, non-periodic) in #13, so
each seed now draws a different member of the same ensemble law.

The nuisance priors are calibrated by the leave-one-family-out study
(benchmarks/calibration.py; benchmarks/README.md, "Calibration"): each phantom gives the
``q`` that reproduces its active fraction, the ``s`` that reproduces its middle-phase
fraction, and the texture length that reproduces its pore and middle-phase surface areas;
the priors are fitted to those of every family, and checked on each family left out of
the fit. What the nuisances cannot fix, the estimators' own bias at the scan's blur and
resolution, is added afterwards by :mod:`uqtwin.results.discrepancy`. Each member's
nuisance values are recorded (:meth:`AmbiguityState.nuisances`), so
:mod:`uqtwin.results.attribution` can say how much of each interval each one causes.

Because ``q`` and ``s`` are shared by all voxels of a member, the spread of the volume
fractions does not collapse with the number of voxels: it is the spread of the
unidentified shares. Phases other than three: the brightest phase is "active", every
phase between the darkest and the brightest is a middle phase (each its own share of
``s r``); with two phases only ``q`` applies.

The module is long because the fitted state, the per-voxel law it defines and the drawing
of a member from that law are one idea: the draw must follow the law the state's methods
state (a test checks it voxel by voxel). The lattice fields, the chunk tiling, the
labelling pass and the prior fits live in their own modules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from scipy import stats

from uqtwin.errors import VolumeError
from uqtwin.sample.correlated import correlation_lengths
from uqtwin.sample.fields import (
    block_partial_sums,
    box_extent,
    box_origin,
    chunk_boxes,
    local_gaussian_field,
    moments,
)
from uqtwin.sample.labelling import threshold_labels
from uqtwin.sample.priors import (
    BINDER_PRIORS,
    DEFAULT_SHARE_PRIOR,
    DEFAULT_TEXTURE_LENGTH,
    BetaMixture,
)
from uqtwin.segment.bayes import (
    DEFAULT_EFFECTIVE_VOXELS,
    BayesOptions,
    MixturePosterior,
    fit_bootstrap_mixture,
)
from uqtwin.segment.mixture import (
    MixtureModel,
    fit_mixture,
    grey_values,
    phase_posteriors,
    posteriors_at,
)
from uqtwin.segment.partial_volume import pv_phase_posteriors, pv_posteriors_at
from uqtwin.segment.tables import TABLE_POINTS, grey_function, worth_tabulating


@dataclass(frozen=True)
class AmbiguityOptions:
    """Options of the ambiguity sampler.

    Parameters
    ----------
    share_prior : (float, float)
        Beta(a, b) prior of ``q``, the share of the plain-mixture reading of the
        intermediate voxels at the active phase's boundary (0: all partial-volume edges).
        Default :data:`DEFAULT_SHARE_PRIOR` (calibrated).
    solid_prior : BetaMixture or (float, float)
        Prior of ``s``, the solid share of the middle-grey domain: one Beta ``(a, b)`` or
        a :class:`~uqtwin.sample.priors.BetaMixture`. Default: the ``"unknown"`` binder
        prior of :data:`~uqtwin.sample.priors.BINDER_PRIORS` (an equal mixture of the
        calibrated solid and nanoporous binder priors: the grey values cannot tell them
        apart below the blur).
    texture_length : (float, float)
        LogNormal prior of the correlation length of the middle-grey domain's texture:
        median (voxels, > 0) and standard deviation of the logarithm (>= 0; 0 fixes the
        length). Default :data:`DEFAULT_TEXTURE_LENGTH` (calibrated).
    effective_voxels : float
        ``n_eff`` of the coarsened posterior of the mixture parameters (see
        :mod:`uqtwin.segment.bayes`).
    n_draws : int
        Parameter draws fitted once at :func:`create`; members pick one at random.
    psf_sigma : float or tuple of 3 floats
        Standard deviation of the scanner's point spread, voxels (z, y, x); sets the
        correlation length of the active phase's field. Default 0.8 (typical micro-CT).
    correlation_scale : float
        Correlation length of the active phase's field = ``correlation_scale *
        psf_sigma``. Default 10 (8 voxels at psf 0.8), chosen on the calibration phantoms
        (32³), where 90 % coverage rose with the scale up to ~10 while the field still
        varied inside the volume (see benchmarks/README.md, "Calibration").
    """

    share_prior: tuple[float, float] = DEFAULT_SHARE_PRIOR
    solid_prior: BetaMixture | tuple[float, float] = BINDER_PRIORS["unknown"]
    texture_length: tuple[float, float] = DEFAULT_TEXTURE_LENGTH
    effective_voxels: float = DEFAULT_EFFECTIVE_VOXELS
    n_draws: int = 24
    psf_sigma: float | tuple[float, float, float] = 0.8
    correlation_scale: float = 10.0

    def __post_init__(self) -> None:
        for name in ("share_prior", "solid_prior"):
            try:
                prior = BetaMixture.of(getattr(self, name))
            except (VolumeError, TypeError, ValueError) as exc:
                raise VolumeError(f"{name} must be two numbers > 0 (Beta a, b) or a "
                                  f"BetaMixture ({exc})") from None
            if name == "solid_prior":
                object.__setattr__(self, name, prior)
            elif len(prior.components) != 1:
                raise VolumeError(f"share_prior must be one Beta (a, b), got "
                                  f"{self.share_prior!r}")
        if len(self.texture_length) != 2:
            raise VolumeError("texture_length must be (median > 0 voxels, log sd >= 0), got "
                              f"{self.texture_length!r}")
        median, spread = (float(v) for v in self.texture_length)
        if not (np.isfinite(median) and median > 0 and np.isfinite(spread) and spread >= 0):
            raise VolumeError("texture_length must be (median > 0 voxels, log sd >= 0), got "
                              f"{self.texture_length!r}")
        if not (np.isfinite(self.effective_voxels) and self.effective_voxels > 0):
            raise VolumeError(f"effective_voxels must be > 0, got {self.effective_voxels!r}")
        if int(self.n_draws) < 1:
            raise VolumeError(f"n_draws must be >= 1, got {self.n_draws!r}")
        if not (np.isfinite(self.correlation_scale) and self.correlation_scale >= 0):
            raise VolumeError(f"correlation_scale must be >= 0, got {self.correlation_scale!r}")
        try:
            correlation_lengths(self.psf_sigma)
        except VolumeError as exc:
            raise VolumeError(f"psf_sigma: {exc}") from None

    @property
    def correlation_length(self) -> np.ndarray:
        """Correlation length of the active phase's field per axis (z, y, x), voxels."""
        return self.correlation_scale * correlation_lengths(self.psf_sigma)


@dataclass(frozen=True)
class Member:
    """The nuisance values one member drew (see the module docstring)."""

    draw: int
    share: float
    solid: float
    texture_length: float


@dataclass(frozen=True, eq=False)
class AmbiguityState:
    """Everything a member needs, fitted once by :func:`create`. Picklable.

    Parameters
    ----------
    volume : ndarray of float32, shape (nz, ny, nx)
        The grey volume that was segmented (after denoising).
    phases : tuple of str
        Phase names in increasing grey order.
    options : AmbiguityOptions
        The options used.
    em : MixtureModel
        Plain Gaussian mixture (the "phase" reading).
    plain : ndarray of float32, shape (phase, z, y, x), or None
        Its phase posteriors; None (what :func:`create` gives) evaluates them box by box
        when needed (:meth:`plain_posteriors`): they are a function of the grey value
        alone, so the state holds 4 bytes per voxel instead of 4 + 4 per phase, and a
        dask worker receives only the volume.
    posterior : MixturePosterior
        Draws of the partial-volume mixture parameters (the "partial volume" reading).
    """

    volume: np.ndarray
    phases: tuple[str, ...]
    options: AmbiguityOptions
    em: MixtureModel
    plain: np.ndarray | None
    posterior: MixturePosterior

    @cached_property
    def grey_range(self) -> tuple[float, float] | None:
        """The whole volume's (min, max) grey values when its posteriors are tabulated.

        Every box's posteriors are then interpolated in the table on this range, so a box
        gets exactly the values of the whole volume (None: evaluated per voxel).
        """
        flat = self.volume.reshape(-1)
        if not worth_tabulating(flat, TABLE_POINTS):
            return None
        return float(flat.min()), float(flat.max())

    def _table(self) -> dict[str, Any]:
        rng = self.grey_range
        return ({"table_points": None} if rng is None
                else {"table_points": TABLE_POINTS, "value_range": rng})

    def plain_posteriors(self, box: tuple[slice, ...] = ()) -> np.ndarray:
        """The plain mixture's phase posteriors, float32 (phase, z, y, x).

        With ``box`` (three slices), on that sub-box only (same values as on the whole).
        """
        if self.plain is not None:
            return self.plain[(slice(None), *box)]
        return phase_posteriors(self.volume[box], self.em, phases=self.phases,
                                **self._table()).values

    def pv_posteriors(self, draw: int | None = None,
                      box: tuple[slice, ...] = ()) -> np.ndarray:
        """Partial-volume posteriors of parameter draw ``draw`` (None: posterior medians).

        With ``box`` (three slices), on that sub-box only (same values as on the whole).
        """
        model = self.posterior.point() if draw is None else self.posterior.draw(draw)
        return pv_phase_posteriors(self.volume[box], model, phases=self.phases,
                                   **self._table()).values

    def active_probability(self, draw: int | None, share: float) -> np.ndarray:
        """``A = (1 - share) A_pv(draw) + share A_plain``, float32 (z, y, x)."""
        return self.active_probability_in((), draw, share)

    def active_probability_in(self, box: tuple[slice, ...], draw: int | None,
                              share: float, plain: np.ndarray | None = None) -> np.ndarray:
        """:meth:`active_probability` on the sub-box ``box`` only, with the same values.

        ``plain``: the box's :meth:`plain_posteriors`, when the caller has them.
        """
        if plain is None:
            plain = self.plain_posteriors(box)
        a = (1.0 - share) * self.pv_posteriors(draw, box)[-1] + share * plain[-1]
        return np.clip(a, 0.0, 1.0).astype(np.float32)

    def middle_ratios(self, box: tuple[slice, ...] = (),
                      plain: np.ndarray | None = None) -> np.ndarray:
        """``r`` per middle phase: plain probability given not active, (K-2, z, y, x).

        With ``box`` (three slices), on that sub-box only; ``plain``: the box's
        :meth:`plain_posteriors`, when the caller has them.
        """
        if plain is None:
            plain = self.plain_posteriors(box)
        rest = np.maximum(plain[:-1].sum(axis=0), 1e-12)
        return (plain[1:-1] / rest).astype(np.float32)

    def member_law(self, box: tuple[slice, ...], draw: int | None,
                   share: float) -> tuple[np.ndarray, np.ndarray]:
        """What a member's labels need on ``box``: ``A`` and ``r``, from one table.

        Both are functions of a voxel's grey value alone (given the parameter draw and
        ``q``), so they are evaluated together on the grey-value grid of
        :mod:`uqtwin.segment.tables` and interpolated in one pass over the box, writing
        only these K - 1 values per voxel (instead of both readings' K posteriors each).
        They agree with :meth:`active_probability` and :meth:`middle_ratios` to float32
        rounding (the ratio is tabulated rather than taken of interpolated values).

        Parameters
        ----------
        box : tuple of 3 slices, or ()
            Sub-box of the volume (``()``: all of it); a box gets the values the whole
            volume would.
        draw : int or None
            Partial-volume parameter draw (None: posterior medians).
        share : float
            ``q``, the plain reading's share of the active phase.

        Returns
        -------
        active : ndarray of float32, shape of the box
            ``A``.
        ratios : ndarray of float32, shape (K - 2, *box shape)
            ``r`` per middle phase.
        """
        model = self.posterior.point() if draw is None else self.posterior.draw(draw)
        em, q = self.em, float(share)

        def law(g: np.ndarray) -> np.ndarray:
            plain = posteriors_at(g, em)
            a = np.clip((1.0 - q) * pv_posteriors_at(g, model)[-1] + q * plain[-1], 0.0, 1.0)
            rest = np.maximum(plain[:-1].sum(axis=0), 1e-12)
            return np.concatenate([a[None], plain[1:-1] / rest])

        grey = np.asarray(self.volume[box], dtype=np.float32)
        out = np.empty((len(self.phases) - 1, grey.size), np.float32)
        grey_function(grey.reshape(-1), law, out, **self._table())
        out = out.reshape((len(self.phases) - 1,) + grey.shape)
        return out[0], out[1:]

    def member_posteriors(self, draw: int | None, share: float, solid: float) -> np.ndarray:
        """A member's per-voxel phase law, float32 (phase, z, y, x)."""
        a, ratios = self.member_law((), draw, share)
        mid = solid * ratios * (1.0 - a)
        p = np.concatenate([(1.0 - a - mid.sum(axis=0))[None], mid, a[None]])
        return np.clip(p, 0.0, 1.0).astype(np.float32)

    def point_posteriors(self) -> np.ndarray:
        """Ensemble-marginal phase probabilities for the maps, float32 (phase, z, y, x).

        The law is linear in ``q`` and in ``s`` (independent), so their prior means give the
        marginal over both (at the posterior-median parameters).
        """
        a, b = self.options.share_prior
        return self.member_posteriors(None, a / (a + b), self.options.solid_prior.mean)

    def draw_member(self, rng: np.random.Generator) -> Member:
        """The nuisance values of one member (parameter draw, ``q``, ``s``, texture length)."""
        o = self.options
        draw = int(rng.integers(self.posterior.n_draws))
        share = float(stats.beta.ppf(rng.random(), *o.share_prior))
        solid = o.solid_prior.from_uniform(rng.random())
        median, spread = o.texture_length
        return Member(draw, share, solid, float(median * np.exp(spread * rng.standard_normal())))

    def sample(self, seed: int | np.random.Generator) -> np.ndarray:
        """One member; see :func:`sample`."""
        return sample(self, seed)

    def nuisances(self, seed: int) -> dict[str, float]:
        """The nuisance values the member of ``seed`` draws, by results variable name.

        The same first draws of the same stream as :func:`sample`, so these are exactly
        the values that member used (the engine stores them for the variance
        decomposition of :mod:`uqtwin.results.attribution`).
        """
        m = self.draw_member(np.random.default_rng(seed))
        out = {"active_boundary_share": m.share}
        if len(self.phases) > 2:
            out.update(binder_solid_share=m.solid, binder_texture_length=m.texture_length)
        return out


def create(
    volume: Any,
    phases: Sequence[str],
    options: AmbiguityOptions = AmbiguityOptions(),
    *,
    seed: int = 0,
    em: MixtureModel | None = None,
    posterior: MixturePosterior | None = None,
) -> AmbiguityState:
    """Fit both readings once (a few seconds for 32-64³).

    Parameters
    ----------
    volume : xarray.DataArray or ndarray, shape (nz, ny, nx)
        Grey volume as segmented (denoise it first, as the pipeline does).
    phases : sequence of str
        Phase names in increasing grey order.
    options : AmbiguityOptions
        Priors, coarsening, point spread.
    seed : int
        Seed of the fits (same seed, same state).
    em : MixtureModel, optional
        A plain mixture already fitted to ``volume`` (default: :func:`fit_mixture`).
    posterior : MixturePosterior, optional
        Partial-volume parameter draws already fitted to ``volume`` (default:
        :func:`fit_bootstrap_mixture`; a NUTS posterior from
        :func:`uqtwin.segment.bayes.fit_bayesian_mixture` also works).

    Returns
    -------
    AmbiguityState
    """
    names = tuple(str(p) for p in phases)
    arr = np.asarray(grey_values(volume), dtype=np.float32)
    if arr.ndim != 3:
        raise VolumeError(f"volume must be 3-D, got shape {arr.shape}")
    if len(names) < 2:
        raise VolumeError(f"the ambiguity sampler needs at least 2 phases, got {list(names)}")
    if em is None:
        em = fit_mixture(arr, len(names), seed=seed, phases=names)
    if posterior is None:
        bayes = BayesOptions(effective_voxels=options.effective_voxels,
                             n_draws=int(options.n_draws))
        posterior = fit_bootstrap_mixture(arr, len(names), bayes, seed=seed, init=em,
                                          phases=names)
    if posterior.means.shape[1] != len(names):
        raise VolumeError(f"{len(names)} phases for a posterior of {posterior.means.shape[1]}")
    return AmbiguityState(arr, names, options, em, None, posterior)


#: Members of volumes larger than this (voxels) are drawn chunk by chunk ...
CHUNKED_DRAW_VOXELS = 2**25
#: ... in chunks of this side (voxels; a multiple of the noise block).
DRAW_CHUNK = 256


def sample(state: AmbiguityState, seed: int | np.random.Generator) -> np.ndarray:
    """Draw one microstructure (engine entry point).

    Parameters
    ----------
    state : AmbiguityState
        From :func:`create`.
    seed : int or numpy.random.Generator
        Seed of this member: picks the parameter draw, ``q``, ``s``, the texture length
        and both random fields (same seed, same sample).

    Returns
    -------
    ndarray of uint8, shape (nz, ny, nx)
        Phase index per voxel.

    Notes
    -----
    Volumes of more than :data:`CHUNKED_DRAW_VOXELS` voxels are drawn in chunks of
    :data:`DRAW_CHUNK` (the same labels, bit for bit; the working arrays, ~30 bytes per
    voxel drawn at once, then hold one chunk).
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    chunk = DRAW_CHUNK if state.volume.size > CHUNKED_DRAW_VOXELS else None
    return sample_member(state, state.draw_member(rng), rng, chunk=chunk)


def sample_member(state: AmbiguityState, member: Member, rng: np.random.Generator,
                  *, chunk: int | Sequence[int] | None = None) -> np.ndarray:
    """Labels of one member with given nuisance values (the calibration study varies them).

    The active phase is where a long-range uniform field exceeds ``1 - A``; the other
    voxels invert ``s r`` per middle phase with a second, texture-length field; the rest is
    pore (the darkest phase). Both fields are lattice fields
    (:func:`uqtwin.sample.fields.local_gaussian_field`), so the member can be drawn chunk
    by chunk: with ``chunk`` the volume is drawn in boxes of that shape (multiples of
    :data:`~uqtwin.sample.fields.NOISE_BLOCK` voxels) and the labels are the same, bit
    for bit, as drawn whole.
    """
    shape = state.volume.shape
    field_seed, texture_seed = (int(v) for v in rng.integers(0, 2**63 - 1, size=2))
    ell = state.options.correlation_length
    boxes = chunk_boxes(shape, chunk)
    if len(boxes) == 1:
        g = local_gaussian_field(shape, ell, field_seed)
        fields = {0: g}
        mean, sd = moments([block_partial_sums(g)])
    else:
        # first pass: the field's volume moments, from per-block sums added exactly
        fields = {}
        mean, sd = moments(
            block_partial_sums(
                local_gaussian_field(box_extent(b), ell, field_seed, origin=box_origin(b)),
                box_origin(b))
            for b in boxes)
    labels = np.zeros(shape, np.uint8)
    for i, box in enumerate(boxes):
        g = fields.pop(i, None)
        if g is None:
            g = local_gaussian_field(box_extent(box), ell, field_seed, origin=box_origin(box))
        labels[box] = _member_labels(state, member, box, g, mean, sd, texture_seed)
    return labels


def _member_labels(state: AmbiguityState, member: Member, box, g: np.ndarray, mean: float,
                   sd: float, texture_seed: int) -> np.ndarray:
    a, ratios = state.member_law(box, member.draw, member.share)
    # The field only makes boundaries move together locally; its volume mean would add a
    # spread of the fractions set by correlation length / box size, not by the data, so it
    # is removed (the calibrated q carries the global share).
    texture = local_gaussian_field(a.shape, member.texture_length, texture_seed,
                                   origin=box_origin(box))
    return threshold_labels(a, ratios, g, mean, sd, texture, member.solid)

"""Imaging conditions measured from a grey tomogram: point spread, noise model, slice drift.

:func:`estimate_imaging` reads three properties of the scanner off the RAW grey volume
(before any denoising), given the grey means of its pure phases (e.g. from
:func:`uqtwin.segment.mixture.fit_mixture`). They are the parameters of the image model
of :func:`uqtwin.phantoms.image_phantom`, in its conventions, so a phantom imaged with
the estimates looks like the scan. Everything is in voxel index space: the voxel
spacing does not enter (a sigma is in voxels of its own axis).

Order of the steps: drift (on the raw volume), noise model, then the PSF on the
drift-corrected volume (it needs the noise level). Volumes larger than 128 voxels along
an axis are measured on their central 128-voxel block (the drift on every z slice of
the central 128 x 128 (y, x) block): the PSF and the noise are taken as uniform. The
model-based PSF (small volumes, thin structures) uses the central 40-voxel block.

Point-spread function (PSF), per axis
    The edge-spread method of ISO 12233 (slanted-edge MTF) and ASTM E1695 (CT
    modulation transfer from the edge of a disk): the PSF is the derivative of the
    image of a sharp edge; here the edges are found in the scan itself. Along axis
    ``a``, every place where a lightly smoothed copy (Gaussian, 1 voxel) crosses the
    mid-level between the darkest and the brightest phase's plateau grey is a
    candidate. It is kept when the local normal (gradient of the smoothed copy) is
    within 26 degrees of the axis (``|n_a| > 0.9``) and the smoothed copy is within
    10 % of the contrast of the dark plateau from ``2.5 sigma + 1`` voxels before the
    crossing to the window's end, and of the bright plateau as far after it: both sides
    are thick pure phase, which excludes thin particles, narrow gaps and middle-phase
    domains (at sigma 2, profiles that never reach their plateau fit 10-15 % too
    narrow). The raw profiles along ``a`` (window ``+-(3 sigma + 1)``) are aligned at
    their sub-voxel mid-level crossing, pooled (binned at 0.05 voxel) and fitted by
    least squares with a model of the pooled edge whose levels, offset and width (and
    film fraction, below) are free. Three passes: each sets the windows and the other
    axes' blur from the previous one (the first uses ``default_psf``). Biases found on
    phantoms with known answers, and what is done about them:

    * *Noise in the crossing position* would blur the pooled edge and, worse, align the
      profiles on their own noise (which sharpens it). The crossing is taken from the
      mean of the 8 neighbouring columns (the ring around the profile), whose noise is
      independent of the profile's. The remaining jitter, about
      ``noise sd / (sqrt(8) * edge slope)``, is not modelled: it adds under 1 % to sigma
      at sigma >= 1 and 30 photons.
    * *Voxelised staircase*: phantom labels change at voxel faces and the blur is a
      sampled Gaussian, so an axis-aligned edge is seen at offsets ``+-0.5, +-1.5, ...``
      of the cumulative sampled kernel, which is sharper than ``erf`` for sigma < 1 (an
      erf fit gives 0.40 for sigma 0.5 and 0.96 for 1.0 on flat edges). The edge-spread
      function is the sampled Gaussian (truncated at 4 sigma, as
      :func:`scipy.ndimage.gaussian_filter`) convolved with a one-voxel box: exact at
      those offsets and equal to ``erf`` for sigma >~ 1, so it also serves real scanners.
    * *Tilt and curvature*: blur along the other axes ``p, q`` mixes neighbouring
      columns, whose edge lies elsewhere. Each edge's interface is measured on the
      smoothed copy as a height function ``x_a = h(x_p, x_q)`` (slopes, curvatures and
      twist from central differences, with their noise part removed on average), and
      the pooled model averages the edge-spread function over the positions
      ``h(t_p, t_q)``, ``t ~ N(0, sigma_p^2) x N(0, sigma_q^2)`` (Gauss-Hermite
      quadrature), relative to the ring's crossing. On packed 4-8 voxel spheres,
      ignoring tilt and curvature makes isotropic sigma 2 about 10 % too large and the
      sharp axes of (2, 0.8, 0.8) 20-25 %; curvature alone is 5 % at sigma 2.
    * *Middle-phase films*: a layer of the middle phase on the dark/bright interface
      (binder coating the active particles) widens the edge like blur when it is thinner
      than sigma (the edge variance grows by ``p (1 - p) t^2`` for a layer of thickness
      ``t`` and relative grey ``p``). With three or more phases the pooled model is a
      mixture: a fraction ``f`` (free, in [0, 1]) of the edges carries a one-voxel layer
      of the (most frequent) middle phase's grey. On packed spheres coated with a
      one-voxel binder film, where no clean dark/bright edge exists, this takes sigma
      1.0 from 1.13 to 1.01; on clean edges ``f`` stays small. ``f >= 0.2`` is noted
      where sigma <= 1.2 (at larger sigma the layer is not resolved and ``f`` is loose).

    Standard errors come from a delete-a-group jackknife over 10 contiguous groups of
    edges.

Point spread on small volumes
    A 32³ volume of particles of radius 4-8 holds few edges with ``2.5 sigma + 1``
    voxels of pure phase on both sides once sigma exceeds about 1.2, and thin
    structures (flakes 3-5 voxels thick) hold none at all. An axis with fewer than
    ``min_edges`` profiles degrades in steps, each recorded in ``notes``:

    1. *Shorter plateaus*: the selection is repeated with plateaus from ``2 sigma + 1``,
       then ``1.5 sigma + 1`` voxels, each two voxels long and ending the window (the
       plateau levels stay free in the fit). The standard rule is always tried first,
       so volumes with enough clean edges are measured exactly as before.
    2. *Fewer edges*: at least 40 % of ``min_edges`` profiles (20 of 50) are accepted
       when their jackknife standard error is at most 10 % of sigma.
    3. *Pooled*: an axis still unmeasured gets the inverse-variance mean of the
       measured axes (isotropy assumed; its standard error includes their spread), with
       a warning. The anisotropy is thus kept only where it is measured.
    4. *Model-based*, when no axis is measured: one sigma for all axes, the one whose
       blurred labelling best predicts the image (:func:`.model_psf.model_based_psf`: the image
       is split into two with independent noise, a labelling is fitted to one half by
       projected Landweber deblurring and ICM with a Potts prior, and judged on the
       other half; recorrupted-to-recorrupted cross-validation, Pang et al. 2021). It
       needs no plateaus, so it serves thin structures; its standard error adds 10 % of
       sigma, its scatter about the truth on phantoms, to a jackknife over octants. A
       warning says so.
    5. ``default_psf`` with a warning, only when the model-based profile has no minimum
       inside sigma 0.35-3.3 (e.g. a blur of 5 voxels on 32³).

Noise model
    Per phase of the nearest-mean labelling of the smoothed copy, the 2 x 2 x 2 blocks
    of raw voxels lying 2 voxels inside it (cube distance; 1 voxel for small volumes
    where fewer than two phases have 500 such blocks, with a note) give the noise
    variance from their mixed third difference: the alternating sum of the block's 8
    voxels (the Haar ``ddd`` detail, a difference of differences of differences of
    neighbouring voxels) has 8 times the voxel variance of white noise and cancels
    constant, linear and along-axis quadratic trends, so drift and the blurred edges
    nearby drop out (plain neighbour differences keep the edges' gradient: 40 % too
    much variance at 1000 photons, sigma 2, 2 voxels inside). The photon-plus-read
    model ``var = photon_gain * grey + read_noise^2`` is fitted across the phases' mean
    grey by weighted non-negative least squares. ``photons`` is the volume's mean grey
    divided by the gain (image_phantom's ``photons``); it is infinite when the gain is
    below twice its standard error (no photon noise detectable), the read noise then
    being the weighted mean variance. Correlated noise (e.g. from a reconstruction
    filter) is underestimated: the method assumes white noise. It is flagged in the
    notes when plain neighbour differences in the same blocks vary more than twice as
    much as white noise would (on the shared FiberForm micro-CT, whose noise has a
    lag-1 correlation of 0.8, they vary 75 times more).

Slice drift
    Per z slice, the mean raw grey of the voxels 2 voxels inside each phase (and, of
    those, the flatter half by smoothed gradient: near an interface the blurred grey
    follows the local structure, which differs from slice to slice); a Huber-weighted
    linear fit over z per phase, slices weighted by their voxel count,
    ``m_k(z) = a_k (1 + drift * (z / (nz - 1) - 1/2))``. Three passes, each labelling
    the volume corrected by the previous estimate (drift moves grey values across the
    labelling thresholds and would otherwise bias which voxels count as deep).

    On small volumes the error is structure rather than noise: the "deep" voxels of a
    slice lie at varying distances from other phases (at sigma 2 on 32³ flakes, half of
    the voxels labelled deep active are binder or thin pore under the blur), and their
    mean follows the particles over several slices, which the line's residuals do not
    reveal. ``drift_se`` therefore comes from six replicates of each phase's error:
    half the difference between the z trends of the two halves of the volume split
    along y (and along x), where the drift cancels and each half's structure enters,
    and the same fit along y (along x) of the drift-corrected volume in each half along
    x (along y), divided by sqrt 2, where there is no drift but the same kind of
    structure. Each has about the variance of the estimate over z (the slope error of a
    structure with short correlation lengths depends on the volume, not on its shape).
    The phases are combined with weights from their residuals, as the replicates;
    ``drift_se`` is the root mean square of the combined replicates (at least the
    residuals' error). (Weights from the replicates, noisy with six of them, let a
    noisy phase dominate: on 32³ at 30 photons the pore phase then pulled a zero drift
    to -0.09 over the passes.) The drift is common to all phases: when their trends
    scatter more than 4 times their variances allow (chi-square per degree of
    freedom), a middle phase is left out with a note, as under blur its "deep" voxels
    are mostly mixtures of its neighbours (on 32³ flakes at sigma 2 its trend was
    +0.5 and pulled the estimate to +0.08 at no drift). With no phase holding enough
    deep voxels the drift is 0 with ``drift_se = inf`` and a note.
    :func:`drift_is_significant` says whether a drift should be divided out
    (``|drift| >= 0.005`` and ``> 3 drift_se``). A structure that varies along z only
    (a stack of layers normal to z, one interface across the volume) is
    indistinguishable from drift: the replicates do not see it.

Accuracy, measured on 64³ phantoms with ``benchmarks/imaging.py --seeds 3`` (grey means
45/105/175, read noise 3, drift 0.05, photons 30 and 1000; worst of 3 seeds):

* PSF, packed spheres (radius 4-8) with binder in the necks: isotropic sigma 0.5-2
  within -7 % to +8 %; (1.6, 1, 1) within +8 %; (2, 0.8, 0.8): 2.0 within 2 %, the
  0.8 axes 0.83-0.90 (+0.03 to +0.10 voxel). Packed spheres under a one-voxel binder
  film: isotropic within -0.06 voxel (sigma 0.5) and +9 % (1-2); (1.6, 1, 1) +5 % at
  1000 photons, +13 % at 30; (2, 0.8, 0.8) 0.85-0.90 at 1000 photons but up to 0.98 at
  30 photons. So the target, 10 % or 0.1 voxel whichever is larger, holds except on
  the sharp axes of anisotropic blur: at the limit for (2, 0.8, 0.8) on the necks
  phantom (0.90), beyond it under the film at 30 photons (0.98 for 0.8, 1.13 for 1 in
  (1.6, 1, 1)). That residual comes from the blurry axis reaching across neighbouring
  particles, which the local height model of the interface does not see.
  Jackknife standard errors: 1-5 %, up to 0.1 voxel where the film fraction and the
  width trade off.
* Not met: crops of the shared ``tf_electrode`` volume, whose carbon-binder is a
  one-voxel texture touching nearly every pore/active contact in three dimensions (not
  a film along the profile, so the mixture term does not capture it): sigma comes out
  +30-50 % at 0.5, +38 % at 1, +19-28 % at 1.5-2 and up to +46 % on the sharp axes of
  (2, 0.8, 0.8). With the binder relabelled as pore the same crops give sigma within
  3 %. Any sub-resolution third phase crowding the dark/bright interfaces does this;
  there psf_sigma is an upper bound.
* Noise (spheres, sigma 1): photons 10-1000 within -14 % to +18 %; read noise within
  0.25 grey at 1000 photons and 1.3 grey at 100 (read noise 3-5), not identifiable
  under strong photon noise (<= 30 photons: anything from 0 to 10); without photon
  noise ``photons = inf`` and the read noise within 2 %.
* Drift (spheres): within 0.002 at 1000 photons and sigma 1, 0.011 at sigma 2; at
  30 photons within 0.015 (sigma 1) and 0.021 (sigma 2): on 64³ the slice-to-slice
  structure of 4-8 voxel particles limits it. ``drift_se`` 0.001 (1000 photons,
  sigma 1) to 0.011; the error is within 2 ``drift_se`` in 67-92 % of the cases per
  drift (it is somewhat optimistic at 30 photons and sigma 2); no zero drift counts as
  significant, every drift of +-0.05 and 0.1 does.
* The small-volume steps (shorter plateaus, fewer edges, pooling, model-based) are
  never taken on these phantoms: their PSF estimates are those of the standard rule.

Accuracy on 32³, the calibration study's size (``benchmarks/imaging.py --size 32
--seeds 3``: read noise 3, drift 0.05, photons 30 and 1000, worst of 3 seeds; target
20 % or 0.15 voxel):

* PSF, packed spheres with binder necks: met everywhere, isotropic 0.5-2 within -11 %
  to +15 %, (1.6, 1, 1) and (2, 1.25, 1.25) within -19 % to +17 %. Sigma 1.5-2 is
  measured under the shorter plateaus or pooled from the other axes (one or two axes
  with under 20 edges). Under a one-voxel film: met at 1000 photons (within -11 % to
  +15 %); at 30 photons single axes reach +21 % (sigma 1, 1.21 +- 0.05), +23 % (sigma
  2, 2.47 +- 0.19) and +25 % on a sharp axis of (1.6, 1, 1) (1.25 +- 0.06).
* Thin flakes (3-5 voxels, normal near z, binder bridges): no axis has plateaus at
  sigma >= 1, the model-based sigma serves: isotropic 1-2 within -14 % to +18 %, 0.5
  at 30 photons 0.65 (+0.15 voxel). With few in-plane edges accepted at sigma 1 and
  1000 photons the pooled value is +46 % (those edges belong to thin flake rims). Not
  met for anisotropic blur: one sigma for all axes lands between the axes, the
  in-plane ones +24 % to +55 %, z up to -26 %.
* Not met, calendered spheroids (flattened 0.4 along z): z within -16 % to +7 % (-30 %
  where pooled at sigma 2, 30 photons), but the in-plane axes up to +47 % (+16 % to
  +47 % at sigma >= 1), with small standard errors. Their in-plane edges are the rims
  of oblate particles, curved in z with radii of 1-2 voxels: on a lattice of such
  spheroids alone the in-plane sigma comes out +14 % (isotropic 1) and +53 % (the 1
  axes of (1.6, 1, 1)) for a rim radius of 0.75 voxel, within 4 % for 3 voxels; the
  local height model of the interface does not follow rims that tight. The same holds
  on 64³ (1.1-1.2 for 1, 1.26-1.30 for the 1 axes of (1.6, 1, 1)): an upper bound
  there.
* Crops of the shared NREL aligned ellipsoids with binder bridges: isotropic within
  -20 % to +22 %; anisotropic blur not met where an in-plane axis has no edges (the
  particles are aligned): it is pooled from the measured, blurrier axes, +42 % to
  +57 %. The ``tf_electrode`` crops carry their binder-texture bias (+25 % to +88 %).
* Drift: zero drift measured within 0.017 (spheres under film) to 0.055 (flakes at
  sigma 2), within 2 ``drift_se`` in 75-100 % of the cases per phantom; counted as
  significant (and so corrected) in 0-17 % (flakes at sigma 2, up to -0.055 +-
  0.016: their layered structure along z is partly shared by the halves along y and
  x, and the replicates miss some of it). A drift of 0.05 is measured within 0.008 at
  1000 photons and sigma 1 and significant in 17 of those 18 cases (one flake case,
  0.042 +- 0.017, is not); at 30 photons or sigma 2 ``drift_se`` is 0.01-0.06 and it
  often is not significant. Before, every measured drift of 0.005 or more was divided
  out, spurious ones of up to 0.06 on these phantoms included.

Cost: a fraction of a second for 32-64³ (timings in benchmarks/README.md).

Modules
-------
``conditions``  :class:`ImagingConditions` (the result record, to/from dict) and
                :class:`ImagingWarning`.
``estimate``    :func:`estimate_imaging`: input checks and the order of the steps.
``drift``       slice drift, its standard error, :func:`correct_drift` and
                :func:`drift_is_significant`.
``noise``       the photon-plus-read noise model.
``edges``       selection of the edge-spread profiles and the interface geometry.
``edge_fit``    the pooled edge-spread model and its per-axis fit with jackknife.
``psf``         the per-axis point spread from the edges and its fallbacks.
``model_psf``   the model-based point spread (no plateaus needed).
``_common``     helpers shared inside the package (labelling, interior masks, windows).

References
----------
ISO 12233:2017, *Photography -- Electronic still picture imaging -- Resolution and
spatial frequency responses* (edge-spread function, slanted-edge method).
ASTM E1695-20, *Standard Test Method for Measurement of Computed Tomography (CT) System
Performance* (edge response of a uniform disk).
D. L. Donoho, I. M. Johnstone (1994), Ideal spatial adaptation by wavelet shrinkage,
*Biometrika* 81, 425-455 (noise from the finest Haar details).
"""

from uqtwin.segment.imaging._common import AXES as AXES
from uqtwin.segment.imaging._common import MIN_SIZE as MIN_SIZE
from uqtwin.segment.imaging.conditions import ImagingConditions, ImagingWarning
from uqtwin.segment.imaging.drift import correct_drift, drift_is_significant
from uqtwin.segment.imaging.estimate import estimate_imaging

__all__ = [
    "ImagingConditions",
    "ImagingWarning",
    "correct_drift",
    "drift_is_significant",
    "estimate_imaging",
]

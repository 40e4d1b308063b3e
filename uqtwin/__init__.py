"""uqtwin: uncertainty-quantified digital twins of battery electrodes from 3D tomograms.

The pipeline flows one way::

    io (volume + spacing) -> segment (denoise, posteriors, clean-up) -> sample (ensembles)
      -> quantities (one module each, plus the registry) -> results (xarray, schema, arviz)

``engine`` drives the stages (config, dask, persistence, resume); ``cli`` is the face.

The Python API: :func:`read_volume` (a 3-D image file as a volume with its spacing),
:func:`measure` (the quantities of a segmented volume, what ``uqtwin measure`` prints) and
:func:`run` (a whole uncertainty-quantified run, what ``uqtwin run`` does), plus the
array layers :mod:`uqtwin.morphology` and :mod:`uqtwin.solvers`. Importing ``uqtwin`` is
fast: each function imports what it needs when called.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: importing xarray and the engine costs start-up time
    import numpy as np
    import xarray as xr

    from uqtwin.engine.config import RunConfig

try:
    __version__ = version("uqtwin")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "measure", "read_volume", "run"]


def read_volume(path: str | Path, **options: Any) -> xr.DataArray:
    """Read a 3-D image file as a volume with its voxel spacing and unit.

    The same reader the pipeline uses for ``[input]`` (:func:`uqtwin.io.read_volume`).

    Parameters
    ----------
    path : str or pathlib.Path
        A file (TIFF, HDF5, zarr, npy, raw), a folder of TIFF slices or a glob pattern.
    **options
        The ``[input]`` keys: ``format`` (inferred from the extension when omitted),
        ``spacing`` (z, y, x; wins over the file's metadata), ``unit``, ``dataset`` (HDF5
        or zarr array path), ``shape``, ``dtype``, ``byte_order`` and ``offset`` (raw
        files).

    Returns
    -------
    xarray.DataArray
        Dims ``("z", "y", "x")``, ``attrs["spacing"]`` (z, y, x) and ``attrs["unit"]``,
        coordinates in that unit.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> path = Path(tempfile.mkdtemp()) / "scan.npy"
    >>> np.save(path, np.zeros((4, 5, 6), np.uint8))
    >>> vol = read_volume(path, spacing=(0.5, 0.5, 1.0), unit="um")
    >>> vol.shape, vol.attrs["spacing"], vol.attrs["unit"]
    ((4, 5, 6), (0.5, 0.5, 1.0), 'um')
    """
    from uqtwin.io import read_volume as _read_volume

    return _read_volume(path, **options)


def measure(
    labels: np.ndarray | xr.DataArray,
    phase: int | str | None,
    *,
    spacing: float | Sequence[float] | None = None,
    unit: str = "um",
    quantities: Sequence[str] | None = None,
    phases: Sequence[str] | None = None,
    materials: Mapping[str, str] | None = None,
) -> xr.Dataset:
    """Measure the quantities of a segmented (labelled) volume: no sampling.

    What ``uqtwin measure`` prints, as data.

    Parameters
    ----------
    labels : ndarray of int or xarray.DataArray, shape (nz, ny, nx)
        The labelled volume. A DataArray (e.g. from :func:`read_volume`) brings its
        spacing and unit unless they are given here.
    phase : int or str or None
        The phase to measure. Without ``phases``, its label value, as on the command line
        (e.g. ``0`` for the pore of a 0/85/170 file); with ``phases``, its name or index,
        or ``None`` for every phase along a ``phase`` dim.
    spacing : float or 3 floats
        Voxel spacing (z, y, x) in ``unit``; required for an ndarray.
    unit : str
        Length unit of the spacing (default ``"um"``); a DataArray's own unit wins.
    quantities : sequence of str, optional
        Registered quantities to compute (default: all that the phases allow; one asked
        for by name whose phases are missing raises :class:`~uqtwin.errors.PhaseError`).
    phases : sequence of str, optional
        Phase names, one per label index ``0 .. len(phases) - 1``. Quantities that need
        phases in roles (binder contact, cell parameters) find them by these names
        (``pore``, ``binder``, ``active``); without them such quantities are skipped.
    materials : mapping, optional
        Material card per phase name (as ``[phases] materials``), for conductivities;
        needs ``phases``.

    Returns
    -------
    xarray.Dataset
        One variable per output with ``units``, ``long_name`` and ``description``;
        per-phase outputs of the chosen phase (no ``phase`` dim), or of every phase when
        ``phase`` is ``None``. Without ``phases`` and with ``particle_size_distribution``,
        also the per-particle ``particle_diameter`` list. ``attrs["skipped"]`` (JSON)
        names each quantity left out and why; each is also reported as a
        :class:`UserWarning`.

    Raises
    ------
    uqtwin.errors.PhaseError
        No spacing, a phase absent from the labels, labels outside ``0 .. len(phases) -
        1``, labels that are not 3-D integers.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.zeros((8, 8, 8), np.uint8)
    >>> labels[:, :, 4:] = 85
    >>> ds = measure(labels, 85, spacing=0.5, quantities=["volume_fraction"])
    >>> ds["volume_fraction"].item(), ds["volume_fraction"].attrs["units"]
    (0.5, '1')
    >>> every = measure(labels // 85, None, spacing=0.5, phases=["pore", "active"],
    ...                 quantities=["volume_fraction"])
    >>> every["volume_fraction"].sel(phase="active").item()
    0.5
    """
    import numpy as np
    import xarray as xr

    from uqtwin.engine.measure import measure_labels, measure_phase
    from uqtwin.errors import PhaseError

    if isinstance(labels, xr.DataArray) and "unit" in labels.attrs:
        unit = None  # the DataArray's own
    if phases is None:
        if materials:
            raise PhaseError("materials= names phases: give phases= too")
        if phase is None:
            raise PhaseError("name the phase to measure (its label value), or give phases= "
                             "to measure every phase")
        from uqtwin.volume import make_volume

        if isinstance(labels, xr.DataArray) and spacing is None and "spacing" in labels.attrs:
            volume = labels
        elif spacing is None:
            raise PhaseError("give the voxel spacing (spacing=...) of the labelled volume")
        else:
            volume = make_volume(np.asarray(getattr(labels, "values", labels)), spacing,
                                 unit or labels.attrs.get("unit", "um"))
        ds, skipped = measure_phase(volume, phase, quantities)
    else:
        ds, skipped = measure_labels(labels, phases, spacing=spacing, unit=unit,
                                     quantities=quantities, materials=materials, phase=phase)
    for name, reason in skipped.items():
        warnings.warn(f"skipped {name}: {reason}", UserWarning, stacklevel=2)
    ds.attrs["skipped"] = json.dumps(skipped)
    return ds


def run(config: str | Path | Mapping[str, Any] | RunConfig, **kwargs: Any) -> xr.Dataset:
    """Run the whole pipeline: read, segment, sample the ensemble, measure, summarise.

    What ``uqtwin run`` does; the results are also written to ``[output] path``.

    Parameters
    ----------
    config : str, pathlib.Path, mapping or RunConfig
        A TOML run configuration file (relative paths in it are relative to its folder), a
        nested mapping of the same sections (as :func:`uqtwin.engine.config.config_from_dict`
        takes; relative paths are relative to the working directory) or a
        :class:`~uqtwin.engine.config.RunConfig`.
    **kwargs
        Passed to :func:`uqtwin.engine.pipeline.run`: ``resume``, ``log`` (a callable
        receiving one line per stage), ``progress``, ``scheduler``, ``prepared``.

    Returns
    -------
    xarray.Dataset
        The results: one variable per quantity output with a ``sample`` dim, the
        pipeline's variables and the run's provenance in ``attrs``.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> folder = Path(tempfile.mkdtemp())
    >>> rng = np.random.default_rng(0)
    >>> blocks = (np.indices((16, 16, 16)) // 8).sum(axis=0) % 2   # 8-voxel checkerboard
    >>> grey = 60.0 + 120.0 * blocks + rng.normal(0, 10, blocks.shape)
    >>> np.save(folder / "scan.npy", grey.astype(np.float32))
    >>> ds = run({"input": {"path": str(folder / "scan.npy"), "spacing": [1, 1, 1]},
    ...           "phases": {"names": ["pore", "active"]},
    ...           "denoise": {"enabled": False},
    ...           "sampler": {"kind": "correlated", "n_samples": 2},
    ...           "quantities": {"names": ["volume_fraction"]},
    ...           "output": {"path": str(folder / "results.nc"), "maps": False}})
    >>> ds.sizes["sample"], round(float(ds["volume_fraction"].sel(phase="active").mean()), 1)
    (2, 0.5)
    """
    from uqtwin.engine.config import RunConfig, check_config, config_from_dict, load_config
    from uqtwin.engine.pipeline import run as _run

    if isinstance(config, RunConfig):
        cfg = check_config(config)
    elif isinstance(config, Mapping):
        cfg = config_from_dict(config)
    else:
        cfg = load_config(config)
    return _run(cfg, **kwargs)

"""uqtwin: uncertainty-quantified digital twins of battery electrodes from 3D tomograms.

The pipeline flows one way::

    io (volume + spacing) -> segment (denoise, posteriors, clean-up) -> sample (ensembles)
      -> quantities (one module each, plus the registry) -> results (xarray, schema, arviz)

``engine`` drives the stages (config, dask, persistence, resume); ``cli`` is the face.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("uqtwin")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

"""Reading and writing volumes with their voxel spacing.

:func:`read_volume` turns a TIFF stack (multi-page, ImageJ, OME), a folder of TIFF slices,
an HDF5 dataset, a zarr array, a ``.npy`` or a headerless raw file into a volume
(:func:`uqtwin.volume.make_volume`) whose ``attrs`` hold the spacing, unit and provenance
(source path, format, SHA-256). :func:`write_volume` writes the formats back, keeping the
spacing where the format can hold it. Every problem with a user's file is a
:class:`~uqtwin.errors.VolumeError` naming the file; doubts about the spacing are a
:class:`SpacingWarning`.
"""

from uqtwin.io._common import SpacingWarning, natural_key, sha256_of
from uqtwin.io.read import EXTENSIONS, FORMATS, infer_format, read_volume, write_volume

__all__ = [
    "EXTENSIONS",
    "FORMATS",
    "SpacingWarning",
    "infer_format",
    "natural_key",
    "read_volume",
    "sha256_of",
    "write_volume",
]

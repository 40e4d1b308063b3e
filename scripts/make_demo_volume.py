"""Build the demo volume that ships inside the package (run once; the output is committed).

A 64³ crop of ``../shared/data/tf_electrode.tiff`` (3-phase NMC cathode, 0.39 µm voxels,
MIT licence, © 2023 Isaac Squires, © 2026 Simon Daubner; from the TauFactor repository)
is imaged with :func:`uqtwin.phantoms.image_phantom` (blur, photon and read noise) to give a
realistic grey tomogram whose true labels are known. Both are written as ImageJ TIFFs with
their voxel spacing. Usage::

    python scripts/make_demo_volume.py ../shared/data/tf_electrode.tiff
"""

import sys
from pathlib import Path

import numpy as np
import tifffile

from uqtwin.phantoms import image_phantom

CROP = (slice(96, 160), slice(96, 160), slice(96, 160))
SPACING = 0.39  # µm
# tf_electrode labels -> phase index in order of increasing grey value in X-ray CT:
# pore (0) darkest, carbon-binder (170 in the file) intermediate, NMC (85 in the file) brightest.
LABEL_TO_PHASE = {0: 0, 170: 1, 85: 2}
MEANS = (45.0, 105.0, 175.0)


def main(source: str) -> None:
    raw = tifffile.imread(source)[CROP]
    labels = np.zeros(raw.shape, np.uint8)
    for value, phase in LABEL_TO_PHASE.items():
        labels[raw == value] = phase
    grey = image_phantom(labels, MEANS, spacing=SPACING, blur_sigma=0.8, photons=400.0,
                         read_noise=3.0, seed=2026).values
    grey = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
    out = Path(__file__).resolve().parents[1] / "uqtwin" / "data"
    meta = {"spacing": SPACING, "unit": "um", "axes": "ZYX"}
    res = (1 / SPACING, 1 / SPACING)
    tifffile.imwrite(out / "demo_electrode.tif", grey, imagej=True, resolution=res, metadata=meta,
                     compression="zlib")
    tifffile.imwrite(out / "demo_electrode_truth.tif", labels, imagej=True, resolution=res,
                     metadata=meta, compression="zlib")
    print("volume fractions (pore, binder, active):",
          [round(float(np.mean(labels == i)), 5) for i in range(3)])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/tf_electrode.tiff")

"""The results file on disk: compressed voxel maps, 8-bit probability maps."""

from __future__ import annotations

import numpy as np
import xarray as xr

from uqtwin.results.conventions import PROBABILITY_LEVELS
from uqtwin.results.dataset import open_results, write_results


def test_probability_maps_are_stored_in_8_bits_within_half_a_step(tmp_path):
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(3), size=(12, 10, 8)).transpose(3, 0, 1, 2).astype(np.float32)
    p[:, 0, 0, 0] = (0.0, 1.0, 0.0)
    entropy = rng.random((12, 10, 8)).astype(np.float32)
    ds = xr.Dataset({"phase_probability": (("phase", "z", "y", "x"), p),
                     "posterior_entropy": (("z", "y", "x"), entropy)},
                    coords={"phase": ["pore", "binder", "active"]})
    path = write_results(ds, tmp_path / "r.nc")
    back = open_results(path)
    q = back["phase_probability"].values
    assert q.dtype == np.float32
    step = 1.0 / PROBABILITY_LEVELS
    assert 0.4 * step < np.abs(q - p).max() <= 0.5 * step + 1e-7  # rounded, not truncated
    np.testing.assert_array_equal(q[:, 0, 0, 0], (0.0, 1.0, 0.0))  # 0 and 1 exact
    # what is not a probability map is stored losslessly
    np.testing.assert_array_equal(back["posterior_entropy"].values, entropy)
    import h5py

    with h5py.File(path) as f:
        assert f["phase_probability"].dtype == np.uint8
        assert f["posterior_entropy"].dtype == np.float32

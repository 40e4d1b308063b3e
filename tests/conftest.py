"""Shared fixtures. Tests that read ``../shared/data`` skip cleanly when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of the shared reference volumes (skips the test when absent)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tf_electrode(shared_data):
    """Labels of ``tf_electrode.tiff`` (256³ uint8: 0 pore, 85 NMC, 170 carbon-binder)."""
    import tifffile

    path = shared_data / "tf_electrode.tiff"
    if not path.exists():
        pytest.skip(f"{path} not found")
    return tifffile.imread(path)

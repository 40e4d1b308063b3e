"""uqtwin.segment: denoising, Gaussian-mixture phase posteriors and label clean-up.

The names below load their module on first use (PEP 562), so ``import uqtwin.segment``
(or a submodule such as :mod:`uqtwin.segment.imaging`) does not pull in scikit-learn or
scikit-image before they are needed.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "CONNECTIVITY": "cleanup",
    "connected_components": "cleanup",
    "opening_closing": "cleanup",
    "percolates": "cleanup",
    "remove_islands": "cleanup",
    "anscombe": "denoise",
    "denoise_nlm": "denoise",
    "estimate_noise_sd": "denoise",
    "inverse_anscombe": "denoise",
    "ImagingConditions": "imaging",
    "correct_drift": "imaging",
    "estimate_imaging": "imaging",
    "MixtureModel": "mixture",
    "fit_mixture": "mixture",
    "most_probable": "mixture",
    "phase_posteriors": "mixture",
    "select_n_phases": "mixture",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))

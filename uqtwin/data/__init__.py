"""Data that ships with uqtwin: the demo volume and its known truth.

``demo_electrode.tif`` is a 64³ grey tomogram (0.39 µm voxels, ImageJ TIFF with the
spacing in its metadata) simulated from a crop of a 3-phase NMC cathode whose true labels
are ``demo_electrode_truth.tif`` (0 pore, 1 carbon-binder, 2 NMC). See README.md here for
the provenance and licence, and ``scripts/make_demo_volume.py`` for how it was made.
"""

from __future__ import annotations

from pathlib import Path

from uqtwin.engine.config import (
    EngineConfig,
    InputConfig,
    OutputConfig,
    PhasesConfig,
    QuantitiesConfig,
    RunConfig,
    SamplerConfig,
    check_config,
)

DATA_DIR = Path(__file__).resolve().parent
DEMO_VOLUME = DATA_DIR / "demo_electrode.tif"
DEMO_TRUTH = DATA_DIR / "demo_electrode_truth.tif"
DEMO_PHASES = ("pore", "binder", "active")
#: Material cards of the demo's phases (NMC cathode with carbon-binder, liquid electrolyte).
DEMO_MATERIALS = {"pore": "electrolyte", "binder": "carbon_binder", "active": "nmc111"}
#: Electrolyte transport is the headline: diffusion is solved in the pore phase only (the
#: solids' transport is the electronic conductivity, computed for all of them together).
DEMO_OPTIONS = {"tortuosity_factor": {"phases": ["pore"]},
                "effective_diffusivity": {"phases": ["pore"]}}


def demo_config(
    out_dir: str | Path = "uqtwin-demo", *, n_samples: int = 32, workers: int | None = None,
    seed: int = 7,
) -> RunConfig:
    """The run configuration of ``uqtwin demo``: every registered quantity, default sampler.

    Runs on the bundled demo volume (phases pore, binder, active; electrolyte, carbon binder
    and NMC111 cards), with diffusion solved in the pore phase only.

    Parameters
    ----------
    out_dir : str or Path, optional
        Folder of the outputs; the results go to ``<out_dir>/results.nc``. Default
        ``"uqtwin-demo"`` (relative to the working directory).
    n_samples : int, optional, keyword-only
        Ensemble size; default 32.
    workers : int or None, optional, keyword-only
        Parallel workers; default None (the engine's default).
    seed : int, optional, keyword-only
        Sampler seed; default 7.

    Returns
    -------
    RunConfig
        The configuration, checked by :func:`~uqtwin.engine.config.check_config`.

    Raises
    ------
    ConfigError
        If an argument is out of range (e.g. ``n_samples`` < 1, ``workers`` < 1).
    """
    from uqtwin.quantities.registry import QUANTITIES

    return check_config(
        RunConfig(
            input=InputConfig(path=str(DEMO_VOLUME), format="tiff"),
            phases=PhasesConfig(names=DEMO_PHASES, materials=DEMO_MATERIALS),
            sampler=SamplerConfig(n_samples=n_samples, seed=seed),
            quantities=QuantitiesConfig(names=tuple(QUANTITIES), options=DEMO_OPTIONS),
            engine=EngineConfig(workers=workers),
            output=OutputConfig(path=str(Path(out_dir) / "results.nc")),
        )
    )

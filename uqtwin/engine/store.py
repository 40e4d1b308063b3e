"""Persistence of an ensemble run: every finished sample is on disk at once.

Layout of the store folder (``<output>.samples/`` beside the results file)::

    manifest.json          fingerprint of everything that determines the samples
    prepared.pkl           the fitted ensemble model (denoised volume, mixture, sampler)
    sample-000012.nc       one finished sample (its quantities and seed)

A sample file is written to a temporary name and renamed, so an interrupted run never
leaves half a sample; ``--resume`` reads the manifest, checks that the configuration
still describes the same ensemble, and computes only the samples that are missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xarray as xr

from uqtwin.errors import UqtwinInputError
from uqtwin.results.conventions import store_path
from uqtwin.results.dataset import ENGINE

_SAMPLE_RE = re.compile(r"^sample-(\d{6})\.nc$")


def fingerprint(description: Mapping[str, Any]) -> str:
    """SHA-256 of a JSON description of what determines the samples.

    Parameters
    ----------
    description : mapping
        JSON-serialisable description (e.g. config, input hash, schema version). Keys are
        sorted, so key order does not matter; values JSON cannot encode are written with
        ``str``.

    Returns
    -------
    str
        The 64-character hexadecimal digest.

    Examples
    --------
    >>> from uqtwin.engine.store import fingerprint
    >>> fingerprint({"a": 1, "b": 2}) == fingerprint({"b": 2, "a": 1})
    True
    >>> len(fingerprint({}))
    64
    """
    blob = json.dumps(description, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


@dataclass(frozen=True)
class SampleStore:
    """A folder holding the finished samples of one ensemble run."""

    path: Path

    @classmethod
    def for_output(cls, output: str | Path) -> SampleStore:
        """The store of the results file ``output`` (``<output>.samples``)."""
        return cls(store_path(output))

    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def create(self, manifest: Mapping[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        _atomic_write_text(self.manifest_path, json.dumps(dict(manifest), indent=2))

    def manifest(self) -> dict[str, Any]:
        try:
            return json.loads(self.manifest_path.read_text())
        except (OSError, ValueError) as exc:
            raise UqtwinInputError(f"cannot read {self.manifest_path}: {exc}") from None

    def check_compatible(self, expected_fingerprint: str) -> dict[str, Any]:
        """The manifest, if it was made for the same ensemble; else an error saying so."""
        manifest = self.manifest()
        if manifest.get("fingerprint") != expected_fingerprint:
            raise UqtwinInputError(
                f"cannot resume: {self.path} holds samples of a different run (input file, "
                "phases, segmentation, sampler or quantities changed). Delete the folder or "
                "choose another output path."
            )
        return manifest

    def sample_path(self, index: int) -> Path:
        return self.path / f"sample-{index:06d}.nc"

    def finished(self) -> list[int]:
        """Indices of the samples already on disk."""
        if not self.path.is_dir():
            return []
        found = (_SAMPLE_RE.match(p.name) for p in self.path.iterdir())
        return sorted(int(m.group(1)) for m in found if m)

    def save_sample(self, index: int, ds: xr.Dataset) -> None:
        path = self.sample_path(index)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            ds.to_netcdf(tmp, engine=ENGINE)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    def load_sample(self, index: int) -> xr.Dataset:
        with xr.open_dataset(self.sample_path(index), engine=ENGINE) as ds:
            return ds.load()

    def save_pickle(self, name: str, obj: Any) -> None:
        """Keep a fitted object (the ensemble model) so a resumed run need not refit it.

        A pickle is a cache of this folder only: it is written and read by the same
        uqtwin, never exchanged; :meth:`load_pickle` ignores one it cannot read.
        """
        path = self.path / f"{name}.pkl"
        tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)

    def load_pickle(self, name: str) -> Any | None:
        path = self.path / f"{name}.pkl"
        if not path.is_file():
            return None
        try:
            with path.open("rb") as fh:
                return pickle.load(fh)  # noqa: S301 - our own cache, see save_pickle
        except Exception:  # an unreadable cache is refitted, never trusted
            return None


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)

"""Which variables of a results Dataset go into which plot.

The choice reads the results' conventions (:mod:`uqtwin.results.conventions`): the
sample dim, bin and tensor dims, and each variable's role (a solver diagnostic is
summarised in the report's warnings, not plotted as a quantity).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import xarray as xr

from uqtwin.results.conventions import (
    SAMPLE_DIM,
    TENSOR_DIMS,
    VOXEL_DIMS,
    bin_dim,
    is_diagnostic,
)


def _numeric(da: xr.DataArray) -> bool:
    return da.dtype.kind in "iuf"


def scalar_variables(ds: xr.Dataset) -> list[str]:
    """Ensemble variables whose elements are scalars worth a distribution plot.

    Numeric variables with a ``sample`` dim, without a ``bin``, ``(axis, axis2)`` or voxel
    dim, that are not solver diagnostics
    (:func:`uqtwin.results.conventions.is_diagnostic`), not ``sample_seed``, and have at
    least one finite value.

    Examples
    --------
    >>> ds = xr.Dataset({"a": ("sample", [1.0, 2.0]), "b": ("sample", [np.nan, np.nan])})
    >>> scalar_variables(ds)
    ['a']
    """
    names = []
    for name, da in ds.data_vars.items():
        if SAMPLE_DIM not in da.dims or not _numeric(da) or name == "sample_seed":
            continue
        if bin_dim(da) or set(TENSOR_DIMS) <= set(da.dims):
            continue
        if set(VOXEL_DIMS) & set(da.dims) or is_diagnostic(da):
            continue
        if not np.isfinite(np.asarray(da.values, dtype=float)).any():
            continue
        names.append(str(name))
    return names


def distribution_variables(ds: xr.Dataset) -> list[str]:
    """Ensemble variables with a bin dim (``bin`` or ``*_bin``: size distributions).

    Parameters
    ----------
    ds : xarray.Dataset
        A results Dataset.

    Returns
    -------
    list of str
        Names of the numeric data variables with a ``sample`` dim and a bin dim, in the
        Dataset's order.
    """
    return [str(n) for n, da in ds.data_vars.items()
            if SAMPLE_DIM in da.dims and bin_dim(da) and _numeric(da)]


def tensor_variables(ds: xr.Dataset) -> list[str]:
    """Ensemble variables holding a 3×3 tensor over ``(axis, axis2)`` with a finite value.

    Parameters
    ----------
    ds : xarray.Dataset
        A results Dataset.

    Returns
    -------
    list of str
        Names of the numeric data variables with a ``sample`` dim and both tensor dims that
        have at least one finite value (an all-NaN or all-infinite tensor has nothing to
        plot), in the Dataset's order.
    """
    return [str(n) for n, da in ds.data_vars.items()
            if SAMPLE_DIM in da.dims and set(TENSOR_DIMS) <= set(da.dims) and _numeric(da)
            and np.isfinite(np.asarray(da.values, dtype=float)).any()]


def iter_elements(da: xr.DataArray, keep: Sequence[str] = (SAMPLE_DIM,)
                  ) -> Iterator[tuple[str, np.ndarray]]:
    """(label, values) for every combination of the dims not in ``keep``.

    Examples
    --------
    >>> da = xr.DataArray([[1, 2], [3, 4]], dims=("sample", "axis"),
    ...                   coords={"axis": ["z", "y"]})
    >>> [(label, v.tolist()) for label, v in iter_elements(da)]
    [('axis=z', [1, 3]), ('axis=y', [2, 4])]
    """
    other = [d for d in da.dims if d not in keep]
    if not other:
        yield "", np.asarray(da.transpose(*[d for d in keep if d in da.dims]).values)
        return
    for idx in np.ndindex(*[da.sizes[d] for d in other]):
        sel = dict(zip(other, idx, strict=True))
        label = ", ".join(
            f"{d}={da[d].values[i]}" if d in da.coords else f"{d}={i}"
            for d, i in sel.items()
        )
        sub = da.isel(sel)
        yield label, np.asarray(sub.transpose(*[d for d in keep if d in sub.dims]).values)

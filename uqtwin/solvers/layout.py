"""The padded-array layout of cell values and face conductances on a voxel grid.

Cell values live in *padded* arrays of shape ``(nz + 2, ny + 2, nx + 2)``: the real cells
are ``[1:-1, 1:-1, 1:-1]`` and the one-cell frame of ghosts is zero, except along periodic
axes where it holds a copy of the opposite side (:func:`fill_ghosts`). With the ghosts the
kernels need no boundary branches, so their inner loops vectorise.

Face conductances live in three arrays (see :mod:`uqtwin.solvers.conductances`):

* ``gz`` of shape ``(nz + 1, ny, nx)``: face ``f`` lies between cells ``f - 1`` and ``f``,
* ``gy`` of shape ``(nz, ny + 1, nx)``, ``gx`` of shape ``(nz, ny, nx + 1)`` likewise.

Faces ``0`` and ``n`` are the outer faces (:func:`outer_face_layers`).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "fill_ghosts",
    "outer_face_layers",
    "padded_index",
    "padded_zeros",
    "zero_frame",
]


def padded_zeros(shape, dtype=np.float32) -> np.ndarray:
    """Zero array with a one-cell ghost frame around ``shape``.

    Examples
    --------
    >>> padded_zeros((4, 3, 2)).shape
    (6, 5, 4)
    """
    nz, ny, nx = shape
    return np.zeros((nz + 2, ny + 2, nx + 2), dtype=dtype)


def padded_index(flat: np.ndarray, shape) -> np.ndarray:
    """Flat indices of cells of ``shape`` turned into flat indices of the padded array.

    Examples
    --------
    >>> padded_index(np.array([0, 5]), (2, 2, 3)).tolist()
    [26, 33]
    """
    ny, nx = shape[1], shape[2]
    k, rest = np.divmod(flat, ny * nx)
    j, i = np.divmod(rest, nx)
    return ((k + 1) * (ny + 2) + j + 1) * (nx + 2) + i + 1


def outer_face_layers(g: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Views of the first and last layers of faces normal to ``axis`` (kept 3-D).

    Parameters
    ----------
    g : ndarray, 3-D
        Face conductances normal to ``axis`` (e.g. ``gz`` of shape ``(nz + 1, ny, nx)``).
    axis : int
        0, 1 or 2.

    Returns
    -------
    first, last : ndarray
        Views (writing to them writes to ``g``) of faces ``0`` and ``n``, the outer faces,
        each of length 1 along ``axis``.

    Examples
    --------
    >>> import numpy as np
    >>> from uqtwin.solvers.layout import outer_face_layers
    >>> first, last = outer_face_layers(np.zeros((5, 4, 4)), 0)
    >>> first.shape, last.shape
    ((1, 4, 4), (1, 4, 4))
    """
    n = g.shape[axis]
    first = [slice(None)] * 3
    last = [slice(None)] * 3
    first[axis], last[axis] = slice(0, 1), slice(n - 1, n)
    return g[tuple(first)], g[tuple(last)]


def fill_ghosts(x: np.ndarray, periodic) -> None:
    """Copy the opposite side into the ghost frame along the periodic axes (in place).

    Parameters
    ----------
    x : ndarray, shape (nz + 2, ny + 2, nx + 2)
        A padded array; its ghost layers along periodic axes are overwritten.
    periodic : sequence of 3 bools
        Which axes (z, y, x) are periodic; the frame along the others is left as it is.

    Examples
    --------
    >>> import numpy as np
    >>> from uqtwin.solvers.layout import fill_ghosts
    >>> x = np.zeros((4, 3, 3))
    >>> x[1:-1, 1, 1] = [1.0, 2.0]
    >>> fill_ghosts(x, (True, False, False))
    >>> x[:, 1, 1].tolist()
    [2.0, 1.0, 2.0, 1.0]
    """
    if periodic[0]:
        x[0] = x[-2]
        x[-1] = x[1]
    if periodic[1]:
        x[:, 0] = x[:, -2]
        x[:, -1] = x[:, 1]
    if periodic[2]:
        x[:, :, 0] = x[:, :, -2]
        x[:, :, -1] = x[:, :, 1]


def zero_frame(v: np.ndarray) -> None:
    """Set the ghost frame of the padded array ``v`` to zero (in place).

    Parameters
    ----------
    v : ndarray, shape (nz + 2, ny + 2, nx + 2)
        A padded array; only its one-cell frame is written.
    """
    v[0] = v[-1] = 0.0
    v[:, 0] = v[:, -1] = 0.0
    v[:, :, 0] = v[:, :, -1] = 0.0

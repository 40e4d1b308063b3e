"""Union–find (disjoint sets) root lookup with path compression (Tarjan 1975), numba.

Shared by the intrusion size (:mod:`uqtwin.morphology.intrusion`) and the particle
markers (:mod:`uqtwin.morphology.particles`).
"""

from __future__ import annotations

import numba


@numba.njit(cache=True, nogil=True)
def find(parent, i):  # pragma: no cover - compiled
    """Root of ``i`` in a union-find forest, compressing the path (also used by the
    particle watershed in :mod:`uqtwin.quantities.particle_size`)."""
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:
        nxt = parent[i]
        parent[i] = root
        i = nxt
    return root

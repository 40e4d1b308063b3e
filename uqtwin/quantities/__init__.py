"""Quantities computed on each sampled microstructure; see :mod:`uqtwin.quantities.registry`."""

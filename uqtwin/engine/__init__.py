"""uqtwin.engine: runs the pipeline, from a run configuration to the results file.

The engine reads a TOML run configuration into frozen dataclasses and checks every key
(:mod:`~uqtwin.engine.sections`, :mod:`~uqtwin.engine.config`); prepares the fitted
ensemble model once per volume (read, imaging conditions, denoise, mixture and the
sampler kind of :mod:`uqtwin.sample.kinds`: :mod:`~uqtwin.engine.stages`); evaluates each
sample from its seed alone, drawing and cleaning a microstructure and computing its
quantities (:mod:`~uqtwin.engine.evaluate`); schedules the samples through dask, locally
(:mod:`~uqtwin.engine.local`) or on a dask.distributed cluster, persisting each finished
one so an interrupted run resumes (:mod:`~uqtwin.engine.pipeline`,
:mod:`~uqtwin.engine.store`); and collects them into the results Dataset
(:mod:`~uqtwin.engine.collect`). :mod:`~uqtwin.engine.measure` computes the quantities of
an already-segmented volume without sampling, and :mod:`~uqtwin.engine.redraw` reproduces
a finished run's samples.
"""

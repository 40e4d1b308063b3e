"""A self-contained HTML report of a results file.

:func:`write_report` writes ONE HTML file: inline CSS, every picture a base64 PNG data
URI, no script and no external resource, so it can be mailed, archived beside the
results or opened offline. It explains itself to a reader who has not seen the code:
each section starts with a short note on what it shows and how to read it.

Sections: about, warnings, input and provenance, pipeline settings, segmentation
(slices, most probable phase, entropy), sampled microstructures, summary table,
distributions of the quantities, size distributions and tensors (when present),
convergence with the number of samples.

Modules: :mod:`~uqtwin.report.checks` (the warnings), :mod:`~uqtwin.report.tables`,
:mod:`~uqtwin.report.html` (style, images, tables as HTML) and
:mod:`~uqtwin.report.render` (the document).
"""

from uqtwin.report.checks import (
    MAX_DRIFT,
    MAX_RESIDUAL,
    MIN_SAMPLES,
    ReportWarning,
    find_warnings,
)
from uqtwin.report.render import GALLERY_SIZE, render_report, write_report

__all__ = [
    "GALLERY_SIZE",
    "MAX_DRIFT",
    "MAX_RESIDUAL",
    "MIN_SAMPLES",
    "ReportWarning",
    "find_warnings",
    "render_report",
    "write_report",
]

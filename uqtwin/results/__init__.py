"""Results: the ensemble as an xarray Dataset, its schema, and arviz summaries."""

from uqtwin.results.dataset import open_results, write_results
from uqtwin.results.schema import schema_problems, validate
from uqtwin.results.summary import summarize, summary_markdown, write_summary

__all__ = [
    "open_results",
    "schema_problems",
    "summarize",
    "summary_markdown",
    "validate",
    "write_results",
    "write_summary",
]

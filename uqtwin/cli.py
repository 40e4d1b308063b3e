"""The ``uqtwin`` command line: a thin face over the library.

Errors in the user's input are printed as one line naming the problem, with exit code 2
and no traceback; everything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from uqtwin import __version__
from uqtwin.errors import UqtwinInputError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="uqtwin: uncertainty-quantified digital twins of battery electrodes from tomograms.",
    pretty_exceptions_enable=False,
)
# Piped or captured output has no terminal width; 120 columns keep the tables readable.
console = Console(width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 120)


def _fail(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def _print_table(table, hdi_prob: float) -> None:
    pct = f"{100 * hdi_prob:g}%"
    t = Table(title=f"Ensemble summary (mean, sd, {pct} HDI)")
    for col in ("quantity", "units", "mean", "sd", f"{pct} HDI", "P(∞)", "spread from"):
        t.add_column(col, justify="left" if col in ("quantity", "units") else "right",
                     no_wrap=True)
    from uqtwin.results.summary import format_value as _fmt

    for name, row in table.iterrows():
        t.add_row(
            escape(str(name)), escape(str(row["units"])), _fmt(row["mean"]), _fmt(row["sd"], 3),
            f"[{_fmt(row['hdi_low'])}, {_fmt(row['hdi_high'])}]",
            _fmt(row["p_inf"]) if row["p_inf"] else "0",
            escape(str(row.get("spread_from", ""))),
        )
    console.print(t)


def _run_config(cfg, *, resume: bool, scheduler: str | None) -> Path:
    from uqtwin.engine.pipeline import run
    from uqtwin.results.summary import summarize, write_summary

    out = Path(cfg.output.path)
    with Progress(
        TextColumn("[progress.description]{task.description}"), BarColumn(),
        MofNCompleteColumn(), TimeElapsedColumn(), console=err_console, transient=False,
    ) as bar:
        task = bar.add_task("samples", total=cfg.sampler.n_samples)

        def log(msg: str) -> None:
            bar.console.print(f"[dim]·[/] {escape(msg)}")

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            ds = run(cfg, resume=resume, log=log, progress=progress, scheduler=scheduler)
        except KeyboardInterrupt:
            from uqtwin.engine.store import SampleStore
            from uqtwin.results.conventions import store_path

            store = SampleStore(store_path(out))
            err_console.print(
                f"[yellow]interrupted:[/] {len(store.finished())} finished samples are kept in "
                f"{escape(str(store.path))}; run again with --resume to continue"
            )
            raise typer.Exit(code=130) from None
    table = summarize(ds, cfg.output.hdi_prob)
    _print_table(table, cfg.output.hdi_prob)
    paths = write_summary(table, out.with_suffix(""), cfg.output.hdi_prob)
    console.print(f"results: {out}\nsummary: {', '.join(str(p) for p in paths)}")
    return out


@app.command()
def demo(
    out: Path = typer.Option(Path("uqtwin-demo"), help="Folder for the demo's results."),
    samples: int = typer.Option(32, help="Number of sampled microstructures."),
    workers: int | None = typer.Option(None, help="Local worker threads (default: all cores)."),
    resume: bool = typer.Option(False, help="Continue an interrupted demo run."),
) -> None:
    """Run the whole pipeline on the small electrode volume that ships with uqtwin."""
    from uqtwin.data import demo_config

    try:
        cfg = demo_config(out, n_samples=samples, workers=workers)
        console.print(f"uqtwin {__version__} demo: {cfg.input.path}")
        results = _run_config(cfg, resume=resume, scheduler=None)
        from uqtwin.report import write_report

        report = write_report(results, results.with_name("report.html"))
        console.print(f"report: {report}")
    except UqtwinInputError as exc:
        _fail(str(exc))


@app.command("run")
def run_cmd(
    config: Path = typer.Argument(..., help="TOML run configuration."),
    resume: bool = typer.Option(False, help="Continue an interrupted run; keeps finished samples."),
    scheduler: str | None = typer.Option(
        None, help="'local' or the address of a dask.distributed scheduler (tcp://host:8786)."
    ),
) -> None:
    """Run the pipeline described by a config file on your own data."""
    from uqtwin.engine.config import load_config

    try:
        cfg = load_config(config)
        _run_config(cfg, resume=resume, scheduler=scheduler)
    except UqtwinInputError as exc:
        _fail(str(exc))


@app.command()
def validate(file: Path = typer.Argument(..., help="Results NetCDF file.")) -> None:
    """Check a results file against the versioned results schema."""
    from uqtwin.results.conventions import SAMPLE_DIM
    from uqtwin.results.dataset import open_results
    from uqtwin.results.schema import schema_problems

    try:
        ds = open_results(file)
    except UqtwinInputError as exc:
        _fail(str(exc))
    problems = schema_problems(ds)
    if problems:
        err_console.print(f"[bold red]{file} does not match the results schema:[/]")
        for p in problems:
            err_console.print(f"  - {p}", highlight=False)
        raise typer.Exit(code=1)
    console.print(f"{file}: valid (results schema v{ds.attrs['schema_version']}, "
                  f"{len(ds.data_vars)} variables, {ds.sizes.get(SAMPLE_DIM, 0)} samples)")


@app.command()
def summarize(
    file: Path = typer.Argument(..., help="Results NetCDF file."),
    hdi_prob: float | None = typer.Option(None, help="HDI probability (default: the run's)."),
) -> None:
    """Reprint the summary table of a results file (mean, sd, HDI)."""
    from uqtwin.results.conventions import hdi_prob_of
    from uqtwin.results.dataset import open_results
    from uqtwin.results.summary import summarize as _summarize

    try:
        ds = open_results(file)
    except UqtwinInputError as exc:
        _fail(str(exc))
    prob = hdi_prob_of(ds, hdi_prob)
    if not 0 < prob < 1:
        _fail(f"--hdi-prob must be in (0, 1), got {prob}")
    _print_table(_summarize(ds, prob), prob)


@app.command()
def measure(
    volume: Path = typer.Argument(..., help="Labelled (segmented) volume file."),
    phase: str = typer.Option(..., help="Label value of the phase (e.g. 0 for pore)."),
    spacing: tuple[float, float, float] | None = typer.Option(
        None, help="Voxel spacing Z Y X (default: from the file's metadata)."),
    unit: str | None = typer.Option(None, help="Length unit of the spacing (default um)."),
    quantity: list[str] | None = typer.Option(
        None, "--quantity", "-q", help="Quantity to compute (repeatable; default all)."),
    file_format: str | None = typer.Option(None, "--format", help="Input format."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Compute quantities of an already-segmented labelled volume (no sampling)."""
    from uqtwin import read_volume
    from uqtwin.engine.measure import measure_phase, to_json_dict

    try:
        with warnings.catch_warnings():
            if as_json:  # keep stdout a single JSON object; warnings go to stderr anyway
                warnings.simplefilter("default")
            vol = read_volume(volume, format=file_format, spacing=spacing,
                              unit=unit if unit or spacing is None else "um")
            ds, skipped = measure_phase(vol, phase, quantity or None)
    except UqtwinInputError as exc:
        _fail(str(exc))
    for name, reason in skipped.items():
        err_console.print(f"[yellow]skipped {name}:[/] {escape(reason)}", highlight=False)
    result = to_json_dict(ds)
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
        return
    t = Table(title=f"{volume.name}, phase {phase}")
    for col in ("quantity", "value", "units"):
        t.add_column(col)
    for name, entry in result.items():
        t.add_row(escape(name), escape(json.dumps(entry["value"])), escape(entry["units"]))
    console.print(t)


@app.command()
def version() -> None:
    """Print the uqtwin version."""
    console.print(__version__)


@app.command()
def report(
    file: Path = typer.Argument(..., help="Results NetCDF file."),
    out: Path | None = typer.Option(
        None, help="HTML file to write (default: report.html beside the results)."),
) -> None:
    """Write a self-contained HTML report (plots, summary, warnings) of a results file."""
    from uqtwin.report import write_report

    try:
        path = write_report(file, out if out is not None else file.with_name("report.html"))
    except UqtwinInputError as exc:
        _fail(str(exc))
    console.print(f"report: {path}")


export_app = typer.Typer(no_args_is_help=True, help="Export results to other tools.")
app.add_typer(export_app, name="export")


@export_app.command("pybamm")
def export_pybamm(
    file: Path = typer.Argument(..., help="Results NetCDF file."),
    out: Path | None = typer.Option(
        None, help="Folder for the JSON files (default: beside the results)."),
    electrode: str = typer.Option("positive", help="'positive' or 'negative'."),
    through_axis: str = typer.Option(
        "z", help="Through-thickness axis for the Bruggeman coefficient (z, y, x or 'mean')."),
) -> None:
    """Write PyBaMM parameter sets: pybamm_median.json and pybamm_samples.json."""
    from uqtwin.export import export_notes, write_pybamm
    from uqtwin.results.dataset import open_results

    try:
        ds = open_results(file)
        axis = None if through_axis == "mean" else through_axis
        paths = write_pybamm(ds, out if out is not None else file.parent, electrode,
                             through_axis=axis)
        notes = export_notes(ds, electrode, through_axis=axis)
    except UqtwinInputError as exc:
        _fail(str(exc))
    for note in notes:
        console.print(f"[dim]·[/] {escape(note)}")
    console.print("written: " + ", ".join(str(p) for p in paths))


def main() -> None:
    """Entry point of the ``uqtwin`` script."""
    app()


if __name__ == "__main__":
    main()

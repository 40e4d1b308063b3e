"""HTML building blocks of the report: style, images as data URIs, tables."""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence

from matplotlib.figure import Figure

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #1b1f24; background: #fff; line-height: 1.45; }
main { max-width: 1100px; margin: 0 auto; padding: 1.5em 2em 4em; }
h1 { font-size: 1.8em; margin-bottom: 0.1em; }
h2 { border-bottom: 2px solid #0072B2; padding-bottom: 0.15em; margin-top: 2em; }
p.lead { color: #555; margin-top: 0; }
.note { background: #f3f6fa; border-left: 4px solid #0072B2; padding: 0.5em 1em;
        margin: 0.8em 0; font-size: 0.95em; }
.warn { background: #fff4e5; border-left: 4px solid #D55E00; padding: 0.4em 1em;
        margin: 0.4em 0; }
.ok { background: #eaf7ef; border-left: 4px solid #009E73; padding: 0.4em 1em; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.6em 0; }
th, td { border: 1px solid #d0d7de; padding: 0.25em 0.6em; text-align: right; }
th { background: #f6f8fa; }
td.l, th.l { text-align: left; }
code, pre { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.88em; }
pre { background: #f6f8fa; padding: 0.8em; overflow-x: auto; }
img { max-width: 100%; height: auto; display: block; margin: 0.6em 0; }
nav ol { columns: 2; }
"""


def png_uri(fig: Figure, dpi: int = 90) -> str:
    """A figure as a ``data:`` URI; fixed metadata keeps the file reproducible.

    The PNG's ``Software`` entry (the Matplotlib version) is left out, so the same figure
    gives the same bytes whatever the Matplotlib version, and reports can be compared.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    dpi : int, optional
        Resolution of the PNG; default 90.

    Returns
    -------
    str
        ``"data:image/png;base64,..."``, ready for an ``<img src>``.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def img(fig: Figure, alt: str) -> str:
    """An ``<img>`` tag holding ``fig`` as a PNG data URI.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    alt : str
        The image's alternative text.

    Returns
    -------
    str
    """
    return f'<img src="{png_uri(fig)}" alt="{html.escape(alt)}">'


def esc(value: object) -> str:
    """``str(value)`` escaped for HTML.

    Examples
    --------
    >>> esc("a < b")
    'a &lt; b'
    """
    return html.escape(str(value))


def table(rows: Sequence[tuple[str, str]]) -> str:
    """A two-column HTML table of (label, value) rows.

    Examples
    --------
    >>> table([("seed", "7")])
    '<table><tr><th class="l">seed</th><td class="l">7</td></tr></table>'
    """
    body = "".join(f'<tr><th class="l">{esc(k)}</th><td class="l">{esc(v)}</td></tr>'
                   for k, v in rows)
    return f"<table>{body}</table>"


def settings_table(cfg: dict) -> str:
    """The configuration as a (section, setting, value) table; unset (null) values shown
    as “default (automatic or from the file)”."""
    if not cfg:
        return "<p>(not recorded)</p>"
    out = ['<table><tr><th class="l">section</th><th class="l">setting</th>'
           '<th class="l">value</th></tr>']
    for section, values in cfg.items():
        items = values.items() if isinstance(values, dict) else [("", values)]
        for i, (key, value) in enumerate(items):
            shown = ("default (automatic or from the file)" if value is None
                     else ", ".join(map(str, value)) if isinstance(value, list)
                     else json.dumps(value) if isinstance(value, dict) else str(value))
            head = f'<td class="l" rowspan="{len(items)}"><b>{esc(section)}</b></td>' \
                if i == 0 else ""
            out.append(f'<tr>{head}<td class="l">{esc(key)}</td>'
                       f'<td class="l">{esc(shown)}</td></tr>')
    out.append("</table>")
    return "".join(out)

"""What goes into the Snakemake report: summary tables as HTML, and which expected outputs exist.

The report viewer shows images and HTML pages but offers a CSV only as a download,
so each summary table is also written as a small HTML page. A report built after a
partial run holds only the outputs that exist; :func:`status_table` lists the ones
that do not, so that the report says what is missing.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

import pandas as pd

from rnn_dynamics.ground.storage import atomic_path
from rnn_dynamics.outputs import catalogue
from rnn_dynamics.outputs.timeline import per_rule

__all__ = [
    "STATUS_COLUMNS",
    "describe_output",
    "html_fragment",
    "html_page",
    "status_table",
    "write_html_table",
    "write_status",
]

# Where the workflow writes the outputs a report shows (see workflow/rules/common.smk).
# A figure of one model, or of one of its systems (results/{dataset}/figures/{model}/{system}/{name}.png).
_FIGURE = re.compile(r"^results/(?P<dataset>[^/]+)/figures/(?P<model>[^/]+)/(?P<output>(?:[^/]+/)?[^/]+)\.png$")
_TABLE = re.compile(r"^results/(?P<dataset>[^/]+)/tables/(?P<output>[^/]+)\.(?:csv|html)$")
# A table or figure across all datasets run (results/{name}.csv|html|png).
_ACROSS = re.compile(r"^results/(?P<output>[^/]+)\.(?:csv|html|png)$")

STATUS_COLUMNS = ["dataset", "model", "output", "path", "status"]

_STYLE = """
body { font-family: system-ui, sans-serif; font-size: 13px; margin: 1em; }
table { border-collapse: collapse; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f3f4f6; }
td:first-child, th:first-child { text-align: left; }
.missing { color: #b91c1c; font-weight: bold; }
"""


def describe_output(path: str) -> dict[str, str]:
    """Dataset, model and output name of a figure or table path; model is "all models" for a table."""
    normalised = Path(path).as_posix()
    figure = _FIGURE.match(normalised)
    if figure:
        return figure.groupdict()
    table = _TABLE.match(normalised)
    if table:
        return {**table.groupdict(), "model": "all models"}
    across = _ACROSS.match(normalised)
    if across:
        return {**across.groupdict(), "dataset": "all datasets", "model": "all models"}
    raise ValueError(
        f"report output {path!r} is neither results/{{dataset}}/figures/{{model}}/[{{system}}/]{{name}}.png "
        "nor results/{dataset}/tables/{name}.csv|html nor results/{name}.csv|html|png"
    )


def status_table(expected: list[str], present: list[str]) -> pd.DataFrame:
    """One row per expected output with its status, "present" or "missing"; missing rows first.

    ``present`` must be a subset of ``expected``: a present file that is not expected means
    the caller and the workflow disagree about what a run makes.
    """
    present_set = {Path(p).as_posix() for p in present}
    expected_set = {Path(p).as_posix() for p in expected}
    unexpected = sorted(present_set - expected_set)
    if unexpected:
        raise ValueError(f"present outputs not among the expected ones: {unexpected}")
    rows = [
        {**describe_output(path), "path": path, "status": "present" if path in present_set else "missing"}
        for path in sorted(expected_set)
    ]
    table = pd.DataFrame(rows, columns=STATUS_COLUMNS)
    return table.sort_values(["status", "dataset", "model", "output"], kind="stable").reset_index(drop=True)


def html_page(table: pd.DataFrame, title: str, summary: str = "") -> str:
    """A standalone HTML page holding ``table`` under ``title``, with an optional summary line."""
    body = table.to_html(index=False, border=0, na_rep="", float_format=lambda x: f"{x:.4g}")
    # Make missing outputs stand out in the status table.
    body = body.replace("<td>missing</td>", '<td class="missing">missing</td>')
    summary_html = f"<p>{html.escape(summary)}</p>" if summary else ""
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head>\n<body><h2>{html.escape(title)}</h2>{summary_html}\n{body}\n</body></html>\n"
    )


def html_fragment(table: pd.DataFrame, name: str) -> str:
    """The table as a bare ``<table>`` for the report's first page (no page, no style of its own).

    The timeline, one row per job, is shown there as its summary per rule, with the wall time.
    """
    summary = ""
    if name == "timeline":
        span = float(table["end_s"].max()) if len(table) else 0.0
        summary = f"<p>{len(table)} jobs; from the first job's start to the last one's end: {span:.1f} s.</p>\n"
        table = per_rule(table)
    body = table.to_html(index=False, border=0, na_rep="", float_format=lambda x: f"{x:.4g}", classes="summary-table")
    # A wide table scrolls within the page rather than running under the rule graph beside it.
    return f'{summary}<div class="summary-scroll">\n{body}\n</div>\n'


def write_html_table(
    csv_path: str | os.PathLike, html_path: str | os.PathLike, name: str, fragment_path: str | os.PathLike | None = None
) -> None:
    """Write the summary table ``name`` (a key of ``catalogue.TABLES``, whose title the page takes) from
    ``csv_path`` as an HTML page, atomically, and with ``fragment_path`` also as the bare table
    (``html_fragment``) that the report's first page embeds."""
    if name not in catalogue.TABLES:
        raise ValueError(f"{csv_path}: unknown summary table {name!r}; known: {sorted(catalogue.TABLES)}")
    table = catalogue.read(name, csv_path)
    with atomic_path(html_path) as tmp:
        Path(tmp).write_text(html_page(table, catalogue.TABLES[name].title), encoding="utf-8")
    if fragment_path is not None:
        with atomic_path(fragment_path) as tmp:
            Path(tmp).write_text(html_fragment(table, name), encoding="utf-8")


def write_status(expected: list[str], present: list[str], html_path: str | os.PathLike) -> pd.DataFrame:
    """Write the status of the expected outputs as an HTML page (atomically); returns the table."""
    table = status_table(expected, present)
    missing = int((table["status"] == "missing").sum())
    summary = (
        f"All {len(table)} expected outputs are present."
        if missing == 0
        else f"{missing} of {len(table)} expected outputs are missing: the report shows only those present."
    )
    with atomic_path(html_path) as tmp:
        Path(tmp).write_text(html_page(table, "Run status: expected outputs", summary), encoding="utf-8")
    return table

"""A run's generated results page, ``results/{dataset}/RESULTS.md``, and its publication under ``docs/results/``.

The page holds the run's data card, summary tables and figures under a provenance block (commit,
configuration and its hash, date, machine, library versions, wall time per stage), so
that every published number is traced to what produced it. ``publish`` copies a page
and the figures it shows into a folder, adding only a short introduction.
"""

from __future__ import annotations

import argparse
import datetime
import math
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import yaml

from rnn_dynamics.ground import provenance
from rnn_dynamics.ground.stages import ContextSettings
from rnn_dynamics.ground.storage import atomic_path, remake_hint
from rnn_dynamics.outputs import catalogue, timeline
from rnn_dynamics.outputs import tables as summary_tables
from rnn_dynamics.outputs.catalogue import FIGURES, SYSTEM_FIGURES

__all__ = [
    "FIGURES",
    "GENERATED",
    "SENTENCES",
    "SYSTEM_FIGURES",
    "format_value",
    "markdown_table",
    "missing_models",
    "page",
    "publish",
    "published_intro",
    "write",
]

# What the page says above a table's rows, where it says more than its columns (by table name).
SENTENCES = {
    "similarity": summary_tables.similarity_sentences,
    "tolerance": summary_tables.tolerance_sentences,
    "seeds": summary_tables.seed_sentences,
    "evidence": summary_tables.evidence_sentences,
}


def format_value(value) -> str:
    """A table cell as text: integers as they are, other numbers to 4 significant digits, NaN as n/a."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15):
        return str(int(value))
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def markdown_table(table: pd.DataFrame) -> str:
    """``table`` as a Markdown table, its cells formatted by ``format_value``."""
    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + " --- |" * len(table.columns)]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(format_value(_python(value)) for value in row) + " |")
    return "\n".join(lines)


def _python(value):
    return value.item() if hasattr(value, "item") else value


def _meanings(name: str, columns: Sequence[str]) -> str:
    known = catalogue.TABLES[name].columns
    return "\n".join(f"- `{column}`: {known.get(column, '(not described)')}" for column in columns)


def missing_models(dataset: str, tables: Mapping[str, pd.DataFrame], models: Mapping[str, Sequence[str]]) -> None:
    """Raise ValueError where a table the page shows has a ``model`` column but no row of a model it covers
    (``models[entry.covers]``, ``catalogue.COVERAGES``): it names the table's file, the models and how to make
    the table again (its ``--forcerun`` target)."""
    for entry in catalogue.page_tables():
        table = tables.get(entry.name)
        if table is None or "model" not in table.columns:
            continue
        missing = [model for model in models[entry.covers] if model not in set(table["model"])]
        if missing:
            path = entry.path(dataset)
            raise ValueError(
                f"{path}: no row of {len(missing)} model(s) of the grid (models in the config): {missing}; "
                f"the table is older than the grid, or damaged{remake_hint(path)}"
            )


def _provenance(config: Mapping, metrics: Sequence[dict], stages: pd.DataFrame, wall_s: float) -> str:
    code = provenance.code_version()
    system = provenance.machine()
    commit = code["commit"] or "unknown (not a git checkout)"
    dirty = {True: "yes: uncommitted changes to tracked files", False: "no", None: "unknown"}[code["dirty"]]
    trained = sorted(
        {
            f"{(entry.get('code') or {}).get('commit') or 'not recorded'} on {entry.get('device', 'unknown')}"
            for entry in metrics
        }
    )
    rows = [
        ("commit", f"`{commit}`"),
        ("uncommitted changes", dirty),
        ("models trained at (commit on device)", "; ".join(trained) or "n/a"),
        ("configuration hash", f"`{provenance.config_hash(dict(config))}` (the configuration below)"),
        ("generated", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        (
            "machine",
            system["cpu"] + (f"; GPU {system['gpu']}, driver {system['driver']}" if system["gpu"] else "; no GPU"),
        ),
        ("torch, Python", f"{system['torch']}, {system['python']} ({system['platform']})"),
        ("wall time", f"{wall_s:.0f} s from the first job's start to the last one's end (timeline.csv)"),
    ]
    lines = ["| | |", "| --- | --- |"] + [f"| {key} | {value} |" for key, value in rows]
    lines += ["", "Wall time per stage (`timeline.csv`: seconds summed over a rule's jobs, and the longest job):", ""]
    shown = stages[["rule", "jobs", "sum_s", "max_s", "max_rss"]].rename(columns={"max_rss": "max_rss (MB)"})
    lines.append(markdown_table(shown) if len(stages) else "(no jobs)")
    lines += [
        "",
        "<details><summary>Configuration as resolved</summary>",
        "",
        "```yaml",
        yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True).rstrip(),
        "```",
        "",
        "</details>",
    ]
    return "\n".join(lines)


def _data_section(table: pd.DataFrame, figure: str | None) -> list[str]:
    """The body of the page's Data section: the data table (``tables.data_table``) as the splits per measure,
    the vocabulary and the embeddings' coverage, the artefacts per detector and the cleaning, with the length
    histogram ``figure`` (a path relative to the page) and what each measure means (the catalogue's)."""
    parts = ["`tables/data.csv` (the data card, `data/card.json`):", ""]
    splits = table[table["section"] == "splits"]
    if len(splits):
        wide = splits.pivot(index="name", columns="measure", values="value")
        wide = wide.loc[list(dict.fromkeys(splits["name"])), list(dict.fromkeys(splits["measure"]))]
        parts += [markdown_table(wide.reset_index().rename(columns={"name": "split"}).map(_number)), ""]
    for section in ("vocabulary", "embedding"):
        for name, rows in table[table["section"] == section].groupby("name", sort=False):
            values = ", ".join(f"{m} {format_value(_number(v))}" for m, v in zip(rows["measure"], rows["value"]))
            parts.append(f"- {name}: {values}")
    artefacts = table[table["section"] == "artefacts"]
    if len(artefacts):
        wide = artefacts.pivot(index="name", columns="measure", values="value").fillna("")
        wide = wide.loc[list(dict.fromkeys(artefacts["name"])), ["texts", "rule", "examples"]]
        parts += ["", markdown_table(wide.reset_index().rename(columns={"name": "detector"}).map(_number))]
    cleaning = dict(zip(*table[table["section"] == "cleaning"][["measure", "value"]].fillna("").values.T))
    if cleaning:
        rules = cleaning.get("rules") or "none"
        chosen = f"the dataset's `{cleaning['key']}` key" if cleaning.get("key") else "the reader"
        parts += ["", f"Cleaning rules the texts went through: {rules} (chosen by {chosen}; docs/data.md)."]
    if figure:
        parts += ["", f"![review length in tokens, per split]({figure})"]
    measures = catalogue.TABLES["data"].measures
    parts += ["", "Measures:", "", *(f"- `{m}`: {meaning}" for m, meaning in measures.items())]
    return parts


def _number(value):
    """A value of the data table, whose column holds text and numbers alike, as a number where it is one."""
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return value
    return value


def page(
    dataset: str,
    tables: Mapping[str, pd.DataFrame],
    timeline_table: pd.DataFrame,
    metrics: Sequence[dict],
    figures: Mapping[str, Sequence[str]],
    config: Mapping,
    models: Mapping[str, Sequence[str]],
    data_figure: str | None = None,
) -> str:
    """The Markdown of a run's results page.

    Args:
        dataset: the dataset's name.
        tables: the summary tables by name: every one of ``catalogue.page_tables()``, its optional ones
            (the similarity table) where the run makes them.
        timeline_table: the run's ``timeline.csv``.
        metrics: every model's ``metrics.json`` (for the commit and device that trained it).
        figures: per model id, figure paths relative to the page.
        config: the configuration as resolved.
        models: the model ids each coverage names (``catalogue.COVERAGES``: the grid's, the context stage's):
            a table with no row of one it covers is refused (``missing_models``).
        data_figure: the length histogram's path relative to the page, shown in the Data section.
    """
    missing = [entry.name for entry in catalogue.page_tables() if entry.name not in tables and not entry.optional]
    if missing:
        raise ValueError(f"results page of {dataset}: no {missing} table among {sorted(tables)}")
    missing_models(dataset, tables, models)
    stages = timeline.per_rule(timeline_table) if len(timeline_table) else pd.DataFrame()
    wall_s = float(timeline_table["end_s"].max()) if len(timeline_table) else 0.0
    parts = [
        f"# Results: {dataset}",
        "",
        f"{GENERATED}; every number below is read from the run's tables (`results/{dataset}/tables/`).",
        "",
        "## Provenance",
        "",
        _provenance(config, metrics, stages, wall_s),
    ]
    for entry in catalogue.page_tables():
        if entry.name not in tables:
            continue
        table = tables[entry.name]
        parts += ["", f"## {entry.heading}", ""]
        if entry.name == "data":
            parts += _data_section(table, data_figure)
            continue
        if entry.name == "context":
            settings = ContextSettings.from_config(config.get("context", {}))
            sentences = summary_tables.context_sentences(table, list(settings.modifiers), list(settings.null_words))
            parts += [f"- {sentence}" for sentence in sentences] + [""]
        if entry.name in SENTENCES:
            parts += [f"- {sentence}" for sentence in SENTENCES[entry.name](table)] + [""]
        parts += [f"`tables/{entry.name}.csv`:", "", markdown_table(table), ""]
        parts += ["Columns:", "", _meanings(entry.name, list(table.columns))]
    parts += ["", "## Figures"]
    for model_id, paths in figures.items():
        parts += ["", f"### {model_id}", ""]
        for path in paths:
            name = Path(path).stem
            shown = FIGURES.get(name) or f"{Path(path).parent.name}: {SYSTEM_FIGURES.get(name, name)}"
            parts += [f"![{model_id}: {shown}]({path})", ""]
    return "\n".join(parts).rstrip() + "\n"


def write(text: str, path: str | Path) -> None:
    """Write the page atomically."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)


GENERATED = "Generated by the pipeline's `results_page` rule"
_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)]+)\)")


def published_intro(path: str | Path) -> str:
    """The introduction of a published page: the text between its title and the generated part."""
    text = Path(path).read_text()
    _, _, rest = text.partition("\n")
    return rest.split(GENERATED, 1)[0].strip() if GENERATED in rest else ""


def publish(page_path: str | Path, destination: str | Path, intro: str = "") -> Path:
    """Copy a results page and every image it shows into ``destination``, with ``intro`` above it.

    The page's text is not changed otherwise, so a published page says what the run said. With no
    ``intro``, a page published there before keeps its introduction. Returns the path of the copied
    page (``destination/RESULTS.md``).
    """
    page_path, destination = Path(page_path), Path(destination)
    text = page_path.read_text()
    if not intro.strip() and (destination / "RESULTS.md").exists():
        intro = published_intro(destination / "RESULTS.md")
    for link in _IMAGE.findall(text):
        source = page_path.parent / link
        if not source.exists():
            raise FileNotFoundError(f"{page_path}: shows {link}, which is not at {source}")
        target = destination / link
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    if intro.strip():
        title, _, rest = text.partition("\n")
        text = f"{title}\n\n{intro.strip()}\n{rest}"
    destination.mkdir(parents=True, exist_ok=True)
    write(text, destination / "RESULTS.md")
    return destination / "RESULTS.md"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Copy a generated results page and its figures into a folder.")
    parser.add_argument("page", help="a generated page, e.g. results/imdb/RESULTS.md")
    parser.add_argument("destination", help="e.g. docs/results/imdb-gru-cpu")
    parser.add_argument("--intro", help="a Markdown file: what the experiment asks, put under the title")
    args = parser.parse_args(argv)
    intro = Path(args.intro).read_text() if args.intro else ""
    print(publish(args.page, args.destination, intro))


if __name__ == "__main__":
    main()

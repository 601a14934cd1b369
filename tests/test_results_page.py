"""The generated results page: its tables equal the run's CSVs, its provenance is the run's; publishing copies it."""

import json
import math
import re
import subprocess

import pandas as pd
import pytest

from rnn_dynamics.ground.provenance import CHECKOUT, config_hash
from rnn_dynamics.outputs import results_page, tables, timeline


def page_tables(text: str) -> dict[str, list[list[str]]]:
    """The Markdown tables of a page that follow a "`tables/{name}.csv`:" line, as header + rows of cells."""
    found = {}
    for match in re.finditer(r"`tables/(\w+)\.csv`:\n\n((?:\|.*\|\n)+)", text):
        lines = match.group(2).strip().splitlines()
        rows = [[cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines]
        found[match.group(1)] = [rows[0]] + rows[2:]
    return found


def assert_cell_equals(cell: str, value, where: str) -> None:
    """A page cell shows the CSV's value: integers and text exactly, other numbers to their 4 digits."""
    if isinstance(value, float) and math.isnan(value):
        assert cell == "n/a", where
    elif isinstance(value, (bool,)) or isinstance(value, str):
        assert cell.replace("\\|", "|") == str(value), where
    elif isinstance(value, int) or float(value).is_integer():
        assert int(cell) == int(value), where
    else:
        assert float(cell) == pytest.approx(float(value), rel=5e-4, abs=0), where


def assert_page_shows(text: str, csvs: dict[str, pd.DataFrame]) -> None:
    shown = page_tables(text)
    assert set(shown) == set(csvs)
    for name, table in csvs.items():
        header, *rows = shown[name]
        assert header == list(table.columns), name
        assert len(rows) == len(table), name
        for i, (row, expected) in enumerate(zip(rows, table.itertuples(index=False))):
            for column, cell, value in zip(header, row, expected):
                assert_cell_equals(cell, value.item() if hasattr(value, "item") else value, f"{name} row {i} {column}")


def test_every_column_of_every_table_has_its_meaning():
    columns = {
        "accuracy": tables.ACCURACY_COLUMNS,
        "explained_variance": ["model", "split", "layer", "weights", "explained_1", "explained_2", "explained_3"],
        "fixed_points": tables.FIXED_POINT_TABLE_COLUMNS,
        "comparison": tables.COMPARISON_COLUMNS,
    }
    assert set(columns) == set(results_page.TABLES)
    for name, names in columns.items():
        assert list(results_page.MEANINGS[name]) == list(names), name


@pytest.mark.parametrize(
    "value, text",
    [
        (3, "3"),
        (2.0, "2"),
        (0.123456, "0.1235"),
        (float("nan"), "n/a"),
        (True, "True"),
        ("a|b", "a\\|b"),
        (1e-7, "1e-07"),
    ],
)
def test_cells_are_formatted_to_four_significant_digits(value, text):
    assert results_page.format_value(value) == text


def synthetic_like_tables():
    accuracy = pd.DataFrame(
        [{column: 0 for column in tables.ACCURACY_COLUMNS} | {"model": "gru-L1-E16-H32-s0", "test_accuracy": 0.96123}]
    )
    explained = pd.DataFrame(
        {"model": ["m", "m"], "layer": [1, 1], "weights": ["trained", "untrained"], "explained_1": [0.9, 0.3],
         "explained_2": [0.95, 0.5], "explained_3": [0.97, float("nan")]}
    )  # fmt: skip
    fixed = pd.DataFrame([{column: 1.5 for column in tables.FIXED_POINT_TABLE_COLUMNS} | {"model": "m"}])
    comparison = pd.DataFrame([{column: 0.25 for column in tables.COMPARISON_COLUMNS} | {"model": "m"}])
    return {"accuracy": accuracy, "explained_variance": explained, "fixed_points": fixed, "comparison": comparison}


def test_a_page_shows_its_tables_and_provenance(tmp_path):
    csvs = synthetic_like_tables()
    runs = pd.DataFrame({"rule": ["train", "train"], "s": [10.0, 5.0], "max_rss": [100.0, 120.0],
                         "start_s": [0.0, 10.0], "end_s": [10.0, 15.0]})  # fmt: skip
    config = {"run_datasets": ["toy"], "training": {"epochs": 3}}
    metrics = [{"model": "m", "device": "cpu", "code": {"commit": "abc123", "dirty": False}}]
    text = results_page.page("toy", csvs, runs, metrics, {"m": ["figures/m/fixed_points.png"]}, config)
    assert_page_shows(text, csvs)
    assert f"`{config_hash(config)}`" in text
    assert "abc123 on cpu" in text
    assert "15 s from the first job's start" in text
    assert "| train | 2 | 15 | 10 | 120 |" in text
    assert "![m: approximate fixed points" in text and "(figures/m/fixed_points.png)" in text


def test_publish_copies_the_page_and_the_figures_it_shows(tmp_path):
    run = tmp_path / "results" / "toy"
    (run / "figures" / "m").mkdir(parents=True)
    (run / "figures" / "m" / "line.png").write_bytes(b"png")
    body = f"{results_page.GENERATED}. ![m](figures/m/line.png)\n"
    (run / "RESULTS.md").write_text(f"# Results: toy\n\n{body}")
    published = results_page.publish(run / "RESULTS.md", tmp_path / "docs" / "toy", intro="What it asks.")
    assert published.read_text() == f"# Results: toy\n\nWhat it asks.\n\n{body}"
    assert (tmp_path / "docs" / "toy" / "figures" / "m" / "line.png").read_bytes() == b"png"
    (run / "RESULTS.md").write_text(f"# Results: toy\n\n{results_page.GENERATED}, again.\n")
    again = results_page.publish(run / "RESULTS.md", tmp_path / "docs" / "toy")
    assert again.read_text() == f"# Results: toy\n\nWhat it asks.\n\n{results_page.GENERATED}, again.\n"
    (run / "RESULTS.md").write_text("# Results: toy\n![m](figures/m/missing.png)\n")
    with pytest.raises(FileNotFoundError, match="missing.png"):
        results_page.publish(run / "RESULTS.md", tmp_path / "docs" / "other")


@pytest.mark.slow
def test_the_synthetic_run_ends_with_its_results_page(synthetic_pipeline):
    results = synthetic_pipeline / "results" / "synthetic"
    text = (results / "RESULTS.md").read_text()
    csvs = {name: pd.read_csv(results / "tables" / f"{name}.csv") for name in results_page.TABLES}
    assert_page_shows(text, csvs)
    commit = subprocess.run(["git", "-C", str(CHECKOUT), "rev-parse", "HEAD"], capture_output=True, text=True)
    assert f"| commit | `{commit.stdout.strip()}` |" in text
    assert re.search(r"\| configuration hash \| `[0-9a-f]{12}` ", text)
    assert "```yaml\nrun_datasets:\n- synthetic\n" in text
    metrics = json.loads((results / "models" / "gru-L1-E16-H32-s0" / "metrics.json").read_text())
    assert f"{metrics['code']['commit']} on cpu" in text
    stages = timeline.per_rule(pd.read_csv(results / "tables" / "timeline.csv"))
    assert f"| train | 2 | {results_page.format_value(float(stages.set_index('rule').loc['train', 'sum_s']))} |" in text
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        assert (results / link).stat().st_size > 10_000, link

"""The generated results page: its tables equal the run's CSVs, its provenance is the run's; publishing copies it."""

import json
import math
import re
import subprocess

import pandas as pd
import pytest

from rnn_dynamics.ground.provenance import CHECKOUT, config_hash
from rnn_dynamics.outputs import catalogue, results_page, tables, timeline


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


def test_every_column_of_every_table_on_the_page_has_its_meaning():
    shown = [table.name for table in catalogue.page_tables()]
    assert shown == [
        "data", "accuracy", "explained_variance", "fixed_points", "tolerance", "comparison", "evidence", "seeds",
        "similarity", "context", "context_ablation", "context_bow",
    ]  # fmt: skip
    for name in shown:
        assert all(meaning.strip() for meaning in catalogue.TABLES[name].columns.values()), name
    assert catalogue.TABLES["explained_variance"].names == [
        "model", "split", "layer", "weights", "explained_1", "explained_2", "explained_3"
    ]  # fmt: skip


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


def data_like_table() -> pd.DataFrame:
    """The data table of a small hand-written data card (``datasets.data_card``'s keys)."""
    split = {"rows": 2, "labels": {"0": 1, "1": 1}, "length_median": 3.0, "length_p95": 4.0, "length_max": 4,
             "unknown_share": 0.0}  # fmt: skip
    card = {
        "splits": {name: split for name in ("train", "valid", "test")},
        "vocabulary": {"size": 10, "training_tokens": 6, "unknown_training_share": 0.0},
        "artefacts": {"entities": {"texts": 1, "rule": "entities", "examples": [{"id": "train/0", "match": "&amp;"}]}},
        "cleaning": {"rules": [], "key": "clean"},
    }
    return tables.data_table(card)


def synthetic_like_tables():
    accuracy = pd.DataFrame(
        [{column: 0 for column in catalogue.TABLES["accuracy"].names} | {"model": "m", "test_accuracy": 0.96123}]
    )
    explained = pd.DataFrame(
        {"model": ["m", "m"], "layer": [1, 1], "weights": ["trained", "untrained"], "explained_1": [0.9, 0.3],
         "explained_2": [0.95, 0.5], "explained_3": [0.97, float("nan")]}
    )  # fmt: skip
    fixed = pd.DataFrame([{column: 1.5 for column in catalogue.TABLES["fixed_points"].names} | {"model": "m"}])
    comparison = pd.DataFrame([{column: 0.25 for column in catalogue.TABLES["comparison"].names} | {"model": "m"}])
    return {
        "accuracy": accuracy, "explained_variance": explained, "fixed_points": fixed,
        "tolerance": tolerance_like_table(), "comparison": comparison, "seeds": seeds_like_table(),
        "evidence": evidence_like_table(),
    }  # fmt: skip


def evidence_like_table():
    """A readout share beyond its random subspaces, and the states' variance against one untrained network."""
    columns = catalogue.TABLES["evidence"].names
    return pd.DataFrame(
        [
            ("m", "test", "layer1", "readout_in_manifold_share", 0.9, "random_subspace", 0.02, 0.005, 0.05, 1000,
             True, "larger"),
            ("m", "test", "layer1", "states_explained_2", 0.95, "untrained", 0.5, 0.5, 0.5, 1, True, "larger"),
        ],
        columns=columns,
    )  # fmt: skip


def seeds_like_table():
    """Test accuracy over three seeds of two batch sizes."""
    rows = [
        {
            "model": f"gru-L1-E8-H16{batch}-s{seed}",
            "system": "layer1",
            "test_accuracy": 0.9 - 0.1 * bool(batch) + seed / 100,
        }
        for batch in ("", "-B16")
        for seed in range(3)
    ]
    return tables.seeds_table(pd.DataFrame(rows, columns=catalogue.TABLES["comparison"].names))


def tolerance_like_table():
    """A system where no start passes the published tolerance, and a line at ten times it."""
    nan = float("nan")
    return pd.DataFrame(
        [
            ("m", "test", "layer1", 1.0, 2e-6, True, 0, 0, nan, nan, nan, nan, "no fixed point"),
            ("m", "test", "layer1", 10.0, 2e-5, False, 420, 300, 0.9, 0.97, 1, 1.06, "line"),
        ],
        columns=catalogue.TABLES["tolerance"].names,
    )


def test_a_page_shows_its_tables_and_provenance(tmp_path):
    csvs = synthetic_like_tables()
    runs = pd.DataFrame({"rule": ["train", "train"], "s": [10.0, 5.0], "max_rss": [100.0, 120.0],
                         "start_s": [0.0, 10.0], "end_s": [10.0, 15.0]})  # fmt: skip
    config = {"run_datasets": ["toy"], "training": {"epochs": 3}}
    metrics = [{"model": "m", "device": "cpu", "code": {"commit": "abc123", "dirty": False}}]
    figures = {"m": ["figures/m/fixed_points.png"]}
    models = {"grid": ["m"], "context": []}
    text = results_page.page("toy", {"data": data_like_table(), **csvs}, runs, metrics, figures, config, models,
                             "figures/data/lengths.png")  # fmt: skip
    assert_page_shows(text, csvs)
    # The data card in a section of its own, before the accuracy, with its figure and its measures' meanings.
    assert text.index("## Data") < text.index("## Accuracy")
    data = text[text.index("## Data") : text.index("## Accuracy")]
    assert "| split | rows | label 0 | label 1 |" in data and "| train | 2 | 1 | 1 | 3 | 4 | 4 | 0 |" in data
    assert "| entities | 1 | entities | train/0: &amp; |" in data
    assert "![review length in tokens, per split](figures/data/lengths.png)" in data
    assert f"- `length_p95`: {catalogue.TABLES['data'].measures['length_p95']}" in data
    assert f"`{config_hash(config)}`" in text
    assert "abc123 on cpu" in text
    assert "15 s from the first job's start" in text
    assert "| train | 2 | 15 | 10 | 120 |" in text
    assert "![m: approximate fixed points" in text and "(figures/m/fixed_points.png)" in text
    # A system where nothing passes the tolerance says so in words, and the sweep's word beside it.
    assert "- m (test) layer1: no fixed point: no start's q fell below 2e-06 at the published tolerance" in text
    assert "the word depends on the tolerance (10x: a line (300 unique points" in text
    assert "- m (test) layer1, readout_in_manifold_share 0.9: beyond its null (random_subspace: median 0.02, " in text
    assert "states_explained_2 0.95: beyond its null (untrained: median 0.5, one network, n = 1)." in text
    # Two grid points along an axis: their n, and different only where the permutation test says so.
    assert "- batch_size, gru-L1-E8-H16 against gru-L1-E8-H16-B16 (layer1), test_accuracy: 0.91 (n = 3" in text
    assert "too few seeds to test (a permutation test over seeds cannot give a two-sided p below 0.1" in text


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
    # The data table is shown as its section (test_a_page_shows_its_tables_and_provenance), the others row by row.
    shown = [table.name for table in catalogue.page_tables() if not table.optional and table.name != "data"]
    csvs = {name: pd.read_csv(results / "tables" / f"{name}.csv") for name in shown}
    assert_page_shows(text, csvs)
    assert text.index("## Data") < text.index("## Accuracy") and "(figures/data/lengths.png)" in text
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


# --- a page over a damaged table: named with its --forcerun target; the last good page kept ------------------


def grid_run(directory, models):
    """Every input of the results page of ``configs/synthetic.yaml``'s dataset, made up: tables of the catalogue's
    columns with a row per model, a small data card's table, a metrics.json per model and a placeholder for each
    figure."""
    results = directory / "results" / "synthetic"
    rows = {
        "accuracy": [{"model": model, "test_accuracy": 0.9} for model in models],
        "explained_variance": [{"model": model, "split": "test", "layer": 1, "weights": "trained"} for model in models],
        "fixed_points": [{"model": model, "split": "test", "system": "layer1", "starts": 4} for model in models],
        "tolerance": [
            {
                "model": model,
                "split": "test",
                "system": "layer1",
                "multiple": 1.0,
                "published": True,
                "shape": "no fixed point",
            }
            for model in models
        ],  # fmt: skip
        "comparison": [{"dataset": "synthetic", "model": model, "system": "layer1"} for model in models],
        "evidence": [{"model": model, "split": "test", "system": "layer1", "measure": "pcs_90"} for model in models],
        "seeds": [
            {"grid_point": model.rsplit("-s", 1)[0], "system": "layer1", "measure": "pcs_90"} for model in models
        ],
        "timeline": [{"rule": "train", "model": models[0], "s": 5.0, "max_rss": 100.0, "start_s": 0.0, "end_s": 5.0}],
    }
    for name, table_rows in rows.items():
        columns = catalogue.TABLES[name].expected_columns([])
        (results / "tables").mkdir(parents=True, exist_ok=True)
        pd.DataFrame(table_rows, columns=columns).to_csv(results / "tables" / f"{name}.csv", index=False)
    data_like_table().to_csv(results / "tables" / "data.csv", index=False)
    (results / "figures" / "data").mkdir(parents=True)
    (results / "figures" / "data" / "lengths.png").write_bytes(b"png")
    for model in models:
        (results / "models" / model).mkdir(parents=True, exist_ok=True)
        (results / "models" / model / "metrics.json").write_text(json.dumps({"model": model, "device": "cpu"}))
        systems = ["layer1"] + (["layer2"] if "-L2-" in model else [])
        for name in [*results_page.FIGURES, *(f"{system}/manifold" for system in systems)]:
            figure = results / "figures" / model / f"{name}.png"
            figure.parent.mkdir(parents=True, exist_ok=True)
            figure.write_bytes(b"png")
    return results


def test_a_table_that_lacks_a_model_of_the_grid_is_refused_naming_the_model(tmp_path):
    results = grid_run(tmp_path, ["gru-L1-E16-H32-s0"])
    path = results / "tables" / "accuracy.csv"
    header = catalogue.TABLES["accuracy"].expected_columns([])
    path.write_text(",".join(header) + "\n")  # a header, no row
    shown = {table.name: catalogue.read(table.name, results / "tables" / f"{table.name}.csv") for table in
             catalogue.page_tables() if not table.optional}  # fmt: skip
    assert len(shown["accuracy"]) == 0
    with pytest.raises(ValueError) as error:
        results_page.page("synthetic", shown, pd.DataFrame(), [], {}, {}, {"grid": ["gru-L1-E16-H32-s0"]})
    message = str(error.value)
    assert message.startswith("results/synthetic/tables/accuracy.csv: no row of 1 model(s) of the grid")
    assert "['gru-L1-E16-H32-s0']" in message and "--forcerun results/synthetic/tables/accuracy.csv`" in message


@pytest.mark.slow
def test_a_results_page_that_fails_keeps_the_last_good_one(tmp_path):
    """The real rule on made-up inputs (the rules before it not allowed): a 0-byte table, then a header-only
    accuracy table, each fail naming the table and its --forcerun target, and the last good page stays."""
    from pipeline import copy_workflow, snakemake

    models = ["gru-L1-E16-H32-s0", "gru-L2-E16-H32-s0"]  # configs/synthetic.yaml's grid
    directory = copy_workflow(tmp_path / "run")
    results = grid_run(directory, models)
    command = ["results/synthetic/RESULTS.md", "--cores", "1", "--configfile", "configs/synthetic.yaml"]
    command += ["--allowed-rules", "results_page"]
    made = snakemake(directory, *command, timeout=300)
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    good = (results / "RESULTS.md").read_text()
    assert "\n| gru-L2-E16-H32-s0 | n/a |" in good
    log = directory / "logs" / "synthetic" / "results_page.log"
    header = ",".join(catalogue.TABLES["accuracy"].expected_columns([])) + "\n"
    for damage, expected in [
        (b"", "results/synthetic/tables/accuracy.csv: unreadable (0 bytes"),
        (header.encode(), f"results/synthetic/tables/accuracy.csv: no row of 2 model(s) of the grid (models in the "
                          f"config): {models}"),
    ]:  # fmt: skip
        (results / "tables" / "accuracy.csv").write_bytes(damage)
        failed = snakemake(directory, *command, timeout=300)
        output = failed.stdout + failed.stderr + log.read_text()
        assert failed.returncode != 0 and expected in output, output[-3000:]
        assert "--forcerun results/synthetic/tables/accuracy.csv`" in output, output[-3000:]
        assert (results / "RESULTS.md").read_text() == good


def test_a_context_table_covers_only_the_models_the_stage_probes():
    """A two-layer model analysed per layer gets no context job: the context tables need no row of it."""
    context = pd.DataFrame({"model": ["gru-L1-E16-H32-s0"]})
    grid = ["gru-L1-E16-H32-s0", "gru-L2-E16-H32-s0"]
    results_page.missing_models("synthetic", {"context": context}, {"grid": grid, "context": grid[:1]})
    with pytest.raises(ValueError, match=r"context\.csv: no row of 1 model\(s\).*gru-L2-E16-H32-s0"):
        results_page.missing_models("synthetic", {"context": context}, {"grid": grid, "context": grid})

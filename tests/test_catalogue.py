"""The catalogue of summary tables: one entry per table, read by the functions, the report, the page and the hints."""

import pandas as pd
import pytest

from rnn_dynamics.dynamics import similarity
from rnn_dynamics.ground import storage
from rnn_dynamics.outputs import catalogue, tables


def test_every_table_is_traced_to_its_rule_and_the_across_datasets_table_to_its_own():
    for table in catalogue.TABLES.values():
        assert storage.producing_rule(f"/run/{table.path('toy')}") == table.rule, table.name
        assert storage.forcerun_target(f"/run/{table.path('toy')}") == table.path("toy"), table.name
    assert storage.producing_rule("results/comparison.csv") == "comparison_across_datasets"


def test_the_tables_written_by_other_modules_have_the_catalogues_columns():
    assert catalogue.TABLES["similarity"].names == similarity.COLUMNS
    assert list(tables.comparison_table([], []).columns) == catalogue.TABLES["comparison"].names
    assert list(tables.fixed_point_table([]).columns) == catalogue.TABLES["fixed_points"].names
    accuracy = catalogue.TABLES["accuracy"]
    assert list(tables.accuracy_table([]).columns) == accuracy.expected_columns([]) != accuracy.names


def test_a_table_is_read_back_only_with_its_columns(tmp_path):
    path = tmp_path / "results/toy/tables/comparison.csv"
    path.parent.mkdir(parents=True)
    columns = catalogue.TABLES["comparison"].names
    pd.DataFrame([{"model": "m"}], columns=columns).to_csv(path, index=False)
    assert catalogue.read("comparison", path)["model"].tolist() == ["m"]
    pd.DataFrame([{"model": "m"}], columns=columns[:-1]).to_csv(path, index=False)
    with pytest.raises(storage.SchemaError, match=r"comparison.csv: the columns .* \(missing \['shuffled_accuracy'\]\)"
                       r".*--forcerun results/toy/tables/comparison.csv`"):  # fmt: skip
        catalogue.read("comparison", path)
    # The N-class columns of the accuracy table may be left out; a column of no table may not.
    accuracy = tmp_path / "results/toy/tables/accuracy.csv"
    pd.DataFrame(columns=catalogue.TABLES["accuracy"].expected_columns([])).to_csv(accuracy, index=False)
    assert len(catalogue.read("accuracy", accuracy)) == 0
    pd.DataFrame(columns=["model", "bogus"]).to_csv(accuracy, index=False)
    with pytest.raises(storage.SchemaError, match=r"accuracy.csv: .*rule `accuracy_table`"):
        catalogue.read("accuracy", accuracy)


def test_a_table_of_0_bytes_is_named_with_its_rule_and_forcerun_target(tmp_path):
    path = tmp_path / "results" / "synthetic" / "tables" / "fixed_points.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    with pytest.raises(storage.UnreadableFile) as error:
        catalogue.read("fixed_points", path)
    message = str(error.value)
    assert message.startswith(f"{path}: unreadable (0 bytes") and "made by rule `fixed_point_table`" in message
    assert "--forcerun results/synthetic/tables/fixed_points.csv`" in message

"""benchmarks/record.py: a benchmark's JSON stored with its provenance and rendered as a row of docs/benchmarks.md."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("record", ROOT / "benchmarks" / "record.py")
record = importlib.util.module_from_spec(spec)
spec.loader.exec_module(record)

PRINT = 'print(\'warming up\'); print(\'{"lm_seconds": 1.2345678, "run": {"speedup": 10.5, "starts": 500}}\')'


def test_a_benchmark_row_shows_what_the_benchmark_printed(tmp_path):
    page = tmp_path / "benchmarks.md"
    page.write_text("# Benchmarks\n\n<!-- rows -->\nold row\n<!-- /rows -->\n\nHistory\n")
    entry = record.record("toy", [sys.executable, "-c", PRINT], records=tmp_path / "records")
    stored = json.loads((tmp_path / "records" / "toy.json").read_text())
    assert stored["result"] == {"lm_seconds": 1.2345678, "run": {"speedup": 10.5, "starts": 500}}
    assert stored["code"] == entry["code"] and stored["machine"]["torch"]
    record.render(tmp_path / "records", page)
    text = page.read_text()
    assert "old row" not in text and text.endswith("<!-- /rows -->\n\nHistory\n")
    row = next(line for line in text.splitlines() if line.startswith("| toy |"))
    assert "`lm_seconds` 1.235; `run.starts` 500 |" in row
    assert row.endswith("| `run.speedup` 10.5 |")


def test_a_benchmark_that_fails_or_prints_no_json_records_nothing(tmp_path):
    with pytest.raises(SystemExit, match="failed"):
        record.record("bad", [sys.executable, "-c", "raise SystemExit(3)"], records=tmp_path)
    with pytest.raises(SystemExit, match="not a JSON object"):
        record.record("bad", [sys.executable, "-c", "print('done')"], records=tmp_path)
    assert not list(tmp_path.glob("*.json"))

"""Run a benchmark and record its JSON, with the commit and machine, as a row of docs/benchmarks.md.

    python benchmarks/record.py NAME -- python benchmarks/prepare.py ../shared/data/imdb/aclImdb_v1_labelled.tar.gz
    python benchmarks/record.py --render          # rebuild docs/benchmarks.md from docs/benchmarks/*.json

The benchmark's last line of output is its JSON object. It is stored, with the command,
the machine, the commit and the date, in ``docs/benchmarks/NAME.json``; the table of
docs/benchmarks.md (between its ``<!-- rows -->`` markers) is rendered from those
records, so every figure there is one a benchmark printed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import subprocess
import sys
from pathlib import Path

from rnn_dynamics.ground import provenance
from rnn_dynamics.outputs.results_page import format_value

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "docs" / "benchmarks"
PAGE = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- rows -->", "<!-- /rows -->"


def _flatten(value, prefix: str = "") -> dict:
    if isinstance(value, dict):
        found = {}
        for key, item in value.items():
            found.update(_flatten(item, f"{prefix}{key}."))
        return found
    return {prefix.rstrip("."): value}


def _is_ratio(key: str) -> bool:
    return any(word in key.split(".")[-1] for word in ("speedup", "ratio"))


def render_row(record: dict) -> str:
    figures = _flatten(record["result"])
    text = lambda keys: "; ".join(f"`{key}` {format_value(figures[key])}" for key in keys)  # noqa: E731
    code = record["code"]
    commit = f"`{(code['commit'] or 'unknown')[:10]}`" + (" (dirty)" if code["dirty"] else "")
    machine = record["machine"]["cpu"] + (f"; {record['machine']['gpu']}" if record["machine"]["gpu"] else "")
    return (
        f"| {record['name']} | `{record['command']}` | {machine}; torch {record['machine']['torch']} | "
        f"{commit} {record['date']} | {text(k for k in figures if not _is_ratio(k))} | "
        f"{text(k for k in figures if _is_ratio(k)) or 'n/a'} |"
    )


def render(records: Path = RECORDS, page_path: Path = PAGE) -> None:
    """Rebuild the table of ``page_path`` (docs/benchmarks.md) from every record in ``records``."""
    rows = [render_row(json.loads(path.read_text())) for path in sorted(records.glob("*.json"))]
    page = page_path.read_text()
    if BEGIN not in page or END not in page:
        raise SystemExit(f"{page_path}: no {BEGIN} ... {END} markers to put the table between")
    head, _, rest = page.partition(BEGIN)
    _, _, tail = rest.partition(END)
    header = (
        "| benchmark | command | machine | commit, date | figures | ratios |\n| --- | --- | --- | --- | --- | --- |"
    )
    page_path.write_text(f"{head}{BEGIN}\n{header}\n" + "\n".join(rows) + f"\n{END}{tail}")


def record(name: str, command: list[str], records: Path = RECORDS) -> dict:
    """Run ``command`` from the repository root, echoing its output; store its last line's JSON as ``name``."""
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    last = ""
    for line in process.stdout:
        sys.stdout.write(line)
        if line.strip():
            last = line
    if process.wait() != 0:
        raise SystemExit(f"{shlex.join(command)} failed with exit status {process.returncode}; nothing recorded")
    try:
        result = json.loads(last)
    except json.JSONDecodeError:
        raise SystemExit(f"{shlex.join(command)}: its last line is not a JSON object: {last[:200]!r}") from None
    entry = {
        "name": name,
        "command": shlex.join(command),
        "result": result,
        "code": provenance.code_version(),
        "machine": provenance.machine(),
        "date": datetime.date.today().isoformat(),
    }
    records.mkdir(parents=True, exist_ok=True)
    (records / f"{name}.json").write_text(json.dumps(entry, indent=1) + "\n")
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", help="the benchmark's name in the table")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the benchmark's command")
    parser.add_argument("--render", action="store_true", help="only rebuild the table from the records")
    args = parser.parse_args()
    if not args.render:
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        if not args.name or not command:
            parser.error("give NAME -- COMMAND, or --render")
        record(args.name, command)
    render()


if __name__ == "__main__":
    main()

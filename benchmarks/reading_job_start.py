"""What a job that only reads stored results pays to start: the imports of the gather and table scripts
(``dynamics.fixed_point_sets``, ``outputs.tables``) against the search's module (``dynamics.fixed_points``,
which loads torch), each in a fresh Python process, interleaved, the median of ``--repeats``.

    python benchmarks/reading_job_start.py [--quick]

The last line printed is one JSON object: the seconds of each and their ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

IMPORTS = {
    "gather_job": "from rnn_dynamics.dynamics import fixed_point_sets",
    "table_job": "from rnn_dynamics.outputs import tables",
    "search_module": "from rnn_dynamics.dynamics import fixed_points",
}
TIMED = (
    "import sys, time\nbegan = time.perf_counter()\n{line}\nprint(time.perf_counter() - began, 'torch' in sys.modules)"
)


def start(line: str) -> tuple[float, bool]:
    out = subprocess.run(
        [sys.executable, "-c", TIMED.format(line=line)], capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), out[1] == "True"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="3 repeats")
    args = parser.parse_args()
    repeats = 3 if args.quick else args.repeats
    seconds = {name: [] for name in IMPORTS}
    torch_loaded = {}
    for name, line in IMPORTS.items():  # a warm-up of each: the first start reads the files from disk
        start(line)
    for _ in range(repeats):
        for name, line in IMPORTS.items():
            took, torch_loaded[name] = start(line)
            seconds[name].append(took)
    median = {name: statistics.median(values) for name, values in seconds.items()}
    result = {"repeats": repeats}
    for name in IMPORTS:
        result[f"{name}_s"] = round(median[name], 4)
        result[f"{name}_loads_torch"] = torch_loaded[name]
    result["search_module_over_table_job"] = round(median["search_module"] / median["table_job"], 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Rule timeline: the benchmark records of a dataset's jobs gathered into one table."""

import logging
from pathlib import Path

from rnn_dynamics import logs, timeline

with logs.to_file(snakemake.log[0]):
    expected = [Path(p) for p in snakemake.params.records]
    present = [p for p in expected if p.exists()]
    missing = [p.as_posix() for p in expected if not p.exists()]
    if missing:
        logging.getLogger("timeline").warning("%d of %d benchmark records missing, left out: %s", len(missing), len(expected), missing)
    table = timeline.timeline_table(present, snakemake.params.root)
    timeline.write(table, snakemake.output[0])
    print(timeline.per_rule(table).to_string(index=False))

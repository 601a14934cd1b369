# Reverse-engineering recurrent sentiment classifiers: see README.md.
import os
import shlex
import sys

from snakemake.logging import logger
from snakemake.utils import min_version, validate

from rnn_dynamics.ground.config import check_keys, check_values, coerce_scalars
from rnn_dynamics.ground.storage import hold_run_lock

min_version("9.0")


configfile: "config.yaml"


# Nested `--config` overrides arrive as strings; read numbers as numbers before validating.
config.update(coerce_scalars(config))
# A misspelt key: name it, its file and the allowed keys (the validator would print the whole schema).
check_keys(config, os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml"), workflow.configfiles)


validate(config, "workflow/schemas/config.schema.yaml")
# Keys whose values must go together (fixed_points.shards <= starts): the schema checks one key at a time.
check_values(config)


report: "workflow/report/workflow.rst"


# One run at a time on results/, whatever --nolock says: a second run stops here, before its first job. A job
# refused later would fail, and Snakemake deletes a failed job's outputs: the files the first run is writing.
# Only a run that executes jobs calls onstart (not -n, --lint, --report, --unlock); the jobs Snakemake starts
# with --mode subprocess or remote (SLURM) parse this file again with --no-hooks, and are not the main process.
onstart:
    if workflow.is_main_process:
        held = hold_run_lock("results", shlex.join(sys.argv))
        if held.taken_over:
            logger.warning(f"{held.path}: taken over from {held.taken_over}, which ended without releasing it")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/states.smk"
include: "workflow/rules/fixed_points.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/analyses.smk"
include: "workflow/rules/similarity.smk"
include: "workflow/rules/tables.smk"


if config["context"]["enabled"]:

    include: "workflow/rules/context.smk"


# Rules of a second that gather tables and pages, and the downloads (compute nodes often have no internet): on a
# cluster they run on the submitting host instead of waiting in the queue (docs/slurm.md).
localrules:
    all,
    download,
    download_glove,
    data_table,
    accuracy_table,
    explained_variance_table,
    fixed_point_table,
    tolerance_table,
    evidence_table,
    seeds_table,
    comparison_table,
    comparison_across_datasets,
    table_html,
    timeline,
    report_status,
    results_page,


rule all:
    default_target: True
    input:
        all_targets(),

# Reverse-engineering recurrent sentiment classifiers: see README.md.
import os

from snakemake.utils import min_version, validate

from rnn_dynamics.ground.config import check_keys, check_values, coerce_scalars

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


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/states.smk"
include: "workflow/rules/fixed_points.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/analyses.smk"
include: "workflow/rules/similarity.smk"
include: "workflow/rules/tables.smk"


rule all:
    default_target: True
    input:
        all_targets(),

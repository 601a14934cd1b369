# The summary tables of a run (one script and one function of rnn_dynamics.outputs.tables per table; their names,
# rules and columns in rnn_dynamics.outputs.catalogue), their HTML pages for the report, the run's timeline, the
# status page of a partial run and the results page.


# The data card as a table, with the coverage of each embedding the models read.
rule data_table:
    input:
        card="results/{dataset}/data/card.json",
        coverage=embedding_coverages,
    output:
        "results/{dataset}/tables/data.csv",
    log:
        "logs/{dataset}/tables/data.log",
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/data_table.py"


rule accuracy_table:
    input:
        per_model("results/{dataset}/models/{model}/metrics.json"),
    output:
        "results/{dataset}/tables/accuracy.csv",
    log:
        "logs/{dataset}/tables/accuracy.log",
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/accuracy_table.py"


rule explained_variance_table:
    input:
        all_pca_tables,
    output:
        "results/{dataset}/tables/explained_variance.csv",
    log:
        "logs/{dataset}/tables/explained_variance.log",
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/explained_variance_table.py"


rule fixed_point_table:
    input:
        all_fixed_point_tables,
    output:
        "results/{dataset}/tables/fixed_points.csv",
    log:
        "logs/{dataset}/tables/fixed_points.log",
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/fixed_point_table.py"


# The fixed-point set at each multiple of the search's tolerance (fixed_points.q_sweep): the search run again
# from the same starts, on the CPU (three LM searches of each system).
rule tolerance_table:
    input:
        fixed_points=all_gathered_fixed_points,
        metrics=per_model("results/{dataset}/models/{model}/metrics.json"),
        models=per_model("results/{dataset}/models/{model}/model.pt"),
    output:
        "results/{dataset}/tables/tolerance.csv",
    log:
        "logs/{dataset}/tables/tolerance.log",
    conda:
        "../../envs/pipeline.yaml"
    params:
        models=[m.id for m in MODELS],
        multiples=config["fixed_points"]["q_sweep"],
        settings=stage_params(stages.SearchSettings),
    script:
        "../../scripts/tolerance_table.py"


rule comparison_table:
    input:
        analyses=analysis_folders,
        metrics=per_model("results/{dataset}/models/{model}/metrics.json"),
        pca=per_model("results/{dataset}/pca/{model}.parquet"),
    output:
        "results/{dataset}/tables/comparison.csv",
    log:
        "logs/{dataset}/tables/comparison.log",
    conda:
        "../../envs/pipeline.yaml"
    params:
        models=[m.id for m in MODELS],
        kind=lambda wildcards: dataset_spec(wildcards)["kind"],
    script:
        "../../scripts/comparison_table.py"


# Each published measure beside its null (the analyses' nulls, the untrained network's states, the
# similarity table's noise floors and untrained distances where the run compares systems).
rule evidence_table:
    input:
        analyses=analysis_folders,
        explained_variance="results/{dataset}/tables/explained_variance.csv",
        similarity=lambda wildcards: (
            [f"results/{wildcards.dataset}/tables/similarity.csv"] if ASKED_FOR["similarity"]() else []
        ),
    output:
        "results/{dataset}/tables/evidence.csv",
    log:
        "logs/{dataset}/tables/evidence.log",
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/evidence_table.py"


# Each measure of the comparison table over the seeds of each grid point.
rule seeds_table:
    input:
        "results/{dataset}/tables/comparison.csv",
    output:
        "results/{dataset}/tables/seeds.csv",
    log:
        "logs/{dataset}/tables/seeds.log",
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/seeds_table.py"


rule comparison_across_datasets:
    input:
        expand("results/{dataset}/tables/comparison.csv", dataset=config["run_datasets"]),
    output:
        table="results/comparison.csv",
        html=report("results/comparison.html", caption="../report/comparison.rst", category="across datasets"),
        figure=report("results/comparison.png", caption="../report/comparison.rst", category="across datasets"),
    log:
        "logs/comparison.log",
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/comparison_across_datasets.py"


rule table_html:
    input:
        "results/{dataset}/tables/{table}.csv",
    output:
        html=report(
            "results/{dataset}/tables/{table}.html",
            caption="../report/table.rst",
            category="{dataset}",
            subcategory="summary tables",
        ),
        # The bare table, which the report's first page (workflow/report/workflow.rst) embeds.
        fragment="results/{dataset}/tables/{table}.fragment.html",
    log:
        "logs/{dataset}/tables/{table}_html.log",
    wildcard_constraints:
        table="|".join(table.name for table in catalogue.report_tables()),
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/table_html.py"


# The run's timeline: every job's benchmark record (rule, model, system, shard, seconds, peak memory).
# It waits for every model's last outputs and reads the records that exist then (never asks for one:
# a deleted record must not make its job, say a training, run again); the log names the missing ones.
rule timeline:
    input:
        model_outputs,
    output:
        "results/{dataset}/tables/timeline.csv",
    log:
        "logs/{dataset}/tables/timeline.log",
    conda:
        "../../envs/pipeline.yaml"
    params:
        records=benchmark_records,
        root="logs/benchmarks/{dataset}",
    script:
        "../../scripts/timeline.py"


# After a partial run: `snakemake --cores 1 report_status --report report.html --report-after-run`
# builds a report of the outputs that exist, with this table of the ones that do not.
rule report_status:
    input:
        present_targets,
    output:
        report("results/report_status.html", caption="../report/report_status.rst", category="run status"),
    log:
        "logs/report_status.log",
    conda:
        "../../envs/pipeline.yaml"
    params:
        expected=report_targets(),
    script:
        "../../scripts/report_status.py"


# The run's results page: every summary table and model figure under its provenance (commit,
# configuration, machine, wall time per stage). `python -m rnn_dynamics.outputs.results_page` publishes one.
# update(): Snakemake keeps the last page while the job runs (the script replaces it only once the new one
# is complete) and puts it back if the job fails, so a failed page never loses the last good one.
rule results_page:
    input:
        unpack(results_page_tables),
        timeline="results/{dataset}/tables/timeline.csv",
        metrics=per_model("results/{dataset}/models/{model}/metrics.json"),
        figures=model_figures,
        data_figure="results/{dataset}/figures/data/lengths.png",
    output:
        update("results/{dataset}/RESULTS.md"),
    log:
        "logs/{dataset}/results_page.log",
    conda:
        "../../envs/pipeline.yaml"
    params:
        # The models each table holds a row of (catalogue.COVERAGES): the grid's, the context stage's.
        models={"grid": [m.id for m in MODELS], "context": [m.id for m in MODELS if context_systems(m)]},
        # The page shows the resolved configuration and its hash: a changed key makes the page again.
        config=config,
    script:
        "../../scripts/results_page.py"

rule state_figures:
    input:
        states="results/{dataset}/states/{model}",
        pca="results/{dataset}/pca/{model}.parquet",
        examples="results/{dataset}/examples/{model}.parquet",
    output:
        explained_variance=report(
            "results/{dataset}/figures/{model}/explained_variance.png",
            caption="../report/explained_variance.rst",
            category="{dataset}",
            subcategory="{model}",
        ),
        pca_trajectories=report(
            "results/{dataset}/figures/{model}/pca_trajectories.png",
            caption="../report/pca_trajectories.rst",
            category="{dataset}",
            subcategory="{model}",
        ),
    log:
        "logs/{dataset}/figures/{model}/states.log",
    benchmark:
        "logs/benchmarks/{dataset}/state_figures/{model}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    params:
        seed=config["states"]["seed"],
    script:
        "../../scripts/state_figures.py"


rule fixed_point_figures:
    input:
        tables=fixed_point_tables,
        states="results/{dataset}/states/{model}",
        pca="results/{dataset}/pca/{model}.parquet",
    output:
        fixed_points=report(
            "results/{dataset}/figures/{model}/fixed_points.png",
            caption="../report/fixed_points.rst",
            category="{dataset}",
            subcategory="{model}",
        ),
        eigenvalues=report(
            "results/{dataset}/figures/{model}/eigenvalues.png",
            caption="../report/eigenvalues.rst",
            category="{dataset}",
            subcategory="{model}",
        ),
        line=report(
            "results/{dataset}/figures/{model}/line.png",
            caption="../report/line.rst",
            category="{dataset}",
            subcategory="{model}",
        ),
    log:
        "logs/{dataset}/figures/{model}/fixed_points.log",
    benchmark:
        "logs/benchmarks/{dataset}/fixed_point_figures/{model}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    params:
        eigen_points=config["fixed_points"]["eigen_points"],
        systems=systems,
    script:
        "../../scripts/fixed_point_figures.py"


rule explained_variance_table:
    input:
        per_model("results/{dataset}/pca/{model}.parquet"),
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
        table="accuracy|explained_variance|fixed_points|comparison|timeline",
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
        expected=all_targets(),
    script:
        "../../scripts/report_status.py"

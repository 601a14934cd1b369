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
    params:
        seed=config["states"]["seed"],
    log:
        "logs/{dataset}/figures/{model}/states.log",
    conda:
        "../../envs/pipeline.yaml"
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
    params:
        settings=config["fixed_points"],
        systems=systems,
    log:
        "logs/{dataset}/figures/{model}/fixed_points.log",
    conda:
        "../../envs/pipeline.yaml"
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
    params:
        settings=config["fixed_points"],
    log:
        "logs/{dataset}/tables/fixed_points.log",
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/fixed_point_table.py"

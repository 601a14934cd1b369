# The data card's figure: each split's review lengths.
rule data_figure:
    input:
        **{split: f"results/{{dataset}}/data/{split}.parquet" for split in SPLITS},
    output:
        report(
            "results/{dataset}/figures/data/lengths.png",
            caption="../report/lengths.rst",
            category="{dataset}",
            subcategory="data",
        ),
    log:
        "logs/{dataset}/figures/data.log",
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/data_figure.py"


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

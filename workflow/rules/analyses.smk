# The original paper's line-attractor measures per model and system, and a comparison across models.


rule analyze:
    input:
        model="results/{dataset}/models/{model}/model.pt",
        linearization="results/{dataset}/linearization/{model}/{system}.parquet",
        train="results/{dataset}/data/train.parquet",
        test="results/{dataset}/data/test.parquet",
        vocab="results/{dataset}/data/vocab.parquet",
    output:
        **{
            name: report(
                f"results/{{dataset}}/figures/{{model}}/{{system}}/{name}.png",
                caption="../report/analyses.rst",
                category="{dataset}",
                subcategory="{model}",
            )
            for name in ("dimensionality", "time_constants", "alignment", "valence", "linearized")
        },
        tables=directory("results/{dataset}/analyses/{model}/{system}"),
    log:
        "logs/{dataset}/analyses/{model}/{system}.log",
    benchmark:
        "logs/benchmarks/{dataset}/analyze/{model}/{system}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    resources:
        gpu=0 if config["analyses"]["device"] == "cpu" else 1,
    params:
        # Everything but the device (analyses.device, read from the config by the script), which changes
        # nothing beyond rounding: moving the analyses to a GPU reruns nothing.
        settings={key: value for key, value in config["analyses"].items() if key != "device"},
    script:
        "../../scripts/analyze.py"


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

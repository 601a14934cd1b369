# The original paper's line-attractor measures per model and system.


rule analyze:
    input:
        model="results/{dataset}/models/{model}/model.pt",
        # The untrained null of the fixed points: the initial weights, searched as the trained set was.
        initial="results/{dataset}/models/{model}/initial.pt",
        fixed_points="results/{dataset}/fixed_points/{model}/{system}.parquet",
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
            for name in ANALYSIS_FIGURES
        },
        tables=directory("results/{dataset}/analyses/{model}/{system}"),
    log:
        "logs/{dataset}/analyses/{model}/{system}.log",
    benchmark:
        "logs/benchmarks/{dataset}/analyze/{model}/{system}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    # The device (analyses.device) is a resource, not a param: it changes nothing beyond rounding, so
    # moving the analyses to a GPU reruns nothing.
    resources:
        gpu=0 if config["analyses"]["device"] == "cpu" else 1,
        device=config["analyses"]["device"],
    params:
        # Every key but the device.
        settings=stage_params(stages.AnalysesSettings),
        # The untrained network's search: the trained shards' and gather's keys.
        search=stage_params(stages.SearchSettings),
        gather=stage_params(stages.GatherSettings),
    script:
        "../../scripts/analyze.py"

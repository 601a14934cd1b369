scattergather:
    fixed_point_shards=config["fixed_points"]["shards"],


rule fixed_point_shard:
    input:
        states="results/{dataset}/states/{model}{split_tag}",
        model="results/{dataset}/models/{model}/model.pt",
    output:
        "results/{dataset}/fixed_points/{model}{split_tag}/{system}/shard-{scatteritem}.parquet",
    log:
        "logs/{dataset}/fixed_points/{model}{split_tag}/{system}/shard-{scatteritem}.log",
    benchmark:
        "logs/benchmarks/{dataset}/fixed_point_shard/{model}{split_tag}/{system}/shard-{scatteritem}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    # The device (fixed_points.device) is a resource, not a param: it changes nothing beyond rounding, so
    # moving the search to a GPU reruns nothing.
    threads: 1
    resources:
        gpu=0 if config["fixed_points"]["device"] == "cpu" else 1,
        device=config["fixed_points"]["device"],
    params:
        # Only the keys that change the solution: editing a later stage's key re-solves nothing.
        settings=stage_params(stages.SearchSettings),
    script:
        "../../scripts/fixed_point_shard.py"


rule gather_fixed_points:
    input:
        gather.fixed_point_shards(
            "results/{{dataset}}/fixed_points/{{model}}{{split_tag}}/{{system}}/shard-{scatteritem}.parquet"
        ),
    output:
        "results/{dataset}/fixed_points/{model}{split_tag}/{system}.parquet",
    log:
        "logs/{dataset}/fixed_points/{model}{split_tag}/{system}.log",
    benchmark:
        "logs/benchmarks/{dataset}/gather_fixed_points/{model}{split_tag}/{system}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    params:
        settings=stage_params(stages.GatherSettings),
    script:
        "../../scripts/gather_fixed_points.py"


rule linearize:
    input:
        fixed_points="results/{dataset}/fixed_points/{model}{split_tag}/{system}.parquet",
        model="results/{dataset}/models/{model}/model.pt",
    output:
        "results/{dataset}/linearization/{model}{split_tag}/{system}.parquet",
    log:
        "logs/{dataset}/linearization/{model}{split_tag}/{system}.log",
    benchmark:
        "logs/benchmarks/{dataset}/linearize/{model}{split_tag}/{system}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    # On fixed_points.device (the same stage as the search), a resource, as the search's.
    resources:
        gpu=0 if config["fixed_points"]["device"] == "cpu" else 1,
        device=config["fixed_points"]["device"],
    script:
        "../../scripts/linearize.py"

# Contextual processing (opt-in, context.enabled): how modifier words change the next word's effect, per model
# and probed system (the stack, or layer1 of a one-layer model), and its three summary tables.


rule context:
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
                caption="../report/context.rst",
                category="{dataset}",
                subcategory="{model}",
            )
            for name in CONTEXT_FIGURES
        },
        tables=directory("results/{dataset}/context/{model}/{system}"),
    log:
        "logs/{dataset}/context/{model}/{system}.log",
    benchmark:
        "logs/benchmarks/{dataset}/context/{model}/{system}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    resources:
        gpu=0 if config["context"]["device"] == "cpu" else 1,
        device=config["context"]["device"],
    params:
        settings=stage_params(stages.ContextSettings),
    script:
        "../../scripts/context.py"


for _name in ("context", "context_ablation", "context_bow"):

    rule:
        name:
            f"{_name}_table"
        input:
            context_folders,
        output:
            f"results/{{dataset}}/tables/{_name}.csv",
        log:
            f"logs/{{dataset}}/tables/{_name}.log",
        conda:
            "../../envs/pipeline.yaml"
        params:
            table=_name,
        script:
            "../../scripts/context_table.py"


# The tables take a second: on a cluster they run on the submitting host (the Snakefile's localrules).
localrules:
    context_table,
    context_ablation_table,
    context_bow_table,

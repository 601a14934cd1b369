# How similar two systems' dynamics are (similarity.pairs, similarity.axes): one table, and a figure per axis.


rule similarity:
    input:
        unpack(similarity_inputs),
    output:
        "results/{dataset}/tables/similarity.csv",
    log:
        "logs/{dataset}/tables/similarity.log",
    benchmark:
        "logs/benchmarks/{dataset}/similarity.tsv"
    conda:
        "../../envs/pipeline.yaml"
    threads: config["training"]["threads"]
    params:
        pairs=lambda wildcards: [[axis, a.name, b.name] for axis, a, b in similarity_pairs()],
        systems=lambda wildcards: similarity_systems(),
        settings=stage_params(stages.SimilaritySettings),
    script:
        "../../scripts/similarity.py"


rule similarity_figure:
    input:
        "results/{dataset}/tables/similarity.csv",
    output:
        report(
            "results/{dataset}/figures/similarity/{axis}.png",
            caption="../report/similarity.rst",
            category="{dataset}",
            subcategory="similarity",
        ),
    log:
        "logs/{dataset}/figures/similarity/{axis}.log",
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/similarity_figure.py"

rule download:
    output:
        "resources/{dataset}/{archive}",
    wildcard_constraints:
        archive="|".join(re.escape(name) for name in DOWNLOADED_ARCHIVES.values()),
    params:
        spec=archive_spec,
    log:
        "logs/{dataset}/download/{archive}.log",
    benchmark:
        "logs/benchmarks/{dataset}/download/{archive}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/download.py"


rule synthesize:
    output:
        "resources/{dataset}/synthetic.tar.gz",
    params:
        spec=dataset_spec,
    log:
        "logs/{dataset}/synthesize.log",
    benchmark:
        "logs/benchmarks/{dataset}/synthesize.tsv"
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/synthesize.py"


rule prepare:
    input:
        raw_input,
    output:
        **{split: f"results/{{dataset}}/data/{split}.parquet" for split in SPLITS},
        vocab="results/{dataset}/data/vocab.parquet",
    params:
        spec=dataset_spec,
        settings=config["prepare"],
    log:
        "logs/{dataset}/prepare.log",
    benchmark:
        "logs/benchmarks/{dataset}/prepare.tsv"
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/prepare.py"


rule download_glove:
    output:
        "resources/glove/glove.6B.zip",
    params:
        glove=config["embeddings"].get("glove", {}),
    log:
        "logs/download_glove.log",
    benchmark:
        "logs/benchmarks/download_glove.tsv"
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/download_glove.py"


rule embeddings:
    input:
        vocab="results/{dataset}/data/vocab.parquet",
        glove=glove_input,
    output:
        "results/{dataset}/embeddings/{source}-{dim}.npy",
    params:
        seed=config["embeddings"]["seed"],
    log:
        "logs/{dataset}/embeddings/{source}-{dim}.log",
    benchmark:
        "logs/benchmarks/{dataset}/embeddings/{source}-{dim}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/embeddings.py"

rule download:
    output:
        "resources/{dataset}/{archive}",
    log:
        "logs/{dataset}/download/{archive}.log",
    benchmark:
        "logs/benchmarks/{dataset}/download/{archive}.tsv"
    wildcard_constraints:
        archive="|".join(re.escape(archive.file_name) for archive in downloaded().values()),
    conda:
        "../../envs/pipeline.yaml"
    params:
        spec=archive_spec,
    script:
        "../../scripts/download.py"


rule synthesize:
    output:
        f"resources/{{dataset}}/{ARCHIVES['synthetic'].file_name}",
    log:
        "logs/{dataset}/synthesize.log",
    benchmark:
        "logs/benchmarks/{dataset}/synthesize.tsv"
    conda:
        "../../envs/pipeline.yaml"
    params:
        spec=dataset_spec,
    script:
        "../../scripts/synthesize.py"


rule prepare:
    input:
        raw_input,
    output:
        **{split: f"results/{{dataset}}/data/{split}.parquet" for split in SPLITS},
        vocab="results/{dataset}/data/vocab.parquet",
        # The data card: splits, vocabulary, artefacts (datasets.card); tables/data.csv shows it.
        card="results/{dataset}/data/card.json",
    log:
        "logs/{dataset}/prepare.log",
    benchmark:
        "logs/benchmarks/{dataset}/prepare.tsv"
    conda:
        "../../envs/pipeline.yaml"
    params:
        spec=dataset_spec,
        # Every key decides the tables: the section as given (Snakemake compares params by their text, key
        # order included, so this is what the tables made so far were recorded with).
        settings=config["prepare"],
    script:
        "../../scripts/prepare.py"


rule download_glove:
    output:
        "resources/glove/glove.6B.zip",
    log:
        "logs/download_glove.log",
    benchmark:
        "logs/benchmarks/download_glove.tsv"
    conda:
        "../../envs/pipeline.yaml"
    params:
        glove=config["embeddings"].get("glove", {}),
    script:
        "../../scripts/download_glove.py"


rule embeddings:
    input:
        vocab="results/{dataset}/data/vocab.parquet",
        glove=glove_input,
    output:
        matrix="results/{dataset}/embeddings/{source}-{dim}.npy",
        # The vectors' coverage of the vocabulary (embeddings.coverage), which the data table shows.
        coverage="results/{dataset}/embeddings/{source}-{dim}.json",
    log:
        "logs/{dataset}/embeddings/{source}-{dim}.log",
    benchmark:
        "logs/benchmarks/{dataset}/embeddings/{source}-{dim}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    params:
        seed=config["embeddings"]["seed"],
    script:
        "../../scripts/embeddings.py"

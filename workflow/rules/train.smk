rule train:
    input:
        **{split: f"results/{{dataset}}/data/{split}.parquet" for split in SPLITS},
        embeddings=embeddings_for,
    output:
        initial="results/{dataset}/models/{model}/initial.pt",
        final="results/{dataset}/models/{model}/model.pt",
        history="results/{dataset}/models/{model}/history.parquet",
        metrics="results/{dataset}/models/{model}/metrics.json",
    log:
        "logs/{dataset}/train/{model}.log",
    benchmark:
        "logs/benchmarks/{dataset}/train/{model}.tsv"
    wildcard_constraints:
        model=TRAINED_ID_PATTERN,
    conda:
        "../../envs/pipeline.yaml"
    # Where it runs (training.threads, training.device) is the rule's threads and a resource, not a param:
    # Snakemake reruns a job whose params change, and moving training to another device reruns nothing.
    threads: config["training"]["threads"]
    resources:
        gpu=0 if config["training"]["device"] == "cpu" else 1,
        device=config["training"]["device"],
    params:
        # Not an output: it must survive a failed job so that a rerun resumes from it.
        checkpoint="results/{dataset}/models/{model}/checkpoint.pt",
        # Only the keys that change the weights, with the model's batch size (models.batch_size, a grid axis)
        # after epochs, the order the trained models' params hold.
        settings=train_params,
    script:
        "../../scripts/train.py"


# A network the pipeline did not train (models.import): the model files the train rule writes, from its checkpoint.
rule import_model:
    input:
        **{split: f"results/{{dataset}}/data/{split}.parquet" for split in SPLITS},
        vocab="results/{dataset}/data/vocab.parquet",
        weights=lambda wildcards: imported_settings(wildcards).weights,
        vocabulary=lambda wildcards: imported_settings(wildcards).vocabulary,
    output:
        initial="results/{dataset}/models/{model}/initial.pt",
        final="results/{dataset}/models/{model}/model.pt",
        metrics="results/{dataset}/models/{model}/metrics.json",
    log:
        "logs/{dataset}/import_model/{model}.log",
    benchmark:
        "logs/benchmarks/{dataset}/import_model/{model}.tsv"
    wildcard_constraints:
        model=IMPORTED_ID_PATTERN,
    conda:
        "../../envs/pipeline.yaml"
    threads: config["training"]["threads"]
    resources:
        gpu=0 if config["training"]["device"] == "cpu" else 1,
        device=config["training"]["device"],
    params:
        settings=lambda wildcards: imported_settings(wildcards).params(),
    script:
        "../../scripts/import_model.py"

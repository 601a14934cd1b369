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
    conda:
        "../../envs/pipeline.yaml"
    threads: config["training"]["threads"]
    resources:
        gpu=0 if config["training"]["device"] == "cpu" else 1,
    params:
        # Not an output: it must survive a failed job so that a rerun resumes from it.
        checkpoint="results/{dataset}/models/{model}/checkpoint.pt",
        # Only the keys that change the weights: training.device and training.threads are read from
        # the config by the script, so moving training to another device reruns nothing.
        # The model's batch size among them (models.batch_size, a grid axis), in the place training.batch_size held.
        settings=train_params,
    script:
        "../../scripts/train.py"

rule hidden_states:
    input:
        data=lambda wc: f"results/{wc.dataset}/data/{config['states']['split']}.parquet",
        vocab="results/{dataset}/data/vocab.parquet",
        initial="results/{dataset}/models/{model}/initial.pt",
        final="results/{dataset}/models/{model}/model.pt",
    output:
        # layer{n}.parquet for every layer: how many depends on the model id.
        states=directory("results/{dataset}/states/{model}"),
        pca="results/{dataset}/pca/{model}.parquet",
        examples="results/{dataset}/examples/{model}.parquet",
    log:
        "logs/{dataset}/hidden_states/{model}.log",
    benchmark:
        "logs/benchmarks/{dataset}/hidden_states/{model}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    # On training.device, read from the config by the script: it changes nothing beyond rounding.
    threads: config["training"]["threads"]
    resources:
        gpu=0 if config["training"]["device"] == "cpu" else 1,
    params:
        # Every key decides the states: the section as given, like prepare's.
        settings=config["states"],
        max_length=config["prepare"]["max_length"],
    script:
        "../../scripts/hidden_states.py"

rule hidden_states:
    input:
        data=split_data,
        vocab="results/{dataset}/data/vocab.parquet",
        initial="results/{dataset}/models/{model}/initial.pt",
        final="results/{dataset}/models/{model}/model.pt",
    output:
        # layer{n}.parquet for every layer: how many depends on the model id.
        states=directory("results/{dataset}/states/{model}{split_tag}"),
        pca="results/{dataset}/pca/{model}{split_tag}.parquet",
        examples="results/{dataset}/examples/{model}{split_tag}.parquet",
    log:
        "logs/{dataset}/hidden_states/{model}{split_tag}.log",
    benchmark:
        "logs/benchmarks/{dataset}/hidden_states/{model}{split_tag}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    # On training.device, a resource, not a param: it changes nothing beyond rounding.
    threads: config["training"]["threads"]
    resources:
        gpu=0 if config["training"]["device"] == "cpu" else 1,
        device=config["training"]["device"],
    params:
        # Every key decides the states: the section as given, like prepare's, with this job's split.
        settings=states_params,
        max_length=config["prepare"]["max_length"],
    script:
        "../../scripts/hidden_states.py"

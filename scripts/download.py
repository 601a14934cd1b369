"""Rule download: the dataset archive, from a checked local copy or a checksum-verified download."""

from rnn_dynamics import datasets, download, logs

with logs.to_file(snakemake.log[0]):
    spec = snakemake.params.spec
    if spec.get("local_archive"):
        print(datasets.check_archive_layout(spec["local_archive"]))
        download.copy(spec["local_archive"], snakemake.output[0])
    else:
        download.fetch(
            spec["url"],
            snakemake.output[0],
            spec["sha256"],
            local_key=f"datasets.{snakemake.wildcards.dataset}.local_archive",
        )

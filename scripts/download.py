"""Rule download: a dataset archive, from a layout-checked local copy or a checksum-verified download."""

from rnn_dynamics.data import datasets, download
from rnn_dynamics.ground import logs

with logs.to_file(snakemake.log[0]):
    spec = datasets.with_defaults(snakemake.params.spec)
    key = f"datasets.{snakemake.wildcards.dataset}"
    if spec.get("local_archive"):
        print(datasets.LAYOUT_CHECKS[spec["kind"]](spec["local_archive"]))
        download.copy(spec["local_archive"], snakemake.output[0])
    else:
        download.fetch(
            spec["url"],
            snakemake.output[0],
            spec["sha256"],
            local_key=f"{key}.local_archive",
            sha256_key=f"{key}.sha256",
            md5=spec.get("md5"),
            size=spec.get("size"),
        )

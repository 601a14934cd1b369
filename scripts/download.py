"""Rule download: a dataset archive, from a layout-checked local copy or a checksum-verified download."""

from rnn_dynamics.data import datasets, download
from rnn_dynamics.ground import logs

with logs.to_file(snakemake.log[0]):
    spec = datasets.with_defaults(snakemake.params.spec)
    archive = datasets.ARCHIVES[spec["kind"]]
    key = f"datasets.{snakemake.wildcards.dataset}"
    if spec.get("local_archive"):
        print(archive.check_layout(spec["local_archive"]))
        download.copy(spec["local_archive"], snakemake.output[0])
    else:
        checks = {name: spec.get(name) for name in archive.checksums}
        download.fetch(
            spec["url"],
            snakemake.output[0],
            checks.get("sha256"),
            local_key=f"{key}.local_archive",
            sha256_key=f"{key}.sha256",
            md5=checks.get("md5"),
            size=checks.get("size"),
        )

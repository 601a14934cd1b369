"""scripts/gpu_run.sh, the GPU end-to-end run: what can be checked without a GPU (its options and its plan)."""

import os
import subprocess
import sys

import pytest

from pipeline import CONFIG, copy_run, copy_workflow


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("gpu_run"))


def gpu_run(directory, *args):
    return subprocess.run(
        ["bash", "scripts/gpu_run.sh", *args], cwd=directory, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHON": sys.executable},
    )  # fmt: skip


def job_counts(output: str) -> dict[str, int]:
    rows = [line.split() for line in output.splitlines()]
    return {row[0]: int(row[1]) for row in rows if len(row) == 2 and row[1].isdigit()}


def test_the_vectors_must_be_chosen(workflow):
    result = gpu_run(workflow, "--dry-run")
    assert result.returncode == 2
    assert "--vectors glove" in result.stderr and "random" in result.stderr
    refused = gpu_run(workflow, "--dry-run", "--vectors", "kumo", "--glove", "glove.6B.zip")
    assert refused.returncode == 2 and "--glove FILE goes with --vectors glove" in refused.stderr


@pytest.mark.parametrize(
    "vectors, models",
    [("random", 8), ("kumo", 4), ("glove", 8)],
)
def test_dry_run_plans_the_default_grid_from_an_empty_results(workflow, tmp_path, vectors, models):
    archive = tmp_path / "aclImdb_v1_labelled.tar.gz"
    archive.write_bytes(b"")  # a dry run reads nothing
    extra = ["--glove", str(tmp_path / "glove.6B.zip")] if vectors == "glove" else []
    for path in extra[1:]:
        open(path, "wb").close()
    result = gpu_run(workflow, "--dry-run", "--vectors", vectors, "--imdb", str(archive), *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    counts = job_counts(result.stdout + result.stderr)
    systems = sum(range(1, 5)) * models // 4  # layers 1-4, every layer analysed
    assert counts["train"] == models and counts["hidden_states"] == models, counts
    assert counts["fixed_point_shard"] == 4 * systems and counts["analyze"] == systems, counts
    assert counts["timeline"] == 1 and counts["download"] == 1, counts
    assert "download_glove" not in counts  # a local GloVe file, or none needed
    assert str(archive) in result.stdout
    assert {"random": "not GloVe", "kumo": "E50 models", "glove": "GloVe 6B for E100 and E50"}[vectors] in result.stdout


@pytest.mark.slow
def test_the_script_runs_end_to_end_in_a_copy_of_the_tiny_pipelines_run(pristine_pipeline, tmp_path):
    """The whole script but the install, on a CPU, in a copy of the tiny pipeline's finished run with its timeline
    removed (``--keep-results``): the jobs it remakes under the GPU profile, the report, the summary and the
    timeline. What a clean run from an empty results/ would run is the dry runs' plan above."""
    directory = copy_run(pristine_pipeline, tmp_path / "workflow")
    (directory / "results/synthetic/tables/timeline.csv").unlink()
    archive = tmp_path / "aclImdb_v1_labelled.tar.gz"
    archive.write_bytes(b"")  # not read: the tiny config runs only the synthetic dataset
    options = ["--vectors", "random", "--imdb", str(archive), "--no-install", "--allow-cpu", "--configfile",
               CONFIG[1]]  # fmt: skip
    # The timing is of a clean run: a results/ that is not empty is refused unless asked for.
    refused = gpu_run(directory, *options)
    assert refused.returncode == 2 and "results/ is not empty" in refused.stderr
    result = gpu_run(directory, *options, "--keep-results", "--slots", "2")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    assert "localrule timeline:" in result.stdout and "localrule results_page:" in result.stdout
    assert (directory / "report.html").stat().st_size > 100_000
    summary = (directory / "logs/gpu_run/summary.txt").read_text()
    assert "gpu: none (CPU)" in summary and "snakemake exit status: 0" in summary
    assert "snakemake wall time (s): " in summary and "--resources gpu=2" in summary
    assert (
        "timeline of synthetic:" in result.stdout and "wall time from the first start to the last end" in result.stdout
    )
    assert (directory / "logs/gpu_run/timeline-synthetic.csv").exists()
    assert (directory / "results/synthetic/tables/timeline.csv").exists()

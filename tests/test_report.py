"""The report: status and HTML tables (unit), and `snakemake --report` opened in headless Chromium."""

import html
import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from pipeline import CONFIG, copy_run, snakemake
from rnn_dynamics.outputs import catalogue, report

MODELS = ["gru-L1-E16-H32-s0", "gru-L2-E16-H32-s0"]
FIGURES = ["eigenvalues.png", "explained_variance.png", "fixed_points.png", "line.png", "pca_trajectories.png"]
TABLES = ["accuracy.html", "explained_variance.html", "fixed_points.html", "timeline.html"]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
    "--enable-logging=stderr",
    "--v=0",
]

# Injected into a copy of the report: record script errors from the first script on, then
# open every category and subcategory in the app and write what the page lists into the DOM.
ERROR_CATCHER = """<script>
window.reportErrors = [];
window.addEventListener("error", (event) => window.reportErrors.push(String(event.message)));
</script>"""
DRIVER = """<script>
(function () {
  const listed = [];
  const views = [];
  for (const category of Object.keys(categories)) {
    for (const subcategory of Object.keys(categories[category])) {
      views.push({ navbarMode: "subcategory", category: category, subcategory: subcategory });
    }
  }
  // The results list keeps its first content: leave it for the menu before each view.
  function step(i) {
    if (i > 0) {
      listed.push({ view: views[i - 1], text: document.querySelector("#app").innerText });
    }
    if (i < views.length) {
      app.setView({ navbarMode: "menu" });
      setTimeout(() => app.setView(views[i]), 100);
      setTimeout(() => step(i + 1), 300);
      return;
    }
    const out = document.createElement("pre");
    out.id = "test-listing";
    out.textContent = JSON.stringify(
      { errors: window.reportErrors, listed: listed, landing: landing, titleTop: titleTop });
    document.body.appendChild(out);
  }
  // What a reader sees first, before opening anything.
  let landing = "";
  let titleTop = null;
  setTimeout(() => {
    landing = document.querySelector("#app").innerText;
    const title = document.querySelector("#app h1");
    titleTop = title ? title.getBoundingClientRect().top : null;
    step(0);
  }, 500);
})();
</script>"""


def artifacts_dir(tmp_path: Path) -> Path:
    directory = Path(os.environ.get("RNN_DYNAMICS_ARTIFACTS", tmp_path))
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        message = "chromium not found: install the distribution's package (apt-get install -y chromium)"
        # CI installs it (.ci/run) and must not pass without the browser check; elsewhere, skip.
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return subprocess.run(
        [executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def browse(report_html: Path, tmp_path: Path, screenshot: Path) -> dict:
    """Open ``report_html`` in headless Chromium; the errors, the text of every subcategory view, the console."""
    driven = tmp_path / f"driven-{report_html.name}"
    page = report_html.read_text(encoding="utf-8")
    # The page's own scripts contain "</body>" in strings: the driver goes before the last one.
    head, body_end, tail = page.replace("<head>", "<head>" + ERROR_CATCHER, 1).rpartition("</body>")
    driven.write_text(head + DRIVER + body_end + tail, encoding="utf-8")
    dom = chromium("--virtual-time-budget=20000", "--dump-dom", driven.as_uri(), profile=tmp_path / "profile-dom")
    assert dom.returncode == 0, dom.stderr[-3000:]
    match = re.search(r'<pre id="test-listing">(.*?)</pre>', dom.stdout, re.S)
    assert match, "the report's app did not finish rendering:\n" + dom.stderr[-3000:]
    listing = json.loads(html.unescape(match.group(1)))
    shot = chromium(
        "--virtual-time-budget=5000",
        f"--screenshot={screenshot}",
        report_html.as_uri(),
        profile=tmp_path / "profile-shot",
    )
    assert shot.returncode == 0 and screenshot.stat().st_size > 10_000, shot.stderr[-3000:]
    listing["console"] = dom.stderr + shot.stderr
    return listing


def assert_no_script_errors(listing: dict) -> None:
    assert listing["errors"] == [], listing["errors"]
    uncaught = [line for line in listing["console"].splitlines() if "Uncaught" in line]
    assert uncaught == [], uncaught


def listed_text(listing: dict, category: str, subcategory: str) -> str:
    views = [
        v for v in listing["listed"] if v["view"]["category"] == category and v["view"]["subcategory"] == subcategory
    ]
    assert views, f"no view of {category} / {subcategory}; views: {[v['view'] for v in listing['listed']]}"
    return views[0]["text"]


# --- the library: status of expected outputs and HTML tables --------------------------------


def test_status_lists_missing_outputs_first():
    expected = [
        "results/imdb/tables/accuracy.html",
        "results/imdb/figures/gru-L1-E50-H256-s0/pca_trajectories.png",
        "results/imdb/figures/gru-L2-E50-H256-s0/pca_trajectories.png",
    ]
    table = report.status_table(expected, present=[expected[1]])
    assert list(table.columns) == report.STATUS_COLUMNS
    assert list(table["status"]) == ["missing", "missing", "present"]
    assert set(table.loc[table["status"] == "missing", "model"]) == {"all models", "gru-L2-E50-H256-s0"}
    assert table.loc[2].to_dict() == {
        "dataset": "imdb",
        "model": "gru-L1-E50-H256-s0",
        "output": "pca_trajectories",
        "path": expected[1],
        "status": "present",
    }


def test_status_rejects_unexpected_or_unknown_paths():
    with pytest.raises(ValueError, match="not among the expected"):
        report.status_table(["results/a/tables/accuracy.html"], ["results/a/tables/other.html"])
    assert report.describe_output("results/a/figures/m/layer2/valence.png")["output"] == "layer2/valence"
    assert report.describe_output("results/comparison.png") == {
        "dataset": "all datasets",
        "model": "all models",
        "output": "comparison",
    }
    with pytest.raises(ValueError, match=r"'results/a/models/x/model\.pt' is neither"):
        report.describe_output("results/a/models/x/model.pt")


def test_status_page_says_how_many_are_missing(tmp_path):
    expected = ["results/d/tables/accuracy.html", "results/d/tables/fixed_points.html"]
    report.write_status(expected, expected[:1], tmp_path / "status.html")
    page = (tmp_path / "status.html").read_text()
    assert "1 of 2 expected outputs are missing" in page
    assert '<td class="missing">missing</td>' in page
    report.write_status(expected, expected, tmp_path / "status.html")
    assert "All 2 expected outputs are present" in (tmp_path / "status.html").read_text()


def test_html_table_holds_every_row_and_escapes_text(tmp_path):
    csv = tmp_path / "accuracy.csv"
    columns = catalogue.TABLES["accuracy"].expected_columns([])
    rows = [{"model": "<gru>", "test_accuracy": 0.90251234}, {"model": "lstm", "test_accuracy": 0.5}]
    pd.DataFrame(rows, columns=columns).to_csv(csv, index=False)
    report.write_html_table(csv, tmp_path / "accuracy.html", "accuracy")
    page = (tmp_path / "accuracy.html").read_text()
    assert html.escape(catalogue.TABLES["accuracy"].title) in page
    assert "&lt;gru&gt;" in page and "<gru>" not in page
    assert "0.9025" in page and page.count("<tr") == 3
    with pytest.raises(ValueError, match="unknown summary table 'bogus'"):
        report.write_html_table(csv, tmp_path / "bogus.html", "bogus")
    # The bare table the report's first page embeds: no page of its own, the same rows.
    report.write_html_table(csv, tmp_path / "accuracy.html", "accuracy", tmp_path / "accuracy.fragment.html")
    fragment = (tmp_path / "accuracy.fragment.html").read_text()
    assert "<html" not in fragment and "<style" not in fragment and 'class="dataframe summary-table"' in fragment
    assert "&lt;gru&gt;" in fragment and fragment.count("<tr") == 3


# --- the report of the synthetic pipeline, in a real browser ---------------------------------


@pytest.mark.slow
def test_report_of_the_synthetic_run_renders_every_figure_and_table(synthetic_pipeline, tmp_path):
    for name in ("report.html", "report.zip"):
        result = snakemake(synthetic_pipeline, "--report", name, *CONFIG)
        assert result.returncode == 0, result.stderr[-5000:]
    with zipfile.ZipFile(synthetic_pipeline / "report.zip") as archive:
        names = archive.namelist()
    assert any(n.endswith("report.html") for n in names)
    # The archive stores each result under its hash: one PCA figure per model.
    assert sum(n.endswith("/pca_trajectories.png") for n in names) == len(MODELS), names

    artifacts = artifacts_dir(tmp_path)
    listing = browse(synthetic_pipeline / "report.html", tmp_path, artifacts / "report.png")
    assert_no_script_errors(listing)
    for model in MODELS:
        text = listed_text(listing, "synthetic", model)
        assert all(figure in text for figure in FIGURES), text
    assert all(table in listed_text(listing, "synthetic", "summary tables") for table in TABLES)

    page = (synthetic_pipeline / "report.html").read_text(encoding="utf-8")
    # The configuration table of the workflow description, and the layer-naming captions.
    assert "Configuration of this run" in page and "fixed_points.starts" in page
    assert "one panel per analysed system: layer1, layer2" in page
    assert "Binary cross-entropy loss and accuracy of every model" in page
    assert "timeline.html" in listed_text(listing, "synthetic", "summary tables")

    # The first page opens on the results: accuracy, explained variance, fixed points and the
    # timeline, each as a table, and the configuration below them.
    landing = listing["landing"]
    order = [landing.find(text) for text in (
        "Results: synthetic", "Accuracy", "test_accuracy", "Explained variance", "Fixed points", "unique_fixed_points",
        "Timeline", "fixed_point_shard", "Configuration of this run", "fixed_points.starts",
    )]  # fmt: skip
    assert -1 not in order and order == sorted(order), (order, landing[:3000])
    # ... and opens at its top: the title is in the window, not scrolled out of reach above it.
    assert listing["titleTop"] is not None and 0 <= listing["titleTop"] < 200, listing["titleTop"]


@pytest.mark.slow
def test_report_of_a_partial_run_renders_and_lists_what_is_missing(synthetic_pipeline, tmp_path):
    # A partial run: the 2-layer model's figures and every summary table are missing.
    run = tmp_path / "partial"
    copy_run(synthetic_pipeline, run, "report.*")
    shutil.rmtree(run / "results/synthetic/figures" / MODELS[1])
    shutil.rmtree(run / "results/synthetic/tables")
    for path in run.glob("results/comparison.*"):  # the summary table across datasets
        path.unlink()
    refused = snakemake(run, "--report", "report.html", *CONFIG)
    assert refused.returncode != 0 and "does not exist" in refused.stdout + refused.stderr

    # The README's command for a report of what exists.
    # The target goes first: --configfile takes every word after it.
    result = snakemake(run, "report_status", "--cores", "1", *CONFIG, "--report", "report.html", "--report-after-run")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    assert not (run / "results/synthetic/figures" / MODELS[1]).exists(), "the report target must not rerun jobs"

    status = (run / "results/report_status.html").read_text()
    rows = {
        re.search(r"<td>(results/[^<]+)</td>", row).group(1): "missing" if 'class="missing"' in row else "present"
        for row in re.findall(r"<tr>(.*?)</tr>", status, re.S)
    }
    missing = sorted(path for path, state in rows.items() if state == "missing")
    assert f"{len(missing)} of {len(rows)} expected outputs are missing" in status
    for figure in FIGURES:
        assert rows[f"results/synthetic/figures/{MODELS[1]}/{figure}"] == "missing"
        assert rows[f"results/synthetic/figures/{MODELS[0]}/{figure}"] == "present"
    assert all(rows[f"results/synthetic/tables/{table}"] == "missing" for table in TABLES)
    assert all(rows[f"results/comparison.{kind}"] == "missing" for kind in ("html", "png"))
    assert all(MODELS[1] in path or "/tables/" in path or path.startswith("results/comparison.") for path in missing), (
        missing
    )

    listing = browse(run / "report.html", tmp_path, artifacts_dir(tmp_path) / "report-partial.png")
    assert_no_script_errors(listing)
    assert all(figure in listed_text(listing, "synthetic", MODELS[0]) for figure in FIGURES)
    assert "report_status.html" in listed_text(listing, "run status", "Other")
    assert MODELS[1] not in {v["view"]["subcategory"] for v in listing["listed"]}

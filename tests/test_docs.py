"""The documentation: a README of a user's guide's length, links that resolve, no number from older code."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_the_readme_is_a_users_guide():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 265
    for phrase in ("earlier version", "not re-measured", "earlier session", "DESIGN.md"):
        assert phrase not in text, phrase


@pytest.mark.parametrize("page", PAGES, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    for target in LINK.findall(page.read_text()):
        if re.match(r"^[a-z]+:", target):
            continue
        assert (page.parent / target).exists(), f"{page.relative_to(ROOT)} links to {target}, which does not exist"


def test_every_result_the_readme_shows_links_to_a_generated_page():
    findings = (ROOT / "README.md").read_text().split("## What it found", 1)[1].split("\n## ", 1)[0]
    for paragraph in filter(str.strip, findings.split("\n\n")):
        if re.search(r"\d\.\d", re.sub(r"\([^)]*\)", "", paragraph)):
            assert "docs/results/" in paragraph, paragraph


def test_every_number_in_the_readmes_findings_is_on_the_page_it_links_to():
    """A number typed into the findings must be one the generated pages linked there print."""
    findings = (ROOT / "README.md").read_text().split("## What it found", 1)[1].split("\n## ", 1)[0]
    for paragraph in filter(str.strip, findings.split("\n\n")):
        pages = [ROOT / target for target in LINK.findall(paragraph) if target.startswith("docs/results/")]
        if not pages:
            continue
        printed = " ".join(page.read_text() for page in pages if page.suffix == ".md")
        for number in re.findall(r"(?<![\w.])\d+\.\d+(?![\w.])", re.sub(r"!?\[[^\]]*\]\([^)]*\)", "", paragraph)):
            assert re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", printed), (
                f"README's findings show {number}, which no page they link to prints"
            )

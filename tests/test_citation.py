"""Licence and citation: LICENSE is the MIT text pyproject declares, CITATION.cff validates against the
Citation File Format 1.2.0 schema (cffconvert), and the How to cite page's BibTeX, the figure citations
of qdm.publishing and CITATION.cff name the same work."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml
from cffconvert import Citation
from pybtex.database import parse_string

from qdm import publishing

REPO = Path(__file__).resolve().parents[1]
CFF = REPO / "CITATION.cff"


def _cff() -> dict:
    return yaml.safe_load(CFF.read_text(encoding="utf-8"))


def _bibtex_block(page: Path) -> str:
    """The one ```bibtex block of a MyST page."""
    blocks = re.findall(r"```\{code-block\} bibtex\n(?::[^\n]*\n)*\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1, f"{page.name} must hold exactly one bibtex code block"
    return blocks[0]


def test_citation_cff_validates_against_the_cff_schema() -> None:
    Citation(CFF.read_text(encoding="utf-8")).validate()  # raises on any schema violation


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("authors"), "'authors' is a required property"),
        (lambda d: d.update({"authors": []}), "[]"),
        (lambda d: d.update({"license": "MIT-ish"}), "MIT-ish"),
        (lambda d: d.update({"date-released": "1 Dec 2025"}), "1 Dec 2025"),
    ],
)
def test_validator_rejects_a_broken_citation_file(edit, message: str) -> None:
    data = _cff()
    edit(data)
    with pytest.raises(jsonschema.ValidationError, match=re.escape(message)):
        Citation(yaml.safe_dump(data, sort_keys=False)).validate()


def test_license_is_the_mit_text_that_pyproject_and_citation_declare() -> None:
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert "Permission is hereby granted, free of charge" in text and 'THE SOFTWARE IS PROVIDED "AS IS"' in text
    assert re.search(r"Copyright \(c\) \d{4} qdm contributors", text)
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == {"text": "MIT"}
    assert _cff()["license"] == "MIT"


def test_cff_version_and_title_match_the_package_and_the_book() -> None:
    data = _cff()
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    book = yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf-8"))
    assert data["version"] == project["version"] == publishing.BOOK_VERSION
    assert data["title"] == book["title"] == publishing.BOOK_TITLE
    assert [a["name"] for a in data["authors"]] == [publishing.BOOK_AUTHOR]
    assert str(data["date-released"]).startswith(str(publishing.BOOK_YEAR))


def test_cite_page_bibtex_parses_and_matches_citation_cff() -> None:
    data = _cff()
    bib = parse_string(_bibtex_block(REPO / "book" / "cite.md"), "bibtex")
    assert list(bib.entries) == ["qdm2025"]
    entry = bib.entries["qdm2025"]
    assert entry.type == "software"
    assert entry.fields["title"] == data["title"]
    assert entry.fields["version"] == data["version"]
    assert entry.fields["year"] == str(data["date-released"])[:4]
    assert entry.fields["license"] == data["license"]
    assert [str(p) for p in entry.persons["author"]] == ["{qdm contributors}"]


def test_figure_citation_names_the_same_book() -> None:
    record = {"git": {"available": True, "commit": "0123456789abcdef", "dirty": False}}
    text = publishing.figure_citation("4.1", "Loss", "notebooks/x.html#fig-x", record)
    data = _cff()
    assert data["title"] in text and data["version"] in text and data["authors"][0]["name"] in text


def test_works_page_states_each_repository_licence() -> None:
    page = (REPO / "book" / "works.md").read_text(encoding="utf-8")
    rows = {
        "AndreaCacioppo/QDM_pennylane": "CC BY-NC 4.0",
        "ChiShengChen/Quantum_MNIST_Diffusion": "none stated",
        "dolf3131/Enhancing-Quantum-Diffusion-Models-for-Complex-Image-Generation": "MIT",
        "michaelkoelle/quantum-diffusion": "none stated",
    }
    for repo, licence in rows.items():
        line = next((ln for ln in page.splitlines() if f"`{repo}`" in ln), None)
        assert line is not None, f"works.md has no row for {repo}"
        assert line.rstrip(" |").endswith(licence) or f"| {licence}" in line, f"{repo}: licence {licence!r} not stated"
    assert "without copying" in page or "No code" in page

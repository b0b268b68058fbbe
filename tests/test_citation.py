"""The compendium's licence and citation file (CITATION.cff, Citation File Format 1.2.0).

`cffconvert --validate -i CITATION.cff` checks it against the CFF schema (README, "Licence and
citing"; cffconvert pins an old jsonschema, so it lives in a virtual environment of its own, not the
project's); this checks what a reader relies on: the fields, the licence, the original study.
"""

import re

import yaml

from scalpel_core import paths

ROOT = paths.REPO_ROOT


def test_citation_file_cites_the_compendium_and_the_original_study():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software"
    assert {"message", "title", "authors", "version", "license"} <= set(cff)
    assert re.search(r'^version = "(.+)"$', (ROOT / "pyproject.toml").read_text(), re.M).group(1) == cff["version"]
    assert cff["license"] == "MIT" and (ROOT / "LICENSE").read_text().startswith("MIT License")
    (original,) = cff["references"]
    assert original["title"].startswith("Scalpel vs. Hammer") and original["year"] == 2025
    assert [a["family-names"] for a in original["authors"]] == ["Rajani", "Gema", "Goldfarb-Tarrant", "Titov"]
    assert {i["value"] for i in original["identifiers"]} == {"arXiv:2507.10616", "10.48550/arXiv.2507.10616"}


def test_readme_says_how_to_cite_both():
    readme = (ROOT / "README.md").read_text()
    assert "CITATION.cff" in readme and "eprint        = {2507.10616}" in readme and "LICENSE" in readme

"""docs/aws-behaviour.md stays true to the code: every row has an AWS source, names places and tests that
exist, and every `docs/aws-behaviour.md#<id>` a comment cites is a row of the register."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REGISTER = REPO / "docs" / "aws-behaviour.md"
_ROW = re.compile(r'^\| <a id="([a-z0-9-]+)"></a>([a-z0-9-]+) \|(.*)\|$')
_TEST = re.compile(r"(tests/[\w/]+\.py)::(test_\w+)")
_PLACE = re.compile(r"`((?:src|worker|qas|lint)/[\w/.]+?)(?::([\w.]+))?`")
_SOURCE = re.compile(r"https://(?:docs\.aws\.amazon\.com|repost\.aws|github\.com)/\S+")
_CITATION = re.compile(r"aws-behaviour\.md#([a-z0-9-]+)")
# A check cell names a test, or says why it has none (docs/aws-behaviour.md, first paragraph).
_MARKERS = ("**unsourced**", "**unchecked**", "**model differs**", "*(fix in progress)*")


def _rows() -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in REGISTER.read_text().splitlines():
        match = _ROW.match(line)
        if match is None:
            assert not line.startswith("| <a"), f"malformed row: {line[:80]}"
            continue
        anchor, label, rest = match.groups()
        assert anchor == label, f"{anchor}: the anchor and the id differ"
        assert anchor not in rows, f"{anchor}: two rows with one id"
        cells = [cell.strip() for cell in rest.split(" | ")]
        assert len(cells) == 4, f"{anchor}: {len(cells)} cells after the id, expected 4"
        rows[anchor] = cells
    return rows


def test_every_row_has_a_source_and_a_check() -> None:
    rows = _rows()
    assert len(rows) >= 60
    for anchor, (_behaviour, source, _relied_on, check) in rows.items():
        assert _SOURCE.search(source), f"{anchor}: no AWS page or issue thread"
        assert _TEST.search(check) or any(marker in check for marker in _MARKERS), f"{anchor}: no check"


def test_named_tests_and_places_exist() -> None:
    for anchor, (_behaviour, _source, relied_on, check) in _rows().items():
        for path, name in _TEST.findall(check):
            test_file = REPO / path
            assert test_file.is_file(), f"{anchor}: {path} does not exist"
            assert re.search(rf"^def {name}\(", test_file.read_text(), re.M), f"{anchor}: no {path}::{name}"
        for path, symbol in _PLACE.findall(relied_on):
            place = REPO / path
            assert place.exists(), f"{anchor}: {path} does not exist"
            if symbol:
                head = symbol.split(".")[0]
                definition = rf"^\s*(?:def|class) {head}\b|^{head}\b[^=\n]*="
                assert re.search(definition, place.read_text(), re.M), f"{anchor}: no {head} in {path}"


def test_every_cited_row_exists() -> None:
    rows = _rows()
    sources = [REPO / "template.yaml", *(REPO / "docs").glob("*.md")]
    for folder in ("src", "worker", "qas", "lint", "tests"):
        sources.extend((REPO / folder).rglob("*.py"))
    cited = {
        (path.relative_to(REPO), anchor)
        for path in sources
        if path != REGISTER
        for anchor in _CITATION.findall(path.read_text())
    }
    assert cited, "no code cites the register"
    missing = sorted(f"{path}: #{anchor}" for path, anchor in cited if anchor not in rows)
    assert not missing, missing

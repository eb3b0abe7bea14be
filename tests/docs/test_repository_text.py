"""The repository's text stands on its own: no numbers of a tracker its readers cannot see, and every
link between its documents reaches an existing file and heading."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_TEXT_DIRS = ("src", "worker", "qas", "lint", "tests", "docs", "events", "reports")
_TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".txt", ".cfg"}
# The word issue followed by a number (with a space, a hyphen or a hash): a tracker number. Another
# project's, after its owner/name ("boto/boto3 issue 871"), is a source and stays; so does a URL.
_ISSUE = re.compile(r"\bissues?[ -]#?\d+", re.IGNORECASE)
_OWNER_REPO = re.compile(r"[\w.-]+/[\w.-]+$")
# A hash and digits on their own; after a project's name ("aws/containers-roadmap#2614") it is a source.
_HASH_NUMBER = re.compile(r"(?<![\w./-])#\d+\b")
_URL = re.compile(r"https?://\S+")
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _text_files() -> Iterator[Path]:
    for path in sorted(REPO.iterdir()):
        if path.is_file() and (path.suffix in _TEXT_SUFFIXES or path.name == "Makefile"):
            yield path
    for folder in _TEXT_DIRS:
        for path in sorted((REPO / folder).rglob("*")):
            if path.suffix in _TEXT_SUFFIXES and "__pycache__" not in path.parts:
                yield path


def _tracker_numbers(line: str) -> list[str]:
    line = _URL.sub("", line)
    found = [m.group() for m in _HASH_NUMBER.finditer(line)]
    for match in _ISSUE.finditer(line):
        before = line[: match.start()]
        words = before.split()
        if before[-1:].isspace() and words and _OWNER_REPO.search(words[-1]):
            continue
        found.append(match.group())
    return found


def test_no_tracker_issue_numbers() -> None:
    hits = [
        f"{path.relative_to(REPO)}:{number}: {found}"
        for path in _text_files()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        for found in _tracker_numbers(line)
    ]
    assert not hits, hits


def _slug(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.replace("`", "").strip().lower()).replace(" ", "-")


def _anchors(markdown: Path) -> set[str]:
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    in_code = False
    for line in markdown.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code:
            continue
        heading = re.match(r"#{1,6}\s+(.*?)\s*$", line)
        if heading:
            slug = _slug(heading.group(1))
            anchors.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
            seen[slug] = seen.get(slug, 0) + 1
        anchors.update(re.findall(r'<a (?:id|name)="([^"]+)"', line))
    return anchors


def test_links_between_documents_reach_a_file_and_a_heading() -> None:
    broken = []
    for document in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for target in _LINK.findall(document.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # a URL
            path, _, anchor = target.partition("#")
            destination = (document.parent / path) if path else document
            if not destination.exists():
                broken.append(f"{document.name}: {target} (no such file)")
            elif anchor and destination.suffix == ".md" and anchor not in _anchors(destination):
                broken.append(f"{document.name}: {target} (no such heading)")
    assert not broken, broken

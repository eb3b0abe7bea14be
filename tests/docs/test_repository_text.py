"""The repository's text stands on its own: no numbers of a tracker its readers cannot see, every
link between its documents reaches an existing file and heading, and every repository path the text
names (in the documents, the code's comments and docstrings, the Makefile, the template) exists."""

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


# A path inside the repository, named in text: it starts at one of these folders.
_REPO_PATH = re.compile(
    r"(?<![\w./-])((?:src|worker|qas|tests|docs|lint|benchmarks|events)/(?:[\w./-]*[\w/])?)"
)
_PATH_SOURCES = ("src", "qas", "worker", "tests", "lint", "benchmarks")


def _texts_naming_paths() -> Iterator[Path]:
    yield from (REPO / name for name in ("README.md", "Makefile", "template.yaml", "pyproject.toml"))
    yield from sorted((REPO / "docs").glob("*.md"))
    for folder in _PATH_SOURCES:
        yield from (path for path in sorted((REPO / folder).rglob("*.py")) if "__pycache__" not in path.parts)


def named_paths(line: str) -> list[str]:
    """The repository paths a line names, without a ``:symbol`` or ``::test`` suffix; placeholders
    (``tests/...py``, ``<name>``, globs) are not paths."""
    return [
        found.split(":")[0]
        for found in _REPO_PATH.findall(line)
        if "..." not in found and not any(mark in found for mark in "<>*{}$")
    ]


def test_named_paths_are_read_as_paths() -> None:
    line = "see `qas/emulator/server.py:EmulatorServer`, tests/docs/test_packaging.py::t, tests/...py, src/"
    assert named_paths(line) == ["qas/emulator/server.py", "tests/docs/test_packaging.py", "src/"]
    assert named_paths("a path like subdir/qas/x.py is not at the root") == []


def test_paths_named_in_text_exist() -> None:
    missing = [
        f"{path.relative_to(REPO)}:{number}: {named}"
        for path in _texts_naming_paths()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        for named in named_paths(line)
        if not (REPO / named).exists()
    ]
    assert not missing, missing

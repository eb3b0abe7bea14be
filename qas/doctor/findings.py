"""What a check found, and how the report and the exit code come out of the findings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    PROBLEM = "problem"  # the deploy or the stack will not work until it is fixed
    NOTE = "note"  # worth knowing; nothing is wrong
    OK = "ok"


@dataclass(frozen=True)
class Finding:
    check: str
    severity: Severity
    what: str
    fix: str = ""


def ok(check: str, what: str) -> Finding:
    return Finding(check, Severity.OK, what)


def note(check: str, what: str, fix: str = "") -> Finding:
    return Finding(check, Severity.NOTE, what, fix)


def problem(check: str, what: str, fix: str) -> Finding:
    return Finding(check, Severity.PROBLEM, what, fix)


_MARK = {Severity.PROBLEM: "FAIL", Severity.NOTE: "note", Severity.OK: " ok "}


def render(findings: Iterable[Finding]) -> str:
    lines = []
    for finding in findings:
        lines.append(f"[{_MARK[finding.severity]}] {finding.check}: {finding.what}")
        if finding.fix:
            lines.append(f"       fix: {finding.fix}")
    return "\n".join(lines)


def exit_code(findings: Iterable[Finding]) -> int:
    """0 only when nothing is wrong."""
    return 1 if any(finding.severity is Severity.PROBLEM for finding in findings) else 0

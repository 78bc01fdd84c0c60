"""The harness as the suite runs it: each test's sandboxes checked when it ends, known violations set apart."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cmkctl_sandbox.state import CALLS_FILE
from tests.contracts.harness import COVERAGE, Violation, check_sandbox


@dataclass(frozen=True)
class Known:
    item: int  # the divergence of issue 13 whose branch removes the violation
    plane: str
    path: re.Pattern[str]
    problem: re.Pattern[str]
    why: str

    def matches(self, violation: Violation) -> bool:
        return (violation.plane == self.plane and self.path.search(violation.path) is not None
                and self.problem.search(violation.problem) is not None)


# Known violations pending item N: each is fixed on another branch of issue 13; delete the entry when that
# branch is merged. `test_known_violations_are_still_seen` fails once an entry no longer happens, so a
# stale entry cannot hide a regression.
# Violations a pending change will fix, each with the item it waits for; empty when nothing is pending.
KNOWN_VIOLATIONS: tuple[Known, ...] = ()

SEEN: set[Known] = set()


def known(violation: Violation) -> Known | None:
    return next((k for k in KNOWN_VIOLATIONS if k.matches(violation)), None)


def unexplained(violations: Iterable[Violation]) -> list[Violation]:
    left = []
    for violation in violations:
        entry = known(violation)
        if entry is None:
            left.append(violation)
        else:
            SEEN.add(entry)
    return left


def violations_under(directory: Path) -> list[Violation]:
    return [v for journal in sorted(directory.rglob(CALLS_FILE)) for v in check_sandbox(journal.parent)]


def assert_conforms(directory: Path) -> None:
    left = unexplained(violations_under(directory))
    if left:
        shown = "\n".join(f"  {v}" for v in left[:25])
        more = f"\n  ... and {len(left) - 25} more" if len(left) > 25 else ""
        pytest.fail(f"{len(left)} exchange(s) the published definitions forbid:\n{shown}{more}", pytrace=False)


def report(terminal: Any) -> None:
    if not COVERAGE:
        return
    terminal.write_sep("-", "conformance: operations used, held to their definitions (tests/contracts/README.md)")
    for (plane, operation, how), count in sorted(COVERAGE.items()):
        terminal.write_line(f"{plane:9} {how:9} {count:6}  {operation}")

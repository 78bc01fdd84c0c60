"""The copies of the vendors' examples, and README.md's table of what replaying them shows, kept true.

The table cannot go stale: it must list exactly the examples the definitions name for the operations cmkctl
uses (each copied under `examples/`, or named as not found), with the results the replay tests' tables give.
"""

from __future__ import annotations

import pytest

from tests.contracts import example_results, vendor_examples
from tests.contracts.example_results import KNOWN_WRONG
from tests.contracts.vendor_examples import HERE

BEGIN = "<!-- examples table: python -m tests.contracts.example_results -->\n"
END = "<!-- end of examples table -->\n"


def test_the_copies_are_exactly_the_referenced_examples() -> None:
    referenced = {e.name for e in vendor_examples.referenced()}
    assert set(vendor_examples.NOT_FOUND) <= referenced
    assert vendor_examples.files_held() == referenced - set(vendor_examples.NOT_FOUND)


def test_every_operation_cmkctl_uses_has_its_definition_and_an_example() -> None:
    used = {op for _, operation_ids in vendor_examples.USED.values() for op in operation_ids}
    assert used == {e.operation_id for e in vendor_examples.referenced()}


def test_the_open_and_known_wrong_entries_name_copied_examples() -> None:
    copied = {e.file for e in vendor_examples.copied()}
    opened = [*example_results.PENDING, *example_results.DIFFERS]
    assert {file for file, _ in opened} <= copied and {d for _, d in opened} <= {"a", "b"}
    assert set(KNOWN_WRONG) <= copied
    assert not set(example_results.PENDING) & set(example_results.DIFFERS)


@pytest.mark.parametrize("file", sorted(KNOWN_WRONG))
def test_known_wrong_examples_are_still_wrong(file: str) -> None:
    """Once upstream mends an example, its entry goes (and its answers are compared whole again)."""
    assert KNOWN_WRONG[file].still(vendor_examples.by_name(file))


def test_the_readme_table_is_what_the_replays_show() -> None:
    readme = (HERE / "README.md").read_text("utf-8")
    assert BEGIN in readme and END in readme, "README.md lost the examples table's markers"
    shown = readme.split(BEGIN, 1)[1].split(END, 1)[0]
    assert shown == example_results.table(), "regenerate it: python -m tests.contracts.example_results"

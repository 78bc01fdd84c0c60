"""Hostile input: generated and mutated manifests never crash cmkctl; invalid ones exit 3 with a location.

Hypothesis's examples are bounded (and its database off) so the suite stays fast and repeatable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import EXAMPLES, Result, write

BOUNDED = settings(max_examples=60, deadline=None, database=None, derandomize=True,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))
# "FILE:LINE: ..." or "FILE: ..." for every problem listed.
LOCATED = re.compile(r"^  \S+\.yaml(:\d+)?: ", re.MULTILINE)


def assert_handled(result: Result, *, allowed: tuple[int, ...] = (0, 3)) -> None:
    assert "hit a bug" not in result.err and "Traceback" not in result.out + result.err, result.err
    assert result.code in allowed, (result.code, result.out, result.err)
    if result.code == 3 and "problem" in result.err:
        assert LOCATED.search(result.err), result.err


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    st.text(max_size=30), st.sampled_from(["azure", "aws", "eastus", "cmkctl/v1", "KeySet", "RSA"]))
keys = st.one_of(st.sampled_from(["apiVersion", "kind", "metadata", "name", "accounts", "regions", "vaults", "keys",
                                  "registrations", "astra", "cloud", "roleAssignments", "principal", "lock"]),
                 st.text(min_size=1, max_size=12))
documents = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.dictionaries(keys, inner, max_size=5)), max_leaves=25)


@BOUNDED
@given(document=documents)
def test_generated_documents(cmkctl: Callable[..., Result], tmp_path: Path, document: object) -> None:
    path = write(tmp_path / "generated.yaml", yaml.safe_dump(document))
    result = cmkctl("validate", path)
    assert_handled(result)
    assert result.code == 3  # nothing random is a valid key set


HOSTILE_VALUES = ["", "-1", "~", "[]", "{}", "x" * 300, "&a [*a]", "!!python/object:os.system ls", "2048", "EC",
                  '"\\u0000"', "*undefined", "{a: 1, a: 2}", "1e999"]


def mutate(text: str, data: st.DataObject) -> str:
    lines = text.splitlines()
    for _ in range(data.draw(st.integers(1, 3))):
        index = data.draw(st.integers(0, max(0, len(lines) - 1)))
        operation = data.draw(st.sampled_from(["delete", "duplicate", "replace", "indent", "value", "truncate"]))
        if not lines:
            break
        if operation == "delete":
            del lines[index]
        elif operation == "duplicate":
            lines.insert(index, lines[index])
        elif operation == "replace":
            line = lines[index]
            at = data.draw(st.integers(0, max(0, len(line))))
            lines[index] = line[:at] + data.draw(st.text(max_size=4)) + line[at + 1:]
        elif operation == "indent":
            lines[index] = " " * data.draw(st.integers(0, 5)) + lines[index].lstrip()
        elif operation == "value" and ":" in lines[index]:
            key = lines[index].split(":", 1)[0]
            lines[index] = f"{key}: {data.draw(st.sampled_from(HOSTILE_VALUES))}"
        elif operation == "truncate":
            lines = lines[:index]
    return "\n".join(lines) + "\n"


@BOUNDED
@given(data=st.data())
def test_mutated_examples(cmkctl: Callable[..., Result], tmp_path: Path, data: st.DataObject) -> None:
    source = data.draw(st.sampled_from(EXAMPLE_FILES))
    path = write(tmp_path / "mutated.yaml", mutate(source.read_text("utf-8"), data))
    assert_handled(cmkctl("validate", path))


@settings(BOUNDED, max_examples=8)
@given(data=st.data())
def test_mutated_examples_planned_against_a_sandbox(cmkctl: Callable[..., Result], tmp_path: Path,
                                                     data: st.DataObject) -> None:
    source = data.draw(st.sampled_from([p for p in EXAMPLE_FILES if "aws" not in p.name and "all" not in p.name]))
    path = write(tmp_path / "mutated.yaml", mutate(source.read_text("utf-8"), data))
    # A valid mutant may still be refused by the emulated planes (exit 1); none may crash.
    assert_handled(cmkctl("plan", "-f", path, "--sandbox", tmp_path / f"sb-{os.urandom(4).hex()}"), allowed=(0, 1, 3))


def test_deep_nesting(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    for name, text in (("flow", "a: " + "[" * 20000 + "]" * 20000), ("block", "".join(
            f"{'  ' * i}k{i}:\n" for i in range(200)) + "  " * 200 + "v: 1")):
        result = cmkctl("validate", write(tmp_path / f"{name}.yaml", text + "\n"))
        assert_handled(result)
        assert result.code == 3 and ("nested" in result.err or "deeply" in result.err), result.err


def test_a_file_of_100_megabytes_is_refused_before_it_is_read(cmkctl: Callable[..., Result], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as handle:
        handle.truncate(100 * 1024 * 1024)  # sparse: 100 MB without writing them
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("the file was read"))
    result = cmkctl("validate", path)
    assert result.code == 3 and "104857600 bytes" in result.err and "E-SIZE" in result.err


HOSTILE_SCALARS = {
    "an int tag on a word": ("!!int abc", "'abc' is not a valid !!int"),
    "a bool tag on maybe": ("!!bool maybe", "'maybe' is not a valid !!bool"),
    "a float tag on a word": ("!!float abc", "'abc' is not a valid !!float"),
    "an empty int": ('!!int ""', "'' is not a valid !!int"),
    "a 5,000-digit integer": ("9" * 5000, "an integer of 5000 digits; integers in a manifest are limited to 64-bit"),
    "a 3 MB hexadecimal integer": ("0x" + "f" * 3 * 1024 * 1024, "an integer of 12582912 bits; integers in a "
                                   "manifest are limited to 64-bit"),
}


@pytest.mark.parametrize("case", HOSTILE_SCALARS)
def test_hostile_scalars_are_refused_with_their_line(cmkctl: Callable[..., Result], tmp_path: Path, case: str) -> None:
    value, said = HOSTILE_SCALARS[case]
    text = (EXAMPLES / "astra-serverless-azure.yaml").read_text().replace("size: 3072", f"size: {value}", 1)
    result = cmkctl("validate", write(tmp_path / "scalar.yaml", text))
    assert_handled(result)
    assert result.code == 3
    assert f"scalar.yaml:28: regions[0].keys[0].size: {said}" in result.err, result.err[:500]
    assert len(result.err) < 1000


def test_a_huge_value_is_cut_in_the_diagnostic(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    huge = "a" * (4 * 1024 * 1024 - 2000)  # the file stays under the 4 MB limit
    text = (EXAMPLES / "astra-serverless-azure.yaml").read_text().replace("name: acme-astra\n", f"name: {huge}\n", 1)
    for command in (("validate",), ("validate", "--format", "json"), ("plan", "-f")):
        result = cmkctl(*command, write(tmp_path / "huge.yaml", text))
        assert result.code == 3
        said = result.out + result.err
        assert f"'{'a' * 200}'… ({len(huge)} characters) does not match" in said, said[:500]
        assert len(said) < 2000

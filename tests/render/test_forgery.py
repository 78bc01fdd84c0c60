"""A pull request comment cannot be forged from a manifest, a cloud's answer or an edited saved plan.

The attack: a value holding a newline, a closing code fence, a bold "No changes" line and an
unterminated `<!--` ends the diff block, prints a fake summary and hides the rest of the comment.
The markdown is parsed here as CommonMark (with GitHub's tables) to see what a reviewer would see.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from reconciler.plan.document import digest
from tests.conftest import EXAMPLES, Result, mutating_calls, write

EXAMPLE = EXAMPLES / "astra-serverless-azure.yaml"
FAKE = "No changes. Live state matches the manifests."
FORGERY = f"x\n```\n\n**{FAKE}**\n\n<!--"
AWS = (EXAMPLES / "astra-managed-clusters-aws.yaml").read_text()


def tokens(markdown: str) -> Iterator[Token]:
    for token in MarkdownIt("commonmark").enable("table").parse(markdown):
        yield token
        yield from token.children or ()


def assert_unforged(markdown: str, blocks: int | None = None) -> None:
    found = list(tokens(markdown))
    bold = [found[i + 1].content for i, t in enumerate(found) if t.type == "strong_open"]
    assert FAKE not in bold, bold
    assert not [t.content for t in found if t.type.startswith("html") and "<!--" in t.content]
    fences = [t for t in found if t.type == "fence"]
    assert all(t.info == "diff" for t in fences)
    for fence in fences:  # a value never ends its block: every line of a diff is a change
        assert all(line[:2] in ("+ ", "- ") for line in fence.content.splitlines()), fence.content
    if blocks is not None:
        assert len(fences) == blocks


def test_validate_refuses_a_sid_that_would_forge_the_comment(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sid = json.dumps("Allow key administrators" + FORGERY)
    text = AWS.replace("- Sid: Allow key administrators", f"- Sid: {sid}", 1)
    assert text != AWS
    for command in (("validate",), ("plan", "-f")):
        result = cmkctl(*command, write(tmp_path / "m.yaml", text), *(("--sandbox", tmp_path / "s") if
                                                                        command[0] == "plan" else ()))
        assert result.code == 3, result.out + result.err
        assert "m.yaml:28: regions[0].keys[0].policy.statements[0].Sid: 'Allow key administrators" in result.err
        assert "does not match" in result.err and "\n```" not in result.err
    assert not (tmp_path / "s" / "calls.jsonl").exists()


def test_a_cloud_value_cannot_end_its_block(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    key_id = json.dumps(f"https://other.vault.azure.net/keys/k{FORGERY}")
    write(sandbox / "world.yaml", "astra:\n  orgId: 33333333-3333-3333-3333-333333333333\n  registrations:\n"
          f"    - {{product: serverless, provider: azure, region: eastus, keyID: {key_id}}}\n")
    result = cmkctl("plan", "-f", EXAMPLE, "--sandbox", sandbox, "--format", "markdown")
    assert result.code == 3 and "**Forbidden** `astra_registration.eastus.serverless`" in result.out
    assert_unforged(result.out)
    assert mutating_calls(sandbox) == []


def hostile(document: dict[str, Any]) -> dict[str, Any]:
    """Every string of a saved plan a renderer prints raw, as an attacker who edits the file sets it."""
    step = next(s for s in document["steps"] if s["changes"])
    step["reason"] = "a reason" + FORGERY
    step["changes"][0]["name"] = "keySize" + FORGERY + "`````"
    step["address"] = step["address"] + "</code></summary>``` | **x** <!--"  # one line: the schema says so
    document["notices"].append({"code": "W-X" + FORGERY, "region": "eastus" + FORGERY, "level": "warning",
                                "message": "a notice" + FORGERY})
    document["key_set"] = "acme" + FORGERY
    document["digest"] = digest(document)
    return document


def test_an_edited_saved_plan_cannot_forge_its_comments(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    assert cmkctl("plan", "-f", EXAMPLE, "--sandbox", tmp_path / "sandbox", "--out", saved).code == 0
    forged = write(tmp_path / "forged.json", json.dumps(hostile(json.loads(saved.read_text()))))
    shown = cmkctl("show", forged, "--format", "markdown")
    assert shown.code == 0, shown.err
    blocks = shown.out.count("<details>")
    assert_unforged(shown.out, blocks)
    folder = tmp_path / "comments"
    assert cmkctl("show", forged, "--format", "markdown", "--split", folder).code == 0
    for comment in sorted(folder.glob("comment-*.md")):
        assert_unforged(comment.read_text())

"""Markdown cut into pull request comments: each under 65,536 characters, the first with all a reviewer must see."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmarks.fleet_manifest import AWS_REGIONS, AZURE_REGIONS, fleet
from reconciler.render.markdown import render_markdown
from reconciler.render.split import COMMENT_LIMIT, split_markdown
from reconciler.render.values import summary_line
from tests.conftest import Result, write

# The marker line the workflow writes above each comment.
MARKER = "<!-- cmkctl-plan 12 -->\n"
# Two Azure regions Astra has not enabled: the fleet's plan is forbidden there, and blocked.
NOT_ENABLED = ("eastus", "japaneast")


@pytest.fixture(scope="module")
def fleet_plan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The whole fleet's plan, made in the sandbox (~3 s): 1,600 objects, some forbidden, 560 irreversible."""
    from reconciler.cli import main

    folder = tmp_path_factory.mktemp("fleet")
    manifest = write(folder / "fleet.yaml", yaml.safe_dump(fleet(len(AZURE_REGIONS), len(AWS_REGIONS))))
    accounts = "".join(f"    - {{product: serverless, provider: azure, region: {region}, providerIds: []}}\n"
                       for region in NOT_ENABLED)
    write(folder / "sandbox" / "world.yaml", "astra:\n  accounts:\n" + accounts)
    with pytest.MonkeyPatch.context() as patch, pytest.raises(SystemExit) as exited:
        patch.chdir(folder)  # a saved plan names manifests of the checkout (here: the folder) it runs in
        main(["plan", "-f", str(manifest), "--sandbox", str(folder / "sandbox"), "--out", str(folder / "plan.json")])
    assert exited.value.code == 3  # forbidden, and saved for review
    document: dict[str, Any] = json.loads((folder / "plan.json").read_text())
    return document


def test_the_fleet_plan_splits_into_comments_under_the_limit_the_first_with_every_forbidden_and_irreversible_step(
    fleet_plan: dict[str, Any], cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    (tmp_path / "plan.json").write_text(json.dumps(fleet_plan))
    shown = cmkctl("show", tmp_path / "plan.json", "--format", "markdown", "--split", tmp_path / "comments")
    assert shown.code == 0, shown.err
    paths = [Path(line) for line in shown.out.splitlines()]
    assert [p.name for p in paths] == [f"comment-{n:02d}.md" for n in range(1, len(paths) + 1)]
    comments = [p.read_text() for p in paths]
    assert len(render_markdown(fleet_plan)) > 500_000 and len(comments) > 8
    assert all(len(MARKER + text) < COMMENT_LIMIT for text in comments)
    first = comments[0]
    assert f"**{summary_line(fleet_plan['summary'])}**" in first
    assert "> **This plan is blocked**" in first
    special = [s for s in fleet_plan["steps"] if s["actions"] == ["forbidden"]
               or (s["irreversible"] and s["actions"][0] in ("create", "update"))]
    assert len([s for s in special if s["actions"] == ["forbidden"]]) == len(NOT_ENABLED)
    assert len(special) > 500
    assert [s["address"] for s in special if f"`{s['address']}`" not in first] == []


def test_every_step_is_in_one_comment_and_no_block_is_cut(fleet_plan: dict[str, Any]) -> None:
    comments = split_markdown(fleet_plan)
    for number, text in enumerate(comments, start=1):
        assert text.count("<details>") == text.count("</details>"), number
        assert text.count("```") % 2 == 0, number
        assert f"comment {number} of {len(comments)}" in text
    rows = "".join(comments)
    assert [s["address"] for s in fleet_plan["steps"] if f"| `{s['address']}` |" not in rows] == []


def test_a_table_cut_in_two_starts_again_with_its_heading(fleet_plan: dict[str, Any]) -> None:
    continued = 0
    for text in split_markdown(fleet_plan):
        lines = text.splitlines()
        for at, line in enumerate(lines):
            if line == "| | object | action |":
                assert lines[at + 1] == "|---|---|---|" and lines[at - 2].startswith("#### ")
                continued += lines[at - 2].endswith("(continued)")
            elif line.startswith("| `"):
                assert lines[at - 1].startswith("|"), line  # a row follows a row or the header, never prose
    assert continued > 0


def test_a_plan_that_fits_is_one_comment_equal_to_the_markdown(fleet_plan: dict[str, Any]) -> None:
    small = {**fleet_plan, "steps": fleet_plan["steps"][:20], "notices": []}
    assert split_markdown(small) == [render_markdown(small)]


def test_split_goes_with_markdown_only(cmkctl: Callable[..., Result], fleet_plan: dict[str, Any],
                                       tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text(json.dumps(fleet_plan))
    result = cmkctl("show", tmp_path / "plan.json", "--split", tmp_path / "comments")
    assert result.code == 1 and "it goes with --format markdown" in result.err


def test_a_piece_longer_than_a_comment_is_cut_saying_so(fleet_plan: dict[str, Any]) -> None:
    step = {**fleet_plan["steps"][-1], "changes": [{"name": "huge", "before": None, "after": "x" * 200_000}]}
    comments = split_markdown({**fleet_plan, "steps": [step], "notices": []})
    assert all(len(MARKER + text) < COMMENT_LIMIT for text in comments)
    assert "cut here to fit one comment" in "".join(comments)

"""Configuration is read once, at the command line: nothing below `reconciler/cli/` reads the environment."""

from __future__ import annotations

import ast
from pathlib import Path

from reconciler.core.settings import Settings

PACKAGE = Path(__file__).resolve().parent.parent / "reconciler"
READERS = frozenset({"environ", "environb", "getenv", "getenvb"})


def environment_reads(tree: ast.AST) -> list[int]:
    """Lines that read the process's environment: `os.environ`, `os.getenv`, or either imported from os."""
    return sorted(node.lineno for node in ast.walk(tree) if _reads(node))


def _reads(node: ast.AST) -> bool:
    if isinstance(node, ast.Attribute):
        return node.attr in READERS and isinstance(node.value, ast.Name) and node.value.id == "os"
    if isinstance(node, ast.ImportFrom):
        return node.module == "os" and any(alias.name in READERS or alias.name == "*" for alias in node.names)
    return False


def test_no_module_below_the_command_line_reads_the_environment() -> None:
    below = [path for path in sorted(PACKAGE.rglob("*.py")) if "cli" not in path.relative_to(PACKAGE).parts[:1]]
    assert len(below) > 100  # the walk found the package
    found = [f"{path.relative_to(PACKAGE.parent)}:{line}" for path in below
             for line in environment_reads(ast.parse(path.read_text("utf-8")))]
    assert found == []


def test_the_check_sees_each_way_of_reading_the_environment() -> None:
    source = ("import os\nfrom os import getenv\nfrom os import environ as e\n"
              "a = os.environ['X']\nb = os.getenv('Y')\nc = os.environb\nd = os.path.join('p')\n")
    assert environment_reads(ast.parse(source)) == [2, 3, 4, 5, 6]


def test_settings_are_a_copy_taken_once() -> None:
    environ = {"CMKCTL_PLAN_SIGNING_KEY": "k", "EMPTY": ""}
    settings = Settings.read(environ)
    environ["CMKCTL_PLAN_SIGNING_KEY"] = "changed later"
    assert settings.get("CMKCTL_PLAN_SIGNING_KEY") == "k"
    assert settings.secret("EMPTY") is None and settings.secret("UNSET") is None
    assert repr(settings.secret("CMKCTL_PLAN_SIGNING_KEY")) == "Secret('***')"


def test_the_state_directory_is_the_one_the_settings_name(tmp_path: Path) -> None:
    assert Settings.read({"CMKCTL_STATE_DIR": str(tmp_path)}).state_directory() == tmp_path
    assert Settings.read({"XDG_STATE_HOME": str(tmp_path)}).state_directory() == tmp_path / "cmkctl"

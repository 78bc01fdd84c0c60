"""The README a newcomer starts from says what is true of this checkout."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable

from cmkctl_sandbox.faults import PLANES
from tests.conftest import EXAMPLES, ROOT, Result

README = (ROOT / "README.md").read_text("utf-8")
# Each plane the sandbox emulates, as its help names it.
PLANE_NAMES = {"arm": "Azure Resource Manager", "graph": "Microsoft Graph", "astra": "Astra DevOps API",
               "confluent": "Confluent Cloud", "aws": "AWS KMS"}


def test_sandbox_help_names_every_plane_it_emulates(cmkctl: Callable[..., Result]) -> None:
    assert set(PLANE_NAMES) == set(PLANES)
    text = " ".join(cmkctl("sandbox", "--help").out.split())
    for name in PLANE_NAMES.values():
        assert name in text, name
    for service in ("Cassandra", "MongoDB vCore", "user-assigned identities", "service principals", "BYOK keys"):
        assert service in text, service


def test_every_system_with_an_example_is_end_to_end_in_the_status_table() -> None:
    table = README.split("| system | status |", 1)[1].split("\n\n", 1)[0]
    statuses = dict(re.findall(r"^\| (.+?) \| (.+?) \|$", table, re.MULTILINE))
    assert len(statuses) == 6 and set(statuses.values()) == {"end to end"}, statuses
    assert statuses["Azure Cosmos DB for MongoDB vCore"] == "end to end"


def test_the_python_the_readme_asks_for_is_the_one_the_package_requires() -> None:
    required = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["requires-python"]
    assert required == ">=3.11"
    try_it = README.split("## Try it", 1)[1].split("```sh", 1)[0]
    assert "Python 3.11 or later" in try_it


def test_the_readme_names_the_variables_of_the_examples_that_need_them() -> None:
    try_it = README.split("## Try it", 1)[1].split("## Run the tests", 1)[0]
    for example in sorted(EXAMPLES.glob("*.yaml")):
        needed = sorted(set(re.findall(r"\{env: ([A-Z_]+)\}", example.read_text("utf-8"))))
        if needed:
            sentence = try_it[try_it.index(f"`{example.name}`"):][:200]
            assert all(f"`{variable}`" in sentence for variable in needed), (example.name, needed, sentence)
    assert "export CASSANDRA_ADMIN_PASSWORD=" in try_it and "MONGO_ADMIN_PASSWORD=" in try_it

"""A wrapper that keeps credentials out of reprs, logs and tracebacks, and the variables a plan will read."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from reconciler.plan import Action, Step


def from_environment(variable: str | None) -> dict[str, Any]:
    """How a plan shows a secret, for every system alike: the variable holding it, marked sensitive."""
    return {"env": variable, "sensitive": True}


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


# A create-time secret is declared as `{env: NAME}` (see the Mongo and Cassandra systems): the value
# is read only when the object is created, so a plan can say which variables its apply will need.
VARIABLE_FIELD = "env"


def variables_needed(steps: Iterable[Step]) -> Iterator[tuple[Step, str, str]]:
    """(step, attribute, variable) for each environment variable a create of the plan reads."""
    for step in steps:
        if step.action is Action.CREATE:
            for name, value in step.attributes.items():
                if isinstance(value, Mapping) and isinstance(value.get(VARIABLE_FIELD), str):
                    yield step, name, value[VARIABLE_FIELD]


def unset_variables(steps: Iterable[Step], environ: Mapping[str, str]) -> list[tuple[Step, str, str]]:
    """The variables the plan's creates will read that are not set (or set to nothing)."""
    return [needed for needed in variables_needed(steps) if not environ.get(needed[2])]


def describe_unset(step: Step, attribute: str, variable: str) -> str:
    return f"{step.address}: the environment variable {variable} ({attribute}) is not set"

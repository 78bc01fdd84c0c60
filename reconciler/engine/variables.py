"""The environment variables a plan's creates will read (administrator passwords), known at plan time.

A create-time secret is declared as `{env: NAME}` (see the Mongo and Cassandra systems): the value
is read only when the object is created, so a plan can say which variables its apply will need,
and an apply can refuse before its first change when one is missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from reconciler.plan.model import Action, Step

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

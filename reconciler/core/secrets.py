"""A wrapper that keeps credentials out of reprs, logs and tracebacks, and how a plan shows a secret."""

from __future__ import annotations

from typing import Any


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

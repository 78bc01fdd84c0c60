"""One diagnostic for every layer: a manifest problem, a notice, a refusal, a provider's failure, a
skipped step. It says how bad it is, which rule or code it is (stable: users search for it), what
and why, which object it is about, and where in the input it was declared (Terraform's tfdiags)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from reconciler.core.printable import cut

SUMMARY_LIMIT = 1000


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Diagnostic:
    """Located as precisely as its layer could: `file`, `line` and `field` of the input; `address` of
    the object (a plan step's) when it is about one."""

    file: str
    line: int | None
    field: str
    summary: str
    # The rule or code: R-ASTRA-GRANT, E-REFERENCE, W-VARIABLE-UNSET...
    rule: str = ""
    severity: Severity = Severity.ERROR
    detail: str = ""
    address: str = ""

    def __post_init__(self) -> None:
        # The last guard against a huge value echoed whole: each value quoted is cut already.
        object.__setattr__(self, "summary", cut(self.summary, SUMMARY_LIMIT))

    @property
    def code(self) -> str:
        return self.rule

    def render(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        field = f" {self.field}:" if self.field else ""
        rule = f" [{self.rule}]" if self.rule else ""
        return f"{where}:{field} {self.summary}{rule}"

    def as_dict(self) -> dict[str, Any]:
        """The diagnostic as `--json` writes it."""
        return {"severity": self.severity.value, "code": self.rule, "summary": self.summary,
                "detail": self.detail, "address": self.address,
                "source": {"file": self.file, "line": self.line, "field": self.field}}

"""Plan data: what cmkctl intends to do. Types only; nothing here reads or writes anything."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Every format of the saved plan's document, oldest first, and what each changed: the one place they are
# recorded. A change to the document (a field added, removed, renamed or given another meaning) is a new
# version here, and in the schema (plan.v1.json), whose format_version a test holds to this table.
FORMAT_HISTORY: tuple[tuple[str, str], ...] = (
    ("1.0", "the first saved plan; later given, under the same version, complete, each step's rules, the context "
            "the plan was made against and the signature"),
    ("2.0", "records each manifest with its SHA-256, from the root of the checkout"),
    ("3.0", "adds applicable, false when a step is forbidden and apply refuses the plan"),
)
# The one format this cmkctl writes and reads.
FORMAT_VERSION = FORMAT_HISTORY[-1][0]


class Action(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    NOOP = "no-op"
    READ = "read"
    FORBIDDEN = "forbidden"


# A live state's entry naming the declared attributes its read could not read (attribute -> why, and
# what would let cmkctl read it): shown as unknown with a warning (UNREADABLE_NOTICE), never a change.
UNREADABLE = "unreadable"
UNREADABLE_NOTICE = "W-UNREADABLE"


@dataclass(frozen=True)
class Unknown:
    """A value that exists only once `address` has been applied, e.g. a new principal's object ID."""

    address: str
    attribute: str


@dataclass(frozen=True)
class Declared:
    """How the manifest says one attribute: its field, its value as written, and FILE:LINE.

    A refusal quotes these, not the control plane's names: `purgeProtection: false`, `key: "k2"`
    where the attribute itself is only known after apply.
    """

    field: str
    value: Any
    location: str


@dataclass(frozen=True)
class Resource:
    """One object the manifests declare, in the shape the planner diffs.

    `identity` locates the object (it never changes); `attributes` are the declared fields, and
    only those are compared with live state.
    """

    address: str
    kind: str
    region: str
    identity: Mapping[str, Any]
    attributes: Mapping[str, Any] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    # The object this one lives in: when the parent does not exist, neither can this one.
    parent: str = ""
    source: str = ""
    # attribute -> how the manifest declares it, where its field or value differs from the attribute.
    declared: Mapping[str, Declared] = field(default_factory=dict)


@dataclass(frozen=True)
class AttributeChange:
    name: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Step:
    address: str
    kind: str
    region: str
    action: Action
    identity: Mapping[str, Any]
    attributes: Mapping[str, Any]
    changes: tuple[AttributeChange, ...] = ()
    depends_on: tuple[str, ...] = ()
    irreversible: bool = False
    reason: str = ""
    # The object as read while planning (attributes and outputs); empty when it does not exist.
    live: Mapping[str, Any] = field(default_factory=dict)
    fingerprint: str = ""
    source: str = ""
    # The rules a forbidden step breaks (R-...), each also named in `reason`.
    rules: tuple[str, ...] = ()

    @property
    def mutates(self) -> bool:
        return self.action in (Action.CREATE, Action.UPDATE)

    @property
    def drift(self) -> bool:
        """The object exists and differs from the manifest: changed outside cmkctl, or newly declared so."""
        return bool(self.live) and self.action in (Action.UPDATE, Action.FORBIDDEN)


@dataclass(frozen=True)
class Notice:
    """Something the reviewer must know that is not a step: a warning or an unmanaged object."""

    code: str
    region: str
    message: str
    level: str = "warning"


@dataclass(frozen=True)
class PlanContext:
    """What a plan was made against, so that it is applied only there.

    `sandbox` is the sandbox's folder as an absolute path, or None for the real control planes;
    `accounts` are the manifest's accounts (field -> ID) the plan reads and would change.
    """

    sandbox: str | None = None
    accounts: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ManifestFile:
    """A manifest a plan was made from: its path from the checkout's root (POSIX slashes) and the
    SHA-256 of its bytes, so that apply reads that file, with that content, and nothing else."""

    path: str
    sha256: str


@dataclass(frozen=True)
class Plan:
    key_set: str
    steps: tuple[Step, ...]
    notices: tuple[Notice, ...] = ()
    manifest_digest: str = ""
    # Relative to the root of the checkout; absolute only in a plan printed, never saved, of files outside one.
    manifest_files: tuple[ManifestFile, ...] = ()
    # The --target addresses the plan was limited to; empty for the whole key set.
    targets: tuple[str, ...] = ()
    context: PlanContext = field(default_factory=PlanContext)
    format_version: str = FORMAT_VERSION

    @property
    def has_changes(self) -> bool:
        return any(step.mutates for step in self.steps)

    @property
    def forbidden(self) -> tuple[Step, ...]:
        return tuple(step for step in self.steps if step.action is Action.FORBIDDEN)

    def step(self, address: str) -> Step:
        for candidate in self.steps:
            if candidate.address == address:
                return candidate
        raise KeyError(address)

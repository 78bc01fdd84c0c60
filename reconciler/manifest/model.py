"""The resolved manifest: what the user declared, with defaults applied and references checked."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from reconciler.core.errors import Diagnostic
from reconciler.manifest.rotation import RotationPolicy


@dataclass(frozen=True)
class Source:
    """Where a declaration stands, so a rule can point at the exact field."""

    file: str
    line: int | None
    path: str
    field_lines: Mapping[str, int] = field(default_factory=dict, compare=False, hash=False)

    def at(self, name: str, summary: str, rule: str) -> Diagnostic:
        line = self.field_lines.get(name, self.line)
        return Diagnostic(self.file, line, f"{self.path}.{name}" if name else self.path, summary, rule)

    def location(self, name: str) -> str:
        """FILE:LINE of field `name`, or of the declaration when the field is not written (a default)."""
        return f"{self.file}:{self.field_lines.get(name) or self.line}"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Vault:
    name: str
    region: str
    resource_group: str
    sku: str
    purge_protection: bool
    soft_delete_retention_days: int
    authorization: str
    trusted_services_bypass: bool
    public_network: str
    source: Source
    # Recover a soft-deleted vault that holds the name, instead of refusing the plan.
    recover: bool = False


@dataclass(frozen=True)
class Key:
    name: str
    region: str
    vault: str
    type: str
    size: int | None
    curve: str | None
    source: Source
    # Key Vault's rotation policy; None: none declared, and none read or compared.
    rotation: RotationPolicy | None = None

    @property
    def is_rsa(self) -> bool:
        return self.type in ("RSA", "RSA-HSM")


@dataclass(frozen=True)
class Principal:
    """Who a role is given to: `kind` is astra, servicePrincipal or objectId."""

    kind: str
    value: str

    def label(self) -> str:
        return f"{self.kind}:{self.value}"


@dataclass(frozen=True)
class KmsKey:
    """An AWS KMS key, known by its alias. `statements` are the owner's, as written (each has a Sid)."""

    alias: str
    region: str
    description: str
    rotation: bool
    allow: tuple[Principal, ...]
    statements: tuple[Mapping[str, Any], ...]
    source: Source

    @property
    def name(self) -> str:
        return self.alias.removeprefix("alias/")


@dataclass(frozen=True)
class Role:
    name: str
    guid: str


@dataclass(frozen=True)
class RoleAssignment:
    region: str
    role: Role
    vault: str
    key: str | None
    principal: Principal
    source: Source


@dataclass(frozen=True)
class AccessPolicy:
    """Key permissions a principal holds through a vault's access policy (vaults without RBAC)."""

    region: str
    vault: str
    principal: Principal
    key_permissions: tuple[str, ...]
    source: Source


@dataclass(frozen=True)
class UserAssignedIdentity:
    """A user-assigned managed identity (`identities` of an Azure region); `{identity: NAME}` names it."""

    name: str
    region: str
    resource_group: str
    source: Source


@dataclass(frozen=True)
class Registration:
    """A key registered with a service that uses it; each system subclasses it."""

    region: str
    source: Source


R = TypeVar("R", bound=Registration)


@dataclass(frozen=True)
class Region:
    name: str
    cloud: str
    vaults: tuple[Vault, ...]
    keys: tuple[Key, ...]
    role_assignments: tuple[RoleAssignment, ...]
    registrations: tuple[Registration, ...]
    source: Source
    access_policies: tuple[AccessPolicy, ...] = ()
    # AWS regions: KMS keys, by alias (Azure regions have `keys` in vaults instead).
    kms_keys: tuple[KmsKey, ...] = ()
    # Azure regions: user-assigned managed identities.
    identities: tuple[UserAssignedIdentity, ...] = ()

    def registrations_of(self, kind: type[R]) -> tuple[R, ...]:
        return tuple(r for r in self.registrations if isinstance(r, kind))

    def vault(self, name: str) -> Vault | None:
        return next((v for v in self.vaults if v.name == name), None)

    def key(self, name: str) -> Key | None:
        return next((k for k in self.keys if k.name == name), None)

    def kms_key(self, alias: str) -> KmsKey | None:
        return next((k for k in self.kms_keys if k.alias == alias), None)

    def identity(self, name: str) -> UserAssignedIdentity | None:
        return next((i for i in self.identities if i.name == name), None)


@dataclass(frozen=True)
class Accounts:
    """`accounts:` of the manifest: the clouds' own, and each plug-in's block as written (its schema
    fragment says what it holds), so that a system with an account of its own edits nothing here."""

    azure_tenant_id: str | None = None
    azure_subscription_id: str | None = None
    aws_account_id: str | None = None
    # A plug-in's block by its name under `accounts:`: {"environmentId": "env-a1"}.
    blocks: Mapping[str, Mapping[str, str]] = field(default_factory=dict, hash=False)

    def of(self, block: str, name: str) -> str | None:
        """Field `name` of the plug-in block `block`, None when the manifest does not write it."""
        return self.blocks.get(block, {}).get(name)

    def flat(self) -> dict[str, str | None]:
        """Every account as one name and its value (`confluent_environment_id`), as a saved plan records them."""
        named: dict[str, str | None] = {"azure_tenant_id": self.azure_tenant_id,
                                        "azure_subscription_id": self.azure_subscription_id}
        for block, fields in self.blocks.items():
            named.update({f"{block}_{_snake(name)}": value for name, value in fields.items()})
        named["aws_account_id"] = self.aws_account_id
        return named

    def joined(self, other: Accounts) -> Accounts:
        """These accounts, with what only `other` names added."""
        blocks = {name: {**other.blocks.get(name, {}), **self.blocks.get(name, {})}
                  for name in {**other.blocks, **self.blocks}}
        return Accounts(azure_tenant_id=self.azure_tenant_id or other.azure_tenant_id,
                        azure_subscription_id=self.azure_subscription_id or other.azure_subscription_id,
                        aws_account_id=self.aws_account_id or other.aws_account_id, blocks=blocks)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


@dataclass(frozen=True)
class LockSetting:
    """`lock:` of the manifest: a DynamoDB table or a blob shared by many machines (None: the local lock)."""

    dynamodb_table: str | None = None
    dynamodb_region: str | None = None
    blob_account: str | None = None
    blob_container: str | None = None
    blob_name: str | None = None
    # FILE:LINE of the `lock:` block, for a refusal to point at.
    declared_at: str = field(default="", compare=False)


@dataclass(frozen=True)
class KeySet:
    name: str
    accounts: Accounts
    regions: tuple[Region, ...]
    file: str
    source: Source
    lock: LockSetting | None = None
    # A document without `regions`: it names the accounts (the input of export) and joins the
    # document of the same key set that declares the regions.
    accounts_only: bool = False

    def region(self, name: str) -> Region | None:
        return next((r for r in self.regions if r.name == name), None)

    def registered(self, kind: type[R]) -> Iterator[tuple[Region, R]]:
        """Every registration of one system, with the region it stands in."""
        for region in self.regions:
            for registration in region.registrations_of(kind):
                yield region, registration

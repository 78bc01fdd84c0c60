"""`cmkctl sandbox`: show, serve and rotate keys in the embedded emulator."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import click

from reconciler.cli.common import EXIT_OK
from reconciler.cli.inputs import load_key_set, manifests_option
from reconciler.cli.paths import StateFolder
from reconciler.usecases.emulator import KEY_VARIABLE, cmkctl_errors


@click.group("sandbox")
def sandbox_group() -> None:
    """The embedded emulator of every control plane cmkctl talks to, on loopback.

    \b
    Azure Resource Manager (HTTPS): Key Vault vaults, keys, access policies, soft-deleted
      vault names; role assignments; user-assigned identities; Cassandra Managed Instance
      clusters and data centers; Cosmos DB for MongoDB vCore clusters
    Key Vault's data plane (HTTPS): keys' rotation policies and attributes
    Microsoft Graph (HTTPS): service principals
    Astra DevOps API (HTTPS): provider accounts, customer keys, databases
    Confluent Cloud (HTTPS): BYOK keys, Dedicated Kafka clusters
    AWS KMS and STS (moto, HTTPS on 127.0.0.1): keys, aliases, key policies, rotation

    Needs the sandbox extra: pip install 'cmkctl[sandbox]'.

    \b
    Examples:
      cmkctl plan -f manifests/examples/astra-serverless-azure.yaml --sandbox /tmp/sandbox
      cmkctl sandbox show /tmp/sandbox
    """


@sandbox_group.command("show")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True,
              help="json: the sandbox's whole state as one object, secret fields redacted.")
def sandbox_show(directory: Path, fmt: str) -> int:
    """Print what the sandbox in DIRECTORY holds.

    \b
    Examples:
      cmkctl sandbox show /tmp/sandbox
      cmkctl sandbox show /tmp/sandbox --format json
    """
    from cmkctl_sandbox.show import as_json, describe, held_state

    with cmkctl_errors():
        state = held_state(directory)
    click.echo(as_json(state) if fmt == "json" else describe(state), nl=False)
    return EXIT_OK


@sandbox_group.command("serve")
@click.argument("directory", type=StateFolder())
@manifests_option(required=False,
                  help="A manifest whose accounts a new world belongs to (and whose AWS account moto answers in; "
                       "without one: the defaults, AWS included). A file or folder, or - for standard input.")
def sandbox_serve(directory: Path, paths: Sequence[str]) -> int:
    """Serve the sandbox in DIRECTORY in the foreground until SIGTERM or Ctrl-C.

    Writes DIRECTORY/endpoints.json and prints a key; `plan`/`apply --sandbox DIRECTORY` then connect to
    this server instead of starting one in their own process, if CMKCTL_SANDBOX_KEY holds that key
    (without it they refuse: a folder alone is never trusted). Faults and latency are read at start.

    \b
    Examples:
      cmkctl sandbox serve /tmp/sandbox -f cmk/
    """
    from cmkctl_sandbox.served import serve
    from reconciler.systems import PLUGINS
    from reconciler.usecases.emulator import sandbox_for

    sandbox = sandbox_for(load_key_set(paths)[0] if paths else None, directory, PLUGINS)

    def announce(path: Path, key: object) -> None:
        click.echo(f"Sandbox serving {directory} (pid {os.getpid()}); endpoints in {path}. Stop with Ctrl-C or "
                   "SIGTERM.")
        # The one way a run trusts this server: a folder's endpoints.json names a CA, the key proves it.
        click.echo(f"Runs join it with its key: export {KEY_VARIABLE}={key}")

    with cmkctl_errors():
        serve(sandbox, announce)
    return EXIT_OK


@sandbox_group.command("rotate-key")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.argument("vault")
@click.argument("key")
def sandbox_rotate_key(directory: Path, vault: str, key: str) -> int:
    """Give KEY in VAULT a new version, as Key Vault's rotation does; prints the new versioned URI.

    \b
    Examples:
      cmkctl sandbox rotate-key /tmp/sandbox acme-cassandra-eastus cassandra-eastus
    """
    from cmkctl_sandbox.rotation import rotate_key

    with cmkctl_errors():
        click.echo(rotate_key(directory, vault, key))
    return EXIT_OK


@sandbox_group.command("advance-clock")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--days", type=click.FloatRange(min=0), required=True, help="How far to move the clock on.")
def sandbox_advance_clock(directory: Path, days: float) -> int:
    """Move the sandbox's clock on by DAYS and rotate every key its policy says is due; prints each new
    versioned URI.

    \b
    Examples:
      cmkctl sandbox advance-clock /tmp/sandbox --days 400
    """
    from cmkctl_sandbox.rotation import advance_clock

    with cmkctl_errors():
        made = advance_clock(directory, days * 86400)
    for uri in made:
        click.echo(uri)
    return EXIT_OK

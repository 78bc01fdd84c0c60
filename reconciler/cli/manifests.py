"""The commands over manifest files that plan nothing: validate, export, schema.

Each parses its flags, calls one use case, renders what comes back and names the exit code.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from reconciler.cli.common import (
    EXIT_OK,
    command_settings,
    configure_wire,
    debug_options,
    diagnostic_json,
    sandbox_option,
    write_atomically,
)
from reconciler.cli.inputs import load_key_set, manifests_option, tell_notes
from reconciler.cli.paths import OutputFile
from reconciler.core.printable import json_visible, visible_lines


@click.command()
@click.argument("positional", nargs=-1, metavar="[PATH]...")
@manifests_option(required=False)
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True,
              help="json: one object with the files, key sets and every diagnostic (rule, file, line, address).")
def validate(positional: Sequence[str], paths: Sequence[str], fmt: str) -> int:
    """Check manifests offline: YAML, schema, references, vendor rules. No credentials, no network.

    Manifests are named with -f PATH, as every command names them, or as arguments.

    \b
    Examples:
      cmkctl validate -f cmk/
      cmkctl validate -f cmk/ --format json
      cat astra.yaml | cmkctl validate -f -
    """
    from reconciler.core.errors import ManifestError
    from reconciler.manifest.loader import load
    from reconciler.manifest.rules import expiry_warnings
    from reconciler.systems import PLUGINS

    paths = (*positional, *paths)
    if not paths:
        raise click.UsageError("name the manifests to validate: cmkctl validate -f PATH (or cmkctl validate PATH...)")
    try:
        loaded = load(paths, plugins=PLUGINS)
    except ManifestError as error:
        if fmt != "json":
            raise
        click.echo(_validation_json(False, [], [], [diagnostic_json(d) for d in error.diagnostics]))
        return error.exit_code
    tell_notes(loaded)
    warnings = [warning for key_set in loaded.key_sets for _, warning in expiry_warnings(key_set)]
    if fmt == "json":
        click.echo(_validation_json(True, loaded.files, [k.name for k in loaded.key_sets],
                                    [diagnostic_json(w, "warning") for w in warnings]))
        return EXIT_OK
    names = ", ".join(k.name for k in loaded.key_sets)
    click.echo(f"{len(loaded.files)} file(s), {len(loaded.key_sets)} key set(s) valid: {names}")
    for warning in warnings:
        click.echo(f"Warning: {visible_lines(warning.render())}", err=True)
    return EXIT_OK


def _validation_json(valid: bool, files: Sequence[str], key_sets: Sequence[str],
                     diagnostics: Sequence[dict[str, Any]]) -> str:

    return json_visible(json.dumps({"valid": valid, "files": list(files), "key_sets": list(key_sets),
                                    "diagnostics": list(diagnostics)}, indent=2, ensure_ascii=False))


@click.command()
@manifests_option(help="A manifest naming the accounts (and key set name) to export from; `regions` may be left "
                       "out. A file or folder, or - for standard input.")
@click.option("--region", "regions", multiple=True, required=True,
              help="A region to export: Azure's (eastus) or AWS's (us-east-1). Repeatable.")
@click.option("--resource-group", help="Export only vaults of this resource group.")
@click.option("--out", type=OutputFile(), help="Write here instead of stdout.")
@click.option("--format", "fmt", type=click.Choice(("yaml", "json")), default="yaml", show_default=True,
              help="json: one object with the manifest and what was not exported.")
@sandbox_option
@debug_options
def export(paths: Sequence[str], regions: Sequence[str], resource_group: str | None, out: Path | None, fmt: str,
           sandbox: Path | None, debug: bool, debug_file: Path | None) -> int:
    """Write a manifest of what already exists in the declared accounts.

    \b
    Examples:
      cmkctl export -f cmk/accounts.yaml --region eastus --region us-east-1 --out cmk/exported.yaml
    """
    from reconciler.engine.export import AWS_REGION
    configure_wire(debug, debug_file, None)
    from reconciler.usecases.exporting import export_regions
    from reconciler.usecases.session import RunOptions

    key_set, _ = load_key_set(paths)
    if key_set.accounts.azure_subscription_id is None and not all(AWS_REGION.match(r) for r in regions):
        raise click.UsageError("the manifest names no Azure subscription (accounts.azure) to export from")
    exported = export_regions(key_set, regions, resource_group, RunOptions(sandbox, 1, settings=command_settings()))
    text = exported.to_yaml() if fmt == "yaml" else _export_json(exported.manifest, exported.skipped)
    if out is None:
        click.echo(text, nl=False)
    else:
        write_atomically(out, text)
    if fmt == "yaml":
        for line in exported.skipped:
            click.echo(f"not exported: {visible_lines(line)}", err=True)
    return EXIT_OK


def _export_json(manifest: dict[str, Any], skipped: Sequence[str]) -> str:

    return json.dumps({"manifest": manifest, "not_exported": list(skipped)}, indent=2, ensure_ascii=False) + "\n"


@click.command()
@click.option("--plan", "of_plan", is_flag=True, help="Print the saved-plan schema instead.")
def schema(of_plan: bool) -> int:
    """Print the JSON Schema of manifests (for editors), or of saved plans.

    \b
    Examples:
      cmkctl schema > manifest.schema.json
      cmkctl schema --plan
    """
    from importlib import resources

    from reconciler import manifest, plan

    # Each schema ships beside the package that reads or writes what it describes.
    where, name = (plan, "plan.v1.json") if of_plan else (manifest, "manifest.v1.json")
    click.echo(resources.files(where).joinpath(name).read_text("utf-8"), nl=False)
    return EXIT_OK

"""The commands every command-line tool is expected to have: `version` and `completion`."""

from __future__ import annotations

import click

from reconciler import __version__
from reconciler.cli.common import EXIT_OK

SHELLS = ("bash", "zsh", "fish")
# The variable click's shell completion reads: the scripts below set it when they ask cmkctl for completions.
COMPLETE_VARIABLE = "_CMKCTL_COMPLETE"


@click.command()
def version() -> int:
    """Print cmkctl's version and the api-version each Azure client sends (pinned, whatever the SDK's default).

    \b
    Examples:
      cmkctl version
    """
    from reconciler.providers.azure_common import API_VERSIONS
    from reconciler.providers.azure_keyvault import KEY_VAULT_API_VERSION

    click.echo(f"cmkctl {__version__}")
    click.echo("Pinned api-versions:")
    pinned = {client.replace(":", " "): api for client, api in API_VERSIONS.items()}
    pinned["azure.keyvault.keys (Key Vault's data plane: rotation policies)"] = KEY_VAULT_API_VERSION
    width = max(map(len, pinned))
    for client, api in pinned.items():
        click.echo(f"  {client:<{width}}  {api}")
    return EXIT_OK


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> int:
    """Print the script that completes cmkctl's commands and options in SHELL.

    \b
    Examples:
      eval "$(cmkctl completion bash)"                                  # in ~/.bashrc
      eval "$(cmkctl completion zsh)"                                   # in ~/.zshrc
      cmkctl completion fish > ~/.config/fish/completions/cmkctl.fish
    """
    from click.shell_completion import get_completion_class

    kind = get_completion_class(shell)
    assert kind is not None  # click ships all three SHELLS
    root = ctx.find_root().command
    click.echo(kind(root, {}, "cmkctl", COMPLETE_VARIABLE).source())
    return EXIT_OK

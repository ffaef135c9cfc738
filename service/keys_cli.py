"""``civility keys``: API keys of the Perspective-compatible API (docs/perspective.md)."""

from __future__ import annotations

import click

from civility.apikeys import MAX_QPS
from civility.config import Settings


def _db():
    from civility.infra.runtime import database

    return database(Settings.from_env())


@click.group("keys", cls=click.Group)
def keys_group() -> None:
    """API keys for the Perspective-compatible API (comments:analyze, comments:suggestscore)."""


@keys_group.command("create")
@click.argument("name")
@click.option("--qps", type=click.IntRange(1, MAX_QPS), default=1, show_default=True,
              help="Requests a second this key may make.")
def keys_create(name: str, qps: int) -> None:
    """Create an API key and print it (shown once; only a hash is stored)."""
    from civility.apikeys import create_key

    click.echo(create_key(_db(), name, qps))


@keys_group.command("list")
def keys_list() -> None:
    """List API keys: name, quota and state (never the keys)."""
    from civility.apikeys import list_keys

    for key in list_keys(_db()):
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        click.echo(f"{key.name}\t{key.qps} qps\t{state}")


@keys_group.command("revoke")
@click.argument("name")
def keys_revoke(name: str) -> None:
    """Revoke an API key: it is refused (403) from the next request on."""
    from civility.apikeys import revoke_key

    if not revoke_key(_db(), name):
        raise click.ClickException(f"no active API key named {name!r}")
    click.echo(f"revoked {name}")

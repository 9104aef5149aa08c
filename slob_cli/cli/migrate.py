"""`slob migrate`: bring an older store's schema up to this slob's, in place."""

from __future__ import annotations

from typing import Annotated

import typer


def migrate(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="Print the database and its schema versions as JSON.")] = False,
) -> None:
    """Migrate the store to this slob's schema in place (read-only commands refuse an older store).

    The file is checked first and every step runs in one transaction: a step that fails leaves the
    store at its old version. A store already up to date is left untouched (exit 0); a missing store,
    a store newer than this slob, or one a running session holds exits 3 with one line.

    Example: slob --db slob.db migrate
    """
    import json

    from slob_cli.adapters.store.migrate import migrate_store, stored_schema_version
    from slob_cli.cli.context import app_context
    from slob_cli.errors import ConfigError
    from slob_cli.runtime.lock import AlreadyRunning, acquire, keep_pulsing

    path = app_context(ctx).settings.db_path
    stored_schema_version(path)  # a missing, foreign or newer store is refused before the lock is taken
    try:
        # It pulses while it upgrades, however long a big store takes: `status` names the migration under way.
        with acquire(path, "migrate", pulses=True) as held, keep_pulsing(held):
            migration = migrate_store(path)
    except AlreadyRunning as exc:
        raise ConfigError(f"{exc}: migrate once it has stopped") from None
    if json_out:
        typer.echo(json.dumps(migration.as_dict()))
    elif migration.migrated:
        typer.echo(f"Migrated {path} from schema v{migration.from_version} to v{migration.to_version}.")
    else:
        typer.echo(f"{path} is at schema v{migration.to_version}: nothing to migrate.")

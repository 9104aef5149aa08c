"""The object every command receives in ctx.obj: global flags, lazily loaded settings, the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

    from slob_cli.settings import Settings


@dataclass
class AppContext:
    """Global options of `slob`; settings are validated once, on first use."""

    env_file: Path | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        """Return the validated settings (raises ConfigError once, on first access)."""
        if self._settings is None:
            self._settings = self._load(self.overrides)
        return self._settings

    def with_overrides(self, **flags: Any) -> Settings:
        """Return settings with a command's own flags applied on top (None means 'not given')."""
        given = {key: value for key, value in flags.items() if value is not None}
        if not given:
            return self.settings
        self._settings = self._load({**self.overrides, **given})
        return self._settings

    def _load(self, flags: dict[str, Any]) -> Settings:
        """Load settings with flags on top; a bad flag value is a usage error naming the flag (exit 2)."""
        from slob_cli.errors import ConfigError, UsageError
        from slob_cli.settings import load_settings  # pydantic-settings: off the `--help` path

        try:
            return load_settings(self.env_file, flags)
        except ConfigError as exc:
            message = str(exc)
            for key, value in flags.items():  # the setting and the value the error names are the flag's
                named = f"setting SLOB_{key.upper()} = {value!r}: "
                if message.startswith(named):
                    raise UsageError(f"{_flag_of(key)} {value!r}: {message.removeprefix(named)}") from None
            raise

    def open_store(self, readonly: bool = False, create: bool = True,  # noqa: ANN201 - avoids import cost
                   check_in_background: bool = False, migrating: Callable[[], AbstractContextManager[object]] | None = None):
        """Open the configured store (`Store.open`)."""
        from slob_cli.adapters.store import Store

        return Store.open(self.settings.db_path, readonly=readonly, create=create,
                          check_in_background=check_in_background, migrating=migrating)


def app_context(ctx: typer.Context) -> AppContext:
    """Return the AppContext of the root command (creating a default one for direct calls)."""
    root = ctx.find_root()
    if not isinstance(root.obj, AppContext):
        root.obj = AppContext()
    return root.obj


def _flag_of(setting: str) -> str:
    """Return the flag that sets a setting (db_path -> --db, ib_port -> --port, log_level -> --log-level)."""
    return "--db" if setting == "db_path" else "--" + setting.removeprefix("ib_").replace("_", "-")

"""The object every command receives in ctx.obj: global flags, lazily loaded settings, the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
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
            from slob_cli.settings import load_settings  # pydantic-settings: off the `--help` path

            self._settings = load_settings(self.env_file, self.overrides)
        return self._settings

    def with_overrides(self, **flags: Any) -> Settings:
        """Return settings with a command's own flags applied on top (None means 'not given')."""
        given = {key: value for key, value in flags.items() if value is not None}
        if not given:
            return self.settings
        from slob_cli.settings import load_settings

        self._settings = load_settings(self.env_file, {**self.overrides, **given})
        return self._settings

    def open_store(self, readonly: bool = False, create: bool = True,  # noqa: ANN201 - avoids import cost
                   check_in_background: bool = False):
        """Open the configured store (`Store.open`)."""
        from slob_cli.adapters.store import Store

        return Store.open(self.settings.db_path, readonly=readonly, create=create,
                          check_in_background=check_in_background)


def app_context(ctx: typer.Context) -> AppContext:
    """Return the AppContext of the root command (creating a default one for direct calls)."""
    root = ctx.find_root()
    if not isinstance(root.obj, AppContext):
        root.obj = AppContext()
    return root.obj

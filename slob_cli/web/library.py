"""Where the chart library comes from: the npm package `lightweight-charts`, installed beside this module.

`make web-assets` (part of `make install`) runs `npm ci` in `assets/`; a deployment without that
folder (the container image) points SLOB_WEB_CHART_JS at the file instead. Nothing of it is
committed to the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

from slob_cli.errors import ConfigError

ASSETS = Path(__file__).parent / "assets"
PACKAGE_FILE = Path("node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js")
ENV_VARIABLE = "SLOB_WEB_CHART_JS"


def chart_library_path() -> Path:
    """Return the chart library's JS file; raise ConfigError saying how to install it when missing."""
    given = os.environ.get(ENV_VARIABLE)
    path = Path(given) if given else ASSETS / PACKAGE_FILE
    if not path.is_file():
        how = (f"{ENV_VARIABLE}={given} is not a file" if given
               else f"run `make web-assets` (npm ci in {ASSETS}) or set {ENV_VARIABLE}")
        raise ConfigError(f"the chart library (npm package lightweight-charts) is missing: {how}")
    return path

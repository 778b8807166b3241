"""Plugin discovery: the ``ivsecrets.providers`` entry-point group, and the starting configuration
``ivsecrets init`` writes from a plugin's declared options."""

from __future__ import annotations

import json
from collections.abc import Sequence

from ivsecrets.config import plugins
from ivsecrets.config.plugins import ENTRY_POINT_GROUP
from ivsecrets.errors import ConfigError, closest, quoted
from ivsecrets.provider.base import Provider
from ivsecrets.provider.options import init_template

__all__ = ["ENTRY_POINT_GROUP", "config_template", "installed_plugins", "load_plugin"]


def installed_plugins() -> list[str]:
    """The names of every store plugin installed (the ``ivsecrets.providers`` entry points)."""
    return sorted(plugins.plugin_entry_points())


def config_template(
    plugin: str, *, reference: str | None = None, workspaces: Sequence[str] = ("test", "prod")
) -> str:
    """A commented starting configuration for ``plugin`` (what ``ivsecrets init`` writes).

    The ``[stores.NAME]`` table comes from the plugin's declared options: required ones active,
    the others commented out, so the environment variables the store's SDK reads keep working.
    The reference is ``reference``, else the plugin's ``default_reference``.
    """
    from ivsecrets.config import parse_config

    cls = load_plugin(plugin)
    options = init_template(cls.options)
    template = reference or cls.default_reference or "{platform}-{workspace}"
    names = ", ".join(json.dumps(w) for w in workspaces)
    text = f"""# ivsecrets configuration (written by `ivsecrets init --store {plugin}`).
# Check it with `ivsecrets verify`; reference: README.md, "Configuration".

# Every platform x workspace is an environment wired to its own secret.
platforms = ["web", "ios", "android"]
workspaces = [{names}]

# Where every environment's secret is, unless [environments.P.W] says otherwise.
store = "{plugin}"
reference = {json.dumps(template)}   # {{platform}}, {{workspace}}, {{PLATFORM}}, {{WORKSPACE}}

[stores.{plugin}]
plugin = "{plugin}"
{options}
[cache]
ttl = 300          # seconds a loaded secret is served before it is refreshed
max_stale = 3600   # seconds the last good secret is served while the store fails

# Per-workspace Intercom settings (API region and where the API token is).
# [workspace.prod]
# intercom_region = "us"                       # us | eu | au
# intercom_token_env = "IVSECRETS_INTERCOM_TOKEN_PROD"

# Pin each environment to its secret (paste the output of `ivsecrets fingerprint`):
# [environments.ios.prod]
# fingerprint = "ivfp1:..."
# [[environments.ios.prod.known_hashes]]
# user_id = "42"
# user_hash = "..."
"""
    parse_config(text, "<ivsecrets init>")  # never hand out a template the loader would reject
    return text


def load_plugin(name: str) -> type[Provider]:
    """The provider class registered under ``name`` in the ``ivsecrets.providers`` group."""
    found = plugins.plugin_entry_points().get(name)
    if found is None:
        installed = installed_plugins()
        close = closest(name, installed)
        raise ConfigError(
            f"no store plugin named {quoted(name)}",
            fix=(f"did you mean '{close[0]}'? " if close else "")
            + "installed plugins: "
            + ", ".join(installed)
            + "; or install the package that provides it",
        )
    cls = found.load()
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise ConfigError(f"entry point '{name}' in {ENTRY_POINT_GROUP} is not a Provider subclass")
    return cls

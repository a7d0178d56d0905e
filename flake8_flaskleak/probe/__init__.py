"""``flaskleak probe``: confirm the static findings by running the app and measuring.

The one part of flake8-flaskleak that imports and runs the analysed application, and only on
the user's explicit command. Nothing else in the package imports this subpackage (the CLI
registers the subcommand lazily); Flask, SQLAlchemy and matplotlib are imported from the
user's environment when the probe runs, never at import time.

Modules: ``loader`` (build the app like ``flask --app``), ``seed`` (the seed file), ``routes``
(requests per route), ``netblock`` (outgoing network blocked), ``runner`` (warm-up, batches,
thread pool), ``collect_*`` (the measurements), ``trend`` (growth as a slope over batches),
``static_link`` (which static findings a route reaches and confirms), ``report`` (text, JSON,
SARIF), ``api`` (probe an app object), ``command`` (the CLI), ``pytest_plugin`` (a fixture).
"""

from .errors import ProbeError


def __getattr__(name: str):
    # ``probe`` and ``ProbeReport`` on first use: registering the subcommand stays cheap.
    if name in ("probe", "ProbeReport"):
        from . import api

        return getattr(api, name)
    raise AttributeError(name)


__all__ = ["ProbeError", "ProbeReport", "probe"]

"""pytest plugin: keep a leak test in your suite.

Installed with flake8-flaskleak (the ``pytest11`` entry point ``flaskleak``), it adds one
fixture, ``flaskleak_probe``: the function ``flake8_flaskleak.probe.probe``. It imports nothing
until a test uses it::

    def test_routes_do_not_leak(flaskleak_probe):
        app = create_app("testing")
        report = flaskleak_probe(app, ["/api/*"], requests=200)
        report.assert_no_growth(max_growth_kib=5)
        assert report.route("GET /api/users").findings == []  # or inspect the evidence

Outgoing network connections are blocked while it runs (``allow_network=True`` allows them).
"""

from __future__ import annotations

import pytest


@pytest.fixture
def flaskleak_probe():
    """Probe a Flask app's routes and measure what they leave behind (see ``probe``)."""
    from .api import probe

    return probe

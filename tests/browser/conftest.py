"""Real-browser fixtures: Debian's Chromium driven by Playwright, app on a live server thread.

Never downloads a browser. Without /usr/bin/chromium the browser tests skip with a reason;
with REQUIRE_BROWSER=1 they fail instead.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from challenge import create_app

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _chromium_available() -> bool:
    return os.path.exists(CHROMIUM) or shutil.which(CHROMIUM) is not None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Point pytest-playwright at Debian's Chromium (or skip/fail when it is missing)."""
    if not _chromium_available():
        reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": LAUNCH_ARGS,
            "headless": True}


@pytest.fixture
def live_server(app_config) -> Iterator[str]:
    """Serve a fresh app on 127.0.0.1 in a thread; yields its base URL."""
    app_config["PROPAGATE_TEST_ERRORS"] = False
    application = create_app(app_config)
    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        application.extensions["db_engine"].dispose()


@pytest.fixture
def live_app_runner(app_config):
    """A CLI runner on the same database as the live server (for seeding data)."""
    application = create_app(app_config)
    yield application
    application.extensions["db_engine"].dispose()

"""One headless Chromium per test session (per xdist worker), and the pages it opens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import chromium


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """A running headless Chromium; the test fails (never skips) when it is not installed."""
    try:
        driver = chromium.start()
    except chromium.BrowserMissingError as missing:
        problem = str(missing)
    else:
        problem = ""
    if problem:
        pytest.fail(problem, pytrace=False)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def pages_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the pages under test are written (file:// URLs, as an e-mailed report opens)."""
    return tmp_path_factory.mktemp("pages")

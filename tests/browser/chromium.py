"""Headless Chromium through Selenium, from Debian's packages: no download, no network.

Debian's ``chromium`` and ``chromium-driver`` packages provide the browser and its driver;
``selenium`` (pinned in requirements-dev.txt) drives them. Nothing is fetched at run time:
Selenium Manager is bypassed by naming both binaries. A missing piece raises
:class:`BrowserMissingError` with the command that installs it, so the browser tests fail, loudly,
instead of being skipped.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

INSTALL = (
    "the browser tests need Chromium and its driver: on Debian/Ubuntu run `sudo apt-get "
    "install chromium chromium-driver fonts-ipafont-gothic fonts-noto-color-emoji` (.ci/run "
    "does it on CI), and `make setup` for selenium (requirements-dev.txt); CHROMIUM and "
    "CHROMEDRIVER name other binaries"
)


class BrowserMissingError(RuntimeError):
    """Chromium, chromedriver or selenium is not installed; the message says how to fix it."""


def _binary(variable: str, *names: str) -> str:
    explicit = os.environ.get(variable)
    if explicit:
        if not Path(explicit).is_file():
            raise BrowserMissingError(f"{variable}={explicit} is not a file; {INSTALL}")
        return explicit
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise BrowserMissingError(f"no {' or '.join(names)} on PATH; {INSTALL}")


def start() -> Any:
    """A headless Chromium WebDriver (the caller quits it)."""
    browser = _binary("CHROMIUM", "chromium", "chromium-browser", "google-chrome")
    driver_path = _binary("CHROMEDRIVER", "chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as error:
        raise BrowserMissingError(f"selenium is not installed; {INSTALL}") from error
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",  # screenshots without scroll bars; layout is unchanged
        "--force-color-profile=srgb",  # computed colours are the CSS ones
        "--lang=en-US",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(driver_path), options=options)


def open_page(driver: Any, url: str, width: int, height: int = 900) -> None:
    """Load ``url`` in a viewport of exactly ``width`` x ``height`` CSS pixels."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    driver.get(url)


def screenshot(driver: Any, path: Path, width: int) -> None:
    """The whole page at ``width`` (the viewport grows to the page's full height)."""
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))

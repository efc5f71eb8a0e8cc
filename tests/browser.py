"""Headless Chromium for the tests of the HTML pages: Debian's `chromium`, driven by Playwright.

No browser is downloaded (`playwright install` is never run): the test installs Debian's
package when the machine lacks it, as tests/platforms/clean_root.py does for debootstrap,
so `make test` works on a fresh Debian machine.
"""

import contextlib
import os
import shutil
import subprocess
import tempfile

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def ensure_chromium():
    """Installs Debian's chromium when /usr/bin/chromium is missing; returns its path."""
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    if not shutil.which("apt-get"):
        raise RuntimeError(f"{CHROMIUM} is missing and there is no apt-get to install it")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})  # fmt: skip
    return CHROMIUM


@contextlib.contextmanager
def chromium_context(viewport=(1280, 900)):
    """A Playwright browser context of a fresh headless Chromium (its own user data dir)."""
    from playwright.sync_api import sync_playwright

    executable = ensure_chromium()
    with (
        tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile,
        sync_playwright() as pw,
    ):
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=executable,
            args=ARGS,
            headless=True,
            viewport={"width": viewport[0], "height": viewport[1]},
        )
        try:
            yield context
        finally:
            context.close()


class PageLog:
    """What a page asked for and complained about: console errors, failed and remote requests."""

    def __init__(self, page):
        self.errors, self.failed, self.requests = [], [], []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("requestfailed", lambda r: self.failed.append(f"{r.url}: {r.failure}"))
        page.on("request", lambda r: self.requests.append(r.url))

    def remote(self):
        """Requests that left file:// and data: (the pages must be self-contained)."""
        return [u for u in self.requests if not u.startswith(("file://", "data:"))]

"""Debian's Chromium as the browser journeys and the web bench
(benches/web_upload.py) launch it: never a browser Playwright downloads."""

import os

CHROMIUM = os.environ.get("PXHUB_CHROMIUM", "/usr/bin/chromium")

ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

"""The browser journeys' common ground: the hub the Rust test started (its
address and the people and programs it made, from PXHUB_BROWSER_FIXTURE),
and Chromium from the Debian package, never a browser Playwright downloads."""

import json
import os
import urllib.request

import pytest

from chromium import ARGS, CHROMIUM


@pytest.fixture(scope="session")
def hub():
    with open(os.environ["PXHUB_BROWSER_FIXTURE"], encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="session")
def base_url(hub):
    return hub["base_url"]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": ARGS,
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "accept_downloads": True, "locale": "vi-VN"}


def sign_in(page, base_url, login, password, next_path="/"):
    page.goto(f"{base_url}/sign-in?next={next_path}")
    page.get_by_label("Tên đăng nhập").fill(login)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_load_state()


def metric(base_url, name):
    with urllib.request.urlopen(f"{base_url}/metrics") as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return int(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def api_get(base_url, token, path):
    req = urllib.request.Request(f"{base_url}{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req) as r:
        return r.read()

"""The browser journeys' common ground: the hub the Rust test started (its
address and the people and programs it made, from PXHUB_BROWSER_FIXTURE),
and Chromium from the Debian package, never a browser Playwright downloads."""

import json
import os
import socket
import threading
import urllib.parse
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


class CuttingProxy:
    """A loopback HTTP/1.1 relay in front of the hub that drops the link in
    the middle of the `cut`-th PATCH request's body, as a mountain link
    drops: the hub receives the head and `keep` bytes of the body and then
    hears nothing more (the connection stays open and silent, as when a NAT
    box forgets it), while the browser's connection is reset. Everything
    else is relayed untouched."""

    def __init__(self, target, cut, keep):
        u = urllib.parse.urlsplit(target)
        self.target = (u.hostname, u.port)
        self.cut, self.keep = cut, keep
        self.patches = 0
        self.bytes_before_cut = None
        self.silent = []  # the hub's side of dropped links, kept open
        self.lock = threading.Lock()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.server.close()

    def _accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    @staticmethod
    def _reset(*socks):
        for s in socks:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                s.close()
            except OSError:
                pass

    def _serve(self, client):
        upstream = socket.create_connection(self.target)
        threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = client.recv(65536)
                    if not data:
                        raise OSError("closed")
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                method = lines[0].split(" ", 1)[0]
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                cut = False
                if method == "PATCH":
                    with self.lock:
                        self.patches += 1
                        cut = self.patches == self.cut
                upstream.sendall(head + b"\r\n\r\n")
                left = self.keep if cut else length
                while left > 0:
                    if not buf:
                        buf = client.recv(65536)
                        if not buf:
                            raise OSError("closed")
                    part, buf = buf[:left], buf[left:]
                    upstream.sendall(part)
                    left -= len(part)
                if cut:
                    self.bytes_before_cut = self.keep
                    self.silent.append(upstream)
                    self._reset(client)
                    return
        except OSError:
            self._reset(upstream, client)

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

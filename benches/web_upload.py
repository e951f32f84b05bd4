"""One timed upload of FILE to PROGRAM's master, for benches/web.rs.

    web_upload.py browser BASE LOGIN PASSWORD PROGRAM FILE
        signs in with the form in Debian's Chromium (headless, driven by
        Playwright; never a browser Playwright downloads), opens the
        program's upload page, and times from giving it FILE (then pressing
        "Upload") until the page says the upload finished: tus-js-client
        sends it in the page's chunks
    web_upload.py browser-put BASE LOGIN PASSWORD PROGRAM FILE
        the same page and file, but one PUT of the whole file to the master's
        address (fetch, no tus, no chunks): the ceiling of Chromium's own
        upload here, to tell what the tus protocol and its chunks cost
    web_upload.py browser-split BASE LOGIN PASSWORD PROGRAMS FILE
        the same page, but N uploads at once through tus-js-client, one per
        program of the comma-separated PROGRAMS, the file cut in N parts of
        ceil(size / N) bytes (the last shorter): what Chromium carries over N
        connections at once, i.e. the most that parallel uploads (tus
        concatenation, which the hub does not offer) could bring
    web_upload.py browser-bare BASE LOGIN PASSWORD PROGRAM FILE
        "browser" without Playwright: this script speaks the DevTools
        protocol to Chromium over a pipe and never enables its Network
        domain, as a station's browser runs with no DevTools attached: tells
        what Playwright's watching of every request costs
    web_upload.py tuspy BASE TOKEN PROGRAM FILE CHUNK
        times tuspy (the Python tus client) uploading FILE with the token, in
        chunks of CHUNK bytes, from creating the upload to its last byte

Prints the seconds on standard output; anything else goes to standard error.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

# The Chromium of the browser journeys, launched the same way.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "browser"))
from chromium import ARGS, CHROMIUM  # noqa: E402


# One PUT of the chosen file from the page, with the page's CSRF token.
PUT = """async (program) => {
  const file = document.getElementById('file').files[0];
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const r = await fetch(`/api/v1/programs/${program}/files/master?filename=${encodeURIComponent(file.name)}`,
    {method: 'PUT', body: file, headers: {'X-CSRF-Token': csrf, 'Content-Type': file.type}});
  return r.ok ? '' : `${r.status} ${await r.text()}`;
}"""


# N tus uploads at once from the page, one per program, each a part of the file.
SPLIT = """async (programs) => {
  const root = document.getElementById('uploader');
  const file = document.getElementById('file').files[0];
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const part = Math.ceil(file.size / programs.length);
  const one = (program, i) => new Promise((resolve) => new window.tus.Upload(
    file.slice(i * part, Math.min(file.size, (i + 1) * part)), {
      endpoint: root.dataset.endpoint,
      chunkSize: Number(root.dataset.chunkSize),
      headers: {'X-CSRF-Token': csrf},
      metadata: {program, role: 'master', filename: `part${i}.mp4`, filetype: 'video/mp4'},
      storeFingerprintForResuming: false,
      onSuccess: () => resolve(''),
      onError: (e) => resolve(String(e)),
    }).start());
  return (await Promise.all(programs.map(one))).filter((e) => e).join('; ');
}"""

# What browser-bare runs in the page once the file is given: press "Upload"
# when the page lets it, then wait for the page to say how it ended.
PRESS_AND_WAIT = """new Promise((ended) => {
  const start = document.getElementById('start'), uploader = document.getElementById('uploader');
  const press = () => {
    if (start.disabled) return setTimeout(press, 5);
    start.click();
    const poll = setInterval(() => {
      if (['done', 'failed', 'waiting'].includes(uploader.dataset.state)) { clearInterval(poll); ended(uploader.dataset.state); }
    }, 10);
  };
  press();
})"""


def browser(base, login, password, program, path, put=False, split=None):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = chromium.new_context(locale="vi-VN").new_page()
        refused = []  # what the hub refused, to say why a failed upload failed
        page.on(
            "response",
            lambda r: r.status >= 400 and refused.append(f"{r.request.method} {r.url}: {r.status} {r.text()[:300]}"),
        )
        page.on("console", lambda m: m.type == "error" and refused.append(f"console: {m.text}"))
        upload_page = f"/programs/{program}/upload"
        page.goto(f"{base}/sign-in?next={upload_page}")
        page.fill("#login", login)
        page.fill("#password", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}{upload_page}")
        page.wait_for_selector("#uploader")
        started = time.perf_counter()
        page.set_input_files("#file", path)
        if split or put:  # the page's own script, not its button
            failed = page.evaluate(SPLIT, split) if split else page.evaluate(PUT, program)
            seconds = time.perf_counter() - started
            state, status = ("failed", failed) if failed else ("done", "")
        else:
            page.click("#start")  # waits until the page has looked for an unfinished upload
            page.wait_for_function(
                "() => ['done', 'failed', 'waiting'].includes(document.getElementById('uploader').dataset.state)",
                polling=10,
                timeout=600_000,
            )
            seconds = time.perf_counter() - started
            state = page.eval_on_selector("#uploader", "e => e.dataset.state")
            status = page.inner_text("#status")
        chromium.close()
    if state != "done":
        sys.exit(f"the page says the upload {state}: {status} ({'; '.join(refused) or 'no error answer'})")
    return seconds


class DevTools:
    """Chromium driven over --remote-debugging-pipe: commands as JSON on
    its fd 3, answers and events on its fd 4, each ended by a NUL."""

    def __init__(self):
        self.profile = tempfile.TemporaryDirectory()
        to_chromium, self.commands = os.pipe()
        self.answers, from_chromium = os.pipe()

        def fds():  # in the child: the two ends at 3 and 4
            import fcntl

            read, write = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_chromium, from_chromium))
            os.dup2(read, 3)
            os.dup2(write, 4)

        self.process = subprocess.Popen(
            [CHROMIUM, *ARGS, "--remote-debugging-pipe", f"--user-data-dir={self.profile.name}", "about:blank"],
            close_fds=False,
            preexec_fn=fds,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chromium)
        os.close(from_chromium)
        self.read = b""
        self.last = 0

    def send(self, method, params=None, session=None):
        self.last += 1
        message = {"id": self.last, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.commands, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self.read:
                more = os.read(self.answers, 1 << 16)
                if not more:
                    raise RuntimeError("Chromium closed its DevTools pipe")
                self.read += more
            raw, self.read = self.read.split(b"\0", 1)
            answer = json.loads(raw)
            if answer.get("id") == self.last:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]

    def evaluate(self, session, expression):
        result = self.send(
            "Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True}, session
        )
        if "exceptionDetails" in result:
            raise RuntimeError(str(result["exceptionDetails"]))
        return result["result"].get("value")

    def wait_for(self, session, expression, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if self.evaluate(session, expression):
                    return
            except RuntimeError:
                pass  # a page between two documents
            time.sleep(0.05)
        raise RuntimeError(f"timed out waiting for {expression}")

    def close(self):
        try:
            self.send("Browser.close")
            self.process.wait(30)
        except Exception:
            self.process.kill()
        self.profile.cleanup()


def browser_bare(base, login, password, program, path):
    chromium = DevTools()
    try:
        target = chromium.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        page = chromium.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        upload_page = f"/programs/{program}/upload"
        chromium.send("Page.navigate", {"url": f"{base}/sign-in?next={upload_page}"}, page)
        chromium.wait_for(page, "document.readyState === 'complete' && !!document.getElementById('login')")
        chromium.evaluate(
            page,
            f"""document.getElementById('login').value = {json.dumps(login)};
            document.getElementById('password').value = {json.dumps(password)};
            document.querySelector('button[type=submit]').click(); true""",
        )
        chromium.wait_for(
            page,
            f"location.pathname === {json.dumps(upload_page)} && document.readyState === 'complete'"
            " && !!document.getElementById('uploader')",
        )
        document = chromium.send("DOM.getDocument", {}, page)["root"]["nodeId"]
        input_ = chromium.send("DOM.querySelector", {"nodeId": document, "selector": "#file"}, page)["nodeId"]
        started = time.perf_counter()
        chromium.send("DOM.setFileInputFiles", {"files": [path], "nodeId": input_}, page)
        state = chromium.evaluate(page, PRESS_AND_WAIT)
        seconds = time.perf_counter() - started
        status = chromium.evaluate(page, "document.getElementById('status').textContent")
    finally:
        chromium.close()
    if state != "done":
        sys.exit(f"the page says the upload {state}: {status}")
    return seconds


def tuspy(base, token, program, path, chunk):
    from tusclient import client

    tus = client.TusClient(f"{base}/api/v1/uploads", headers={"Authorization": f"Bearer {token}"})
    started = time.perf_counter()
    uploader = tus.uploader(
        path,
        chunk_size=chunk,
        metadata={"program": program, "role": "master", "filename": os.path.basename(path), "filetype": "video/mp4"},
    )
    uploader.upload()
    seconds = time.perf_counter() - started
    if uploader.offset != os.path.getsize(path):
        sys.exit(f"tuspy stopped at {uploader.offset} bytes")
    return seconds


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "browser":
        seconds = browser(*args)
    elif mode == "browser-put":
        seconds = browser(*args, put=True)
    elif mode == "browser-split":
        base, login, password, programs, path = args
        programs = programs.split(",")
        seconds = browser(base, login, password, programs[0], path, split=programs)
    elif mode == "browser-bare":
        seconds = browser_bare(*args)
    elif mode == "tuspy":
        base, token, program, path, chunk = args
        seconds = tuspy(base, token, program, path, int(chunk))
    else:
        sys.exit(f"unknown mode {mode}")
    print(f"{seconds:.6f}", flush=True)


if __name__ == "__main__":
    main()

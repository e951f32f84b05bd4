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
    web_upload.py tuspy BASE TOKEN PROGRAM FILE CHUNK
        times tuspy (the Python tus client) uploading FILE with the token, in
        chunks of CHUNK bytes, from creating the upload to its last byte

Prints the seconds on standard output; anything else goes to standard error.
"""
import os
import sys
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


def browser(base, login, password, program, path, put=False):
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
        if put:
            failed = page.evaluate(PUT, program)
            seconds = time.perf_counter() - started
            state, status = ("failed", failed) if failed else ("done", "")
        else:
            page.click("#start")  # waits until the page has looked for an unfinished upload
            page.wait_for_function(
                "() => ['done', 'failed'].includes(document.getElementById('uploader').dataset.state)",
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
    elif mode == "tuspy":
        base, token, program, path, chunk = args
        seconds = tuspy(base, token, program, path, int(chunk))
    else:
        sys.exit(f"unknown mode {mode}")
    print(f"{seconds:.6f}", flush=True)


if __name__ == "__main__":
    main()

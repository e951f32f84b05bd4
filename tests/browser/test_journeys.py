"""The journeys of the issue, in a real (headless) Chromium."""

import hashlib
import json
import os
import re
import time

import html5lib
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from conftest import CuttingProxy, api_get, metric, sign_in

MIB = 1024 * 1024
TITLE = "Phóng sự: Đường lên Định Hóa"


def until(page, done, seconds, each=None, step_ms=50):
    """Whether `done()` comes true within `seconds` of real time, asked
    every `step_ms` (after calling `each()`, when given)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if done():
            return True
        if each:
            each()
        page.wait_for_timeout(step_ms)
    return bool(done())


def assert_received_once_and_stored(base_url, hub, before, program_id, body):
    """Every byte of `body` reached the hub exactly once since the byte
    count was `before`, and the program's master is `body`."""
    received = metric(base_url, "pxhub_bytes_received_total") - before
    assert received == len(body), (received, len(body))
    stored = api_get(base_url, hub["admin_token"], f"/api/v1/programs/{program_id}/files/master")
    assert hashlib.sha256(stored).digest() == hashlib.sha256(body).digest()


def assert_nothing_on_any_page(found):
    """`found` maps each page to what was wrong on it (nothing: falsy)."""
    bad = {p: v for p, v in found.items() if v}
    assert not bad, json.dumps(bad, ensure_ascii=False, indent=1)


def test_offer_upload_resume_publish_then_take_and_rebroadcast(browser, base_url, hub, tmp_path):
    people = hub["people"]
    chunk = hub["chunk_bytes"]
    # Thái Nguyên offers a program with Vietnamese metadata, over a link
    # that drops in the middle of the second chunk (a relay that resets the
    # connection after half a chunk has reached the hub).
    link = CuttingProxy(base_url, cut=2, keep=chunk // 2)
    tn_url = link.url
    tn = browser.new_context(locale="vi-VN")
    page = tn.new_page()
    sign_in(page, tn_url, "hoa", people["hoa"])
    page.goto(f"{tn_url}/offer")
    page.get_by_label("Tên chương trình").fill(TITLE)
    page.get_by_label("Tóm tắt").fill("Về miền ATK Định Hóa, Thái Nguyên")
    page.get_by_label("Thể loại").select_option("report")
    page.get_by_label("Tày").check()
    page.get_by_label("Phút").fill("25")
    page.get_by_role("button", name="Lưu và tải tệp lên").click()
    expect(page).to_have_url(re.compile(r"/programs/[0-9a-f-]+/upload\?saved=1$"))
    program_id = page.url.split("/")[-2]

    # A file of several MiB; the link drops half-way through the second
    # chunk, and a later chunk is in flight when the page is reloaded.
    body = os.urandom(6 * MIB + 12345)
    src = tmp_path / "duong-len-dinh-hoa.mp3"
    src.write_bytes(body)
    before = metric(base_url, "pxhub_bytes_received_total")
    held = []

    def on_upload(route):
        if route.request.method != "PATCH":
            return route.continue_()
        # Once the dropped chunk is made good and one more is in, the next
        # is held: never answered, the reload drops it.
        if not held and int(route.request.headers["upload-offset"]) >= 3 * chunk:
            held.append(route)
            return None
        return route.continue_()

    page.route("**/api/v1/uploads/**", on_upload)
    page.set_input_files("#file", str(src))
    page.get_by_role("button", name="Tải lên", exact=True).click()
    page.wait_for_function("() => document.querySelector('#progress').value > 0")
    # The silent half-chunk's PATCH holds the upload until the hub gives it
    # to the browser's retry (seconds; tus-js-client retries on 423 and 409).
    assert until(page, lambda: held, 60), "the upload went on past the dropped chunk"
    assert link.bytes_before_cut == chunk // 2, "the link dropped mid-chunk"
    assert int(page.eval_on_selector("#progress", "e => e.value")) < 100
    page.unroute("**/api/v1/uploads/**")
    page.reload()
    expect(page.locator("#unfinished")).to_be_visible()
    page.set_input_files("#file", str(src))  # the same file: it resumes by itself
    expect(page.locator("#uploader")).to_have_attribute("data-state", "done", timeout=60_000)
    # Each byte reached the hub exactly once: the half chunk the drop cut is
    # kept (the hub gave the silent request's upload to the retry, keeping
    # what it had received), and the held chunk never left the browser.
    assert_received_once_and_stored(base_url, hub, before, program_id, body)
    page.get_by_role("button", name="Đăng", exact=True).click()
    expect(page.locator(".badge.status")).to_have_text("Đã đăng")

    # Cao Bằng searches without marks, as it types.
    cb = browser.new_context(locale="vi-VN", accept_downloads=True)
    p2 = cb.new_page()
    sign_in(p2, base_url, "binh", people["binh"])
    p2.get_by_label(re.compile("Tìm theo tên")).type("duong len dinh hoa", delay=20)
    expect(p2).to_have_url(re.compile(r"q=duong(\+|%20)len(\+|%20)dinh(\+|%20)hoa"))
    p2.get_by_role("link", name=TITLE).click()
    expect(p2.get_by_role("heading", level=1)).to_have_text(TITLE)
    with p2.expect_download() as d:
        p2.get_by_role("link", name=re.compile("^Tải về")).click()
    got = tmp_path / "got.mp3"
    d.value.save_as(got)
    assert got.read_bytes() == body
    # The take is recorded as the last bytes leave; the form follows it.
    for _ in range(50):
        p2.reload()
        if p2.get_by_label("Thời điểm phát").count():
            break
        p2.wait_for_timeout(100)
    p2.get_by_label("Thời điểm phát").fill("2026-01-02T19:00")
    p2.get_by_label("Kênh").fill("CBTV1")
    p2.get_by_role("button", name="Báo cáo phát lại").click()
    expect(p2.locator("#notice")).to_have_text("Đã ghi nhận báo cáo phát lại. Cảm ơn đài!")

    # Thái Nguyên sees the take and the rebroadcast, and who did what.
    page.goto(f"{tn_url}/programs/{program_id}")
    expect(page.locator("#takes")).to_contain_text("Đài cao-bang")
    expect(page.locator("#rebroadcasts")).to_contain_text("CBTV1")
    expect(page.locator("#history")).to_contain_text("Lê Văn Bình")
    expect(page.locator("#history")).to_contain_text("Khai thác")
    tn.close()
    cb.close()
    link.close()


def offer(page, base_url, title, genre, language):
    """Offers a draft through the form (the person is signed in); its id,
    the page left on its upload page."""
    page.goto(f"{base_url}/offer")
    page.get_by_label("Tên chương trình").fill(title)
    page.get_by_label("Thể loại").select_option(genre)
    page.get_by_label(language).check()
    page.get_by_role("button", name="Lưu và tải tệp lên").click()
    expect(page).to_have_url(re.compile(r"/programs/[0-9a-f-]+/upload\?saved=1$"))
    return page.url.split("/")[-2]


def test_an_upload_cut_by_sign_out_says_so_and_goes_on_after_signing_in(browser, base_url, hub, tmp_path):
    """The session ends mid-upload (signed out in another tab; or idle too
    long while the link was down): the page says to sign in again, and after
    that the same file goes on from what arrived."""
    chunk = hub["chunk_bytes"]
    context = browser.new_context(locale="vi-VN")
    page = context.new_page()
    sign_in(page, base_url, "hoa", hub["people"]["hoa"])
    program_id = offer(page, base_url, "Bản tin tối: phiên hết giữa chừng", "news", "Tày")
    body = os.urandom(3 * chunk + 4321)
    src = tmp_path / "ban-tin-toi.mp3"  # a file on disk: the same file when chosen again
    src.write_bytes(body)
    before = metric(base_url, "pxhub_bytes_received_total")
    held = []

    def on_upload(route):
        if not held and route.request.method == "PATCH" and int(route.request.headers["upload-offset"]) >= chunk:
            held.append(route)  # answered once the session has ended
            return None
        return route.continue_()

    page.route("**/api/v1/uploads/**", on_upload)
    page.set_input_files("#file", str(src))
    page.get_by_role("button", name="Tải lên", exact=True).click()
    assert until(page, lambda: held, 30), "the second chunk never left"
    other = context.new_page()
    other.goto(f"{base_url}/")
    other.get_by_role("button", name="Đăng xuất").click()
    expect(other).to_have_url(re.compile(r"/sign-in"))
    held[0].continue_()
    expect(page.locator("#uploader")).to_have_attribute("data-state", "failed")
    expect(page.locator("#status")).to_have_text(re.compile("^Phiên đăng nhập đã kết thúc"))
    page.unroute("**/api/v1/uploads/**")
    # Signed in again, the same file goes on from the first chunk's end.
    sign_in(page, base_url, "hoa", hub["people"]["hoa"], f"/programs/{program_id}/upload")
    expect(page.locator("#unfinished")).to_be_visible()
    page.set_input_files("#file", str(src))
    expect(page.locator("#uploader")).to_have_attribute("data-state", "done", timeout=60_000)
    assert_received_once_and_stored(base_url, hub, before, program_id, body)
    context.close()


def test_an_upload_waits_out_a_long_outage_and_goes_on_by_itself(browser, base_url, hub):
    """A link down for minutes (longer than tus-js-client's own retries):
    the page keeps waiting rather than giving up, tries again every 30
    seconds (not while paused; at once on Resume), and goes on as soon as
    the browser is online again."""
    chunk = hub["chunk_bytes"]
    context = browser.new_context(locale="vi-VN")
    page = context.new_page()
    sign_in(page, base_url, "hoa", hub["people"]["hoa"])
    program_id = offer(page, base_url, "Bản tin vùng cao: mất mạng giữa chừng", "news", "Nùng")
    # The page's timers run on a clock the test moves: minutes in seconds.
    page.clock.install()
    page.reload()

    body = os.urandom(4 * chunk + 777)
    before = metric(base_url, "pxhub_bytes_received_total")
    tries = []  # requests to the upload made while the link was down

    def on_upload(route):
        request = route.request
        if not tries and request.method == "PATCH" and int(request.headers["upload-offset"]) >= 2 * chunk:
            context.set_offline(True)  # the link goes down as the third chunk leaves
        elif not tries:
            return route.continue_()
        tries.append(request.method)
        return route.abort("internetdisconnected")

    page.route("**/api/v1/uploads/**", on_upload)
    page.set_input_files("#file", files=[{"name": "ban-tin.mp3", "mimeType": "audio/mpeg", "buffer": body}])
    page.get_by_role("button", name="Tải lên", exact=True).click()
    uploader = page.locator("#uploader")
    # tus-js-client's own retries (0 to 30 s apart, 69 s in all) run out
    # while the link stays down; the page then waits instead of failing.
    # (Each step waits a little in real time for the failed request to come
    # back; a loaded machine gets more steps, up to two minutes.)
    until(
        page,
        lambda: tries and uploader.get_attribute("data-state") == "waiting",
        120,
        each=lambda: page.clock.fast_forward(31_000),
        step_ms=200,
    )
    expect(uploader).to_have_attribute("data-state", "waiting")
    expect(page.locator("#status")).to_contain_text("Mất kết nối")
    expect(page.get_by_role("button", name="Tạm dừng")).to_be_enabled()
    # Still down 30 s later: it tried once more, and waits again.
    seen = len(tries)
    page.clock.fast_forward(31_000)
    until(page, lambda: len(tries) > seen and uploader.get_attribute("data-state") == "waiting", 30)
    assert len(tries) > seen, "no try after 30 s"
    expect(uploader).to_have_attribute("data-state", "waiting")
    assert int(page.eval_on_selector("#progress", "e => e.value")) < 100
    # Paused while waiting, it stops trying: nothing 30 s on.
    page.get_by_role("button", name="Tạm dừng").click()
    expect(uploader).to_have_attribute("data-state", "paused")
    seen = len(tries)
    page.clock.fast_forward(31_000)
    page.wait_for_timeout(1000)
    assert len(tries) == seen, "a paused upload was tried again"
    expect(uploader).to_have_attribute("data-state", "paused")
    # Resumed while still down, it tries at once, then waits again.
    page.get_by_role("button", name="Tiếp tục").click()
    until(
        page,
        lambda: len(tries) > seen and uploader.get_attribute("data-state") == "waiting",
        120,
        each=lambda: page.clock.fast_forward(31_000),
        step_ms=200,
    )
    assert len(tries) > seen, "Resume made no try"
    expect(uploader).to_have_attribute("data-state", "waiting")
    # The link is back: the page goes on at once, not at its next try (the
    # page's clock stands still from here).
    page.clock.pause_at(page.evaluate("Date.now()") + 1000)
    page.unroute("**/api/v1/uploads/**")
    context.set_offline(False)

    # Should the try the `online` event starts still meet the link as down
    # (Chromium's network can follow the event by a moment), the browser
    # says so again, as it would. The page's clock moves 15 s at most here,
    # so its next try (30 s) never comes: what finishes the upload is the
    # page going on when the link is back, with tus-js-client's own
    # immediate retries.
    def nudge():
        page.clock.run_for(100)
        if uploader.get_attribute("data-state") == "waiting":
            page.evaluate("window.dispatchEvent(new Event('online'))")

    assert until(page, lambda: uploader.get_attribute("data-state") == "done", 30, each=nudge, step_ms=200)
    expect(uploader).to_have_attribute("data-state", "done")
    assert_received_once_and_stored(base_url, hub, before, program_id, body)
    context.close()


def test_a_refused_upload_fails_at_once_rather_than_waiting(browser, base_url, hub):
    """An answer not worth retrying (here 413, as a proxy in front of the
    hub may give) ends the upload with the failure said, instead of leaving
    the page waiting for a link that is not down."""
    context = browser.new_context(locale="vi-VN")
    page = context.new_page()
    sign_in(page, base_url, "hoa", hub["people"]["hoa"])
    offer(page, base_url, "Bản tin quá lớn", "news", "Tày")
    page.route(
        "**/api/v1/uploads",
        lambda route: route.fulfill(status=413, content_type="text/html", body="<h1>413 Request Entity Too Large</h1>"),
    )
    page.set_input_files("#file", files=[{"name": "lon.mp3", "mimeType": "audio/mpeg", "buffer": b"ID3" * 1000}])
    page.get_by_role("button", name="Tải lên", exact=True).click()
    expect(page.locator("#uploader")).to_have_attribute("data-state", "failed")
    expect(page.locator("#status")).to_have_text(re.compile("^Tải lên không thành công"))
    context.close()


def tab_to(page, selector, most=40):
    """Presses Tab until `selector` has the focus (at most `most` times),
    and checks that the focus shows."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
            assert outline not in ("", "none"), f"{selector} has the focus but shows nothing"
            return
    raise AssertionError(f"{most} presses of Tab never reached {selector}")


def test_the_keyboard_alone_signs_in_finds_opens_and_takes(page, base_url, hub):
    """Keyboard only: sign in, skip to the content, search as you type
    without marks, open the program with Enter, reach its download."""
    page.goto(f"{base_url}/sign-in")
    tab_to(page, "#login")
    page.keyboard.type("binh")
    tab_to(page, "#password", most=3)
    page.keyboard.type(hub["people"]["binh"])
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{base_url}/")
    # The first stop is the link past the header, and it lands in the content.
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Chuyển đến nội dung chính")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#main$"))
    tab_to(page, "#q")
    page.keyboard.type("thoi su toi thai nguyen")
    expect(page).to_have_url(re.compile(r"q=thoi(\+|%20)su"))
    result = page.get_by_role("link", name="Thời sự tối Thái Nguyên")
    expect(result).to_be_visible()
    tab_to(page, f"a[href='/programs/{hub['mine']}']")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Thời sự tối Thái Nguyên")
    tab_to(page, f"a[href^='/api/v1/programs/{hub['mine']}/files/master']")


def test_everything_but_the_upload_works_with_javascript_off(browser, base_url, hub):
    """With JavaScript off: sign in, search, filter by a facet, open a
    program and find its download, pick a year of the report, offer a
    program (the upload page then says it needs JavaScript), sign out."""
    context = browser.new_context(locale="vi-VN", java_script_enabled=False)
    page = context.new_page()
    sign_in(page, base_url, "hoa", hub["people"]["hoa"])
    expect(page).to_have_url(f"{base_url}/")
    search = page.get_by_label(re.compile("Tìm theo tên"))
    search.fill("thoi su toi")
    search.press("Enter")
    expect(page).to_have_url(re.compile(r"q=thoi(\+|%20)su(\+|%20)toi"))
    expect(page.get_by_role("link", name="Thời sự tối Thái Nguyên")).to_be_visible()
    page.locator(".facets a", has_text="Thời sự").first.click()
    expect(page).to_have_url(re.compile(r"genre=news"))
    expect(page.locator(".facets a.chosen")).to_contain_text("Thời sự")
    page.get_by_role("link", name="Thời sự tối Thái Nguyên").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thời sự tối Thái Nguyên")
    expect(page.get_by_role("link", name=re.compile("^Tải về"))).to_have_attribute(
        "href", re.compile(rf"^/api/v1/programs/{hub['mine']}/files/master")
    )
    page.goto(f"{base_url}/report")
    page.get_by_label("Năm", exact=True).select_option("2025")
    page.get_by_role("button", name="Xem").click()
    expect(page).to_have_url(re.compile(r"year=2025"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("2025")
    offer(page, base_url, "Dân ca Tày không cần JavaScript", "culture", "Tày")
    # (Playwright's text locators skip <noscript>; CSS ones do not.)
    notice = page.locator("#uploader noscript .error")
    expect(notice).to_have_text("Cần bật JavaScript để tải tệp lên qua trang này.")
    expect(notice).to_be_visible()
    page.get_by_role("button", name="Đăng xuất").click()
    expect(page).to_have_url(re.compile(r"/sign-in"))
    page.goto(f"{base_url}/station")
    expect(page).to_have_url(re.compile(r"/sign-in"))
    context.close()


def test_closed_window_and_national_only(page, base_url, hub):
    sign_in(page, base_url, "binh", hub["people"]["binh"])
    page.goto(f"{base_url}/programs/{hub['closed']}")
    expect(page.locator("#why-not")).to_contain_text("Hết thời gian khai thác")
    expect(page.get_by_role("link", name=re.compile("^Tải về"))).to_have_count(0)
    page.goto(f"{base_url}/?q=chi+cho+dai+quoc+gia")
    expect(page.locator(".programs li")).to_have_count(0)
    r = page.goto(f"{base_url}/programs/{hub['national']}")
    assert r.status == 404


def test_a_title_with_script_and_quotes_renders_as_text(page, base_url, hub):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, base_url, "binh", hub["people"]["binh"])
    page.goto(f"{base_url}/programs/{hub['script']}")
    expect(page.get_by_role("heading", level=1)).to_have_text(hub["script_title"])
    page.goto(f"{base_url}/")
    expect(page.get_by_role("link", name=hub["script_title"])).to_be_visible()
    assert dialogs == []


def test_a_form_post_without_its_csrf_token_is_refused(page, base_url, hub):
    sign_in(page, base_url, "hoa", hub["people"]["hoa"])
    r = page.request.post(
        f"{base_url}/offer",
        form={"title": "Giả mạo", "kind": "radio", "genre": "news", "languages": "vi"},
        max_redirects=0,
    )
    assert r.status == 403
    r = page.request.post(f"{base_url}/sign-out", form={"csrf": "forged"}, max_redirects=0)
    assert r.status == 403
    page.goto(f"{base_url}/station")
    expect(page).to_have_url(f"{base_url}/station")


def test_signed_out_reaches_only_sign_in(page, base_url, hub):
    for path in ["/", "/offer", "/station", "/report", "/admin", "/account", f"/programs/{hub['closed']}"]:
        page.goto(f"{base_url}{path}")
        expect(page).to_have_url(re.compile(r"/sign-in\?next="))
        expect(page.get_by_role("heading", level=1)).to_have_text("Đăng nhập")


def test_wrong_passwords_lock_the_login(page, base_url, hub):
    for _ in range(hub["lock_after"] - 1):
        sign_in(page, base_url, "khoa", "sai mật khẩu")
        expect(page.locator("#sign-in-error")).to_have_text("Tên đăng nhập hoặc mật khẩu không đúng.")
    sign_in(page, base_url, "khoa", "sai mật khẩu")
    expect(page.locator("#sign-in-error")).to_contain_text("Đăng nhập sai quá nhiều lần")
    sign_in(page, base_url, "khoa", hub["people"]["khoa"])
    expect(page.locator("#sign-in-error")).to_contain_text("Đăng nhập sai quá nhiều lần")
    # An unknown login is answered the same way.
    sign_in(page, base_url, "khong-co-ai", "sai mật khẩu")
    expect(page.locator("#sign-in-error")).to_have_text("Tên đăng nhập hoặc mật khẩu không đúng.")


def serious(page):
    results = Axe().run(page)
    return [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def every_page(browser, hub, base_url, **context_args):
    """Each page of the hub, signed out and then as each kind of person:
    yields (path, page) with the page loaded."""
    anon = browser.new_context(locale="vi-VN", **context_args)
    page = anon.new_page()
    page.goto(f"{base_url}/sign-in")
    yield "/sign-in", page
    anon.close()
    for login, paths in [
        ("hoa", ["/", "/?q=thoi+su", "/offer", f"/programs/{hub['mine']}", f"/programs/{hub['mine']}/upload",
                 "/station", "/report", "/account", "/?lang=en", "/news", "/list"]),
        ("binh", [f"/programs/{hub['closed']}", f"/programs/{hub['script']}"]),
        ("admin", ["/admin", "/admin/profiles"]),
    ]:
        ctx = browser.new_context(locale="vi-VN", **context_args)
        page = ctx.new_page()
        sign_in(page, base_url, login, hub["people"][login])
        for path in paths:
            page.goto(f"{base_url}{path}")
            yield path, page
        ctx.close()


def html_errors(html):
    """Where `html` breaks the HTML parsing rules (a tag closed out of
    order, an attribute twice, …), as html5lib reports it."""
    parser = html5lib.HTMLParser()
    parser.parse(html)
    return [f"{line}:{column} {code} {data}" for (line, column), code, data in parser.errors]


def test_no_serious_accessibility_violation_on_any_page(browser, base_url, hub):
    found, titles, broken = {}, {}, {}
    for path, page in every_page(browser, hub, base_url):
        found[path] = serious(page)
        titles[path] = page.title()
        # The page as the hub sent it, not as the browser mended it.
        sent = page.request.get(page.url)
        assert sent.ok and sent.url == page.url, (path, sent.status, sent.url)
        broken[path] = html_errors(sent.text())[:5]
    assert_nothing_on_any_page(broken)
    assert_nothing_on_any_page(found)
    # Each page's title is short: its name (or the program's), then the hub's.
    hub_name = (" · Kho trao đổi chương trình", " · Program exchange")
    odd = {p: t for p, t in titles.items() if len(t) > 160 or not t.endswith(hub_name)}
    assert_nothing_on_any_page(odd)


def test_every_page_fits_a_phone_screen(browser, base_url, hub):
    """On a 360-pixel-wide phone, no page scrolls sideways: what does not
    fit (a wide table, the report's chart) scrolls inside its own box,
    which the keyboard reaches; the chart's words stay readable; and axe
    finds nothing serious at that size either."""
    wide, chart, found = {}, {}, {}
    for path, page in every_page(browser, hub, base_url, viewport={"width": 360, "height": 740}, is_mobile=True,
                                 has_touch=True, device_scale_factor=2):
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 360:
            # What sticks out, to say where to look.
            wide[path] = (width, page.evaluate("""() => [...document.querySelectorAll('body *')]
                .filter((e) => e.getBoundingClientRect().right > 361 && !e.closest('.scroll'))
                .slice(0, 5).map((e) => e.tagName + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : ''))"""))
        heights = page.eval_on_selector_all("svg.chart text", "ts => ts.map((t) => t.getBoundingClientRect().height)")
        if heights:
            chart[path] = min(heights)
        found[path] = serious(page)
    assert len(found) == 16, list(found)
    # The chart's smallest words, in CSS pixels (13 px drawn at its size).
    assert list(chart) == ["/report"] and chart["/report"] >= 12, chart
    assert_nothing_on_any_page(wide)
    assert_nothing_on_any_page(found)

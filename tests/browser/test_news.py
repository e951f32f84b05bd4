"""Issue 24's "Mới từ lần trước", the results list, follows and the first
run, in Chromium at a desktop's width (1366×768) and a phone's (390×844)."""

import json
import re
import time
import urllib.parse
import urllib.request

from playwright.sync_api import expect

from conftest import sign_in
from test_daily_page import SIZES, sized  # noqa: F401 (the fixture)
from test_journeys import serious


def api(base_url, token, method, path, body=None, headers=None, data=None):
    if body is not None:
        data = json.dumps(body).encode()
        headers = {**(headers or {}), "Content-Type": "application/json"}
    req = urllib.request.Request(f"{base_url}{path}", data=data, method=method,
                                 headers={"Authorization": f"Bearer {token}", **(headers or {})})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")


def publish(base_url, token, title, series=None):
    """A program of Thái Nguyên with a small master, published."""
    body = {"title": title, "kind": "radio", "genre": "news", "languages": ["vi"]}
    if series:
        body["series"] = series
    p = api(base_url, token, "POST", "/api/v1/programs", body)
    name = urllib.parse.quote("bản tin.mp3")
    api(base_url, token, "PUT", f"/api/v1/programs/{p['id']}/files/master?filename={name}",
        data=b"abc", headers={"Content-Type": "audio/mpeg"})
    api(base_url, token, "POST", f"/api/v1/programs/{p['id']}/publish", {})
    return p["id"]


def fits(page):
    return page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def test_what_is_new_since_the_last_visit(sized, base_url, hub, request):
    size = request.node.callspec.params["sized"]
    page = sized.new_page()
    sign_in(page, base_url, "mai", hub["people"]["mai"])
    page.goto(f"{base_url}/news")
    expect(page.get_by_role("heading", level=1)).to_have_text("Mới từ lần trước")
    # Away longer than the hub's gap (2 s here); meanwhile two programs come,
    # one of the series Cao Bằng follows.
    time.sleep(2.5)
    followed = publish(base_url, hub["tn_token"], f"Nông nghiệp xanh ({size})", series="Nông nghiệp xanh")
    other = publish(base_url, hub["tn_token"], f"Thời sự chiều ({size})")
    page.goto(f"{base_url}/")
    # The header counts what is new, and leads to it.
    count = page.locator("#news-count")
    expect(count).to_have_text(re.compile(r"^\(\d+\)$"))
    assert int(count.inner_text().strip("()")) >= 2
    link = page.get_by_role("link", name=re.compile(r"^Mới từ lần trước \(\d+\)$"))
    if size == "phone":
        expect(link).to_be_visible()
    link.click()
    expect(page).to_have_url(f"{base_url}/news")
    expect(page.locator("#news-since")).to_contain_text("Các chương trình đăng từ")
    mine = page.locator("#news-followed")
    expect(mine.locator(f"a[href='/programs/{followed}']")).to_be_visible()
    expect(mine.locator(f"a[href='/programs/{other}']")).to_have_count(0)
    everything = page.locator("#news-all")
    expect(everything.locator(f"a[href='/programs/{other}']")).to_be_visible()
    # Published before the previous visit ended: not new.
    expect(everything.locator(f"a[href='/programs/{hub['mine']}']")).to_have_count(0)
    # Only for the national broadcasters: never shown to Cao Bằng.
    expect(everything.locator(f"a[href='/programs/{hub['national']}']")).to_have_count(0)
    expect(page.locator("link[rel=alternate][type='application/atom+xml']")).to_have_count(1)
    atom = page.get_by_role("link", name="Nguồn tin Atom của đài").get_attribute("href")
    feed = page.request.get(f"{base_url}{atom}", headers={"Cookie": ""})
    assert feed.ok and f"Nông nghiệp xanh ({size})" in feed.text()
    assert serious(page) == []
    assert fits(page)


def test_an_editor_switches_a_follows_delivery_and_profile(sized, base_url, hub):
    page = sized.new_page()
    sign_in(page, base_url, "binh", hub["people"]["binh"])
    page.goto(f"{base_url}/station")
    row = page.locator("#follows tbody tr").filter(has_text="Nông nghiệp xanh")
    deliver = row.get_by_label("Tự động nhận")
    profile = row.get_by_label("Định dạng nhận")
    deliver.check()
    profile.select_option(label="BWF MP2 (R128)")
    row.get_by_role("button", name="Lưu cách nhận: Nông nghiệp xanh").click()
    expect(page.locator("#notice")).to_have_text("Đã lưu cách nhận.")
    row = page.locator("#follows tbody tr").filter(has_text="Nông nghiệp xanh")
    expect(row.get_by_label("Tự động nhận")).to_be_checked()
    expect(row.get_by_label("Định dạng nhận")).to_have_value("bwf-mp2-r128")
    assert serious(page) == []
    assert fits(page)
    # And off again, back to the station's default.
    row.get_by_label("Tự động nhận").uncheck()
    row.get_by_label("Định dạng nhận").select_option(label="Mặc định của đài")
    row.get_by_role("button", name="Lưu cách nhận: Nông nghiệp xanh").click()
    expect(page.locator("#notice")).to_have_text("Đã lưu cách nhận.")
    row = page.locator("#follows tbody tr").filter(has_text="Nông nghiệp xanh")
    expect(row.get_by_label("Tự động nhận")).not_to_be_checked()
    expect(row.get_by_label("Định dạng nhận")).to_have_value("")


def test_the_download_list(sized, base_url, hub, request):
    size = request.node.callspec.params["sized"]
    title = f"Danh sách tải ({size})"
    program = publish(base_url, hub["tn_token"], title)
    page = sized.new_page()
    sign_in(page, base_url, "mai", hub["people"]["mai"])
    page.goto(f"{base_url}/?q={urllib.parse.quote(title)}")
    item = page.locator("li.program").filter(has=page.locator(f"a[href='/programs/{program}']"))
    item.get_by_role("button", name="Thêm vào danh sách tải").click()
    expect(item.get_by_role("status")).to_have_text("Đã có trong danh sách tải")
    page.get_by_role("link", name="Danh sách tải", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Danh sách tải")
    row = page.locator(f"#listed-{program}")
    expect(row).to_contain_text("Chưa khai thác")
    assert serious(page) == []
    assert fits(page)
    with page.expect_download() as got:
        row.get_by_role("link", name=f"Tải về: {title}").click()
    assert got.value.suggested_filename == "bản tin.mp3"
    assert got.value.failure() is None
    page.reload()
    row = page.locator(f"#listed-{program}")
    expect(row.get_by_role("link", name="Đã khai thác, chưa báo phát lại")).to_have_attribute(
        "href", f"/programs/{program}#rebroadcast")
    row.get_by_role("button", name=f"Bỏ khỏi danh sách: {title}").click()
    expect(page.locator("#notice")).to_have_text("Đã bỏ khỏi danh sách tải.")
    expect(page.locator(f"#listed-{program}")).to_have_count(0)


def test_handing_the_download_list_to_the_stations_agent(sized, base_url, hub, request):
    """An editor hands their list to the station's pull agent and stops it;
    each state says so, and axe finds nothing serious in either."""
    size = request.node.callspec.params["sized"]
    title = f"Giao cho trình nhận ({size})"
    program = publish(base_url, hub["tn_token"], title)
    page = sized.new_page()
    sign_in(page, base_url, "binh", hub["people"]["binh"])
    page.goto(f"{base_url}/programs/{program}")
    page.get_by_role("button", name="Thêm vào danh sách tải").click()
    expect(page.get_by_text("Đã có trong danh sách tải")).to_be_visible()
    page.goto(f"{base_url}/list")
    hand = page.locator("#hand")
    expect(hand.get_by_role("heading", level=2)).to_have_text("Tự động nhận danh sách này")
    hand.get_by_role("button", name="Giao danh sách cho trình nhận tự động").click()
    expect(page.locator("#notice")).to_have_text("Đã giao danh sách tải cho trình nhận tự động của đài.")
    expect(page.locator("#hand-state")).to_contain_text("Đã giao")
    assert serious(page) == []
    assert fits(page)
    follows = api(base_url, hub["cb_token"], "GET", "/api/v1/follows")["items"]
    mine = [f for f in follows if f["kind"] == "list" and f["value"] == "binh"]
    assert len(mine) == 1 and mine[0]["deliver"] is True, follows
    listed = api(base_url, hub["cb_token"], "GET", f"/api/v1/follows/{mine[0]['id']}/programs?limit=100")
    assert program in [p["id"] for p in listed["items"]]
    page.locator("#hand").get_by_role("button", name="Thôi giao danh sách").click()
    expect(page.locator("#notice")).to_have_text("Đã thôi giao danh sách tải; những gì đã tải về vẫn ở lại đài.")
    expect(page.locator("#hand").get_by_role("button", name="Giao danh sách cho trình nhận tự động")).to_be_visible()
    assert serious(page) == []
    follows = api(base_url, hub["cb_token"], "GET", "/api/v1/follows")["items"]
    assert not [f for f in follows if f["kind"] == "list"], follows

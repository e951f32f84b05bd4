"""Issue 24's "broken today": the page staff use all day, at a desktop's
width (1366×768) and a phone's (390×844), in Vietnamese."""

import re

import pytest
from playwright.sync_api import expect

from conftest import sign_in
from test_journeys import offer

SIZES = {
    "desktop": {"viewport": {"width": 1366, "height": 768}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}

# What the page must never show a person: the parser's English, the API's
# problem documents.
RAW = re.compile(r"unknown variant|expected one of|must not be empty|must name|urn:pxhub|\"status\":|invalid type")


@pytest.fixture(params=list(SIZES))
def sized(request, browser):
    context = browser.new_context(locale="vi-VN", **SIZES[request.param])
    yield context
    context.close()


def test_each_offer_label_sits_above_its_own_field(sized, base_url, hub):
    page = sized.new_page()
    sign_in(page, base_url, "hoa", hub["people"]["hoa"])
    page.goto(f"{base_url}/offer")
    # Each label with a field of its own (not a check box's): the label's
    # box ends above its field's, and starts where its field starts.
    beside = page.evaluate(
        """() => [...document.querySelectorAll('form.offer label[for]')].flatMap((l) => {
            const f = document.getElementById(l.htmlFor);
            if (!f || f.type === 'checkbox' || f.type === 'radio') return [];
            const a = l.getBoundingClientRect(), b = f.getBoundingClientRect();
            const above = a.bottom <= b.top + 1 && Math.abs(a.left - b.left) < 2;
            return above ? [] : [[l.htmlFor, Math.round(a.left), Math.round(a.bottom), Math.round(b.left), Math.round(b.top)]];
        })"""
    )
    assert page.locator("form.offer label[for]").count() > 15
    assert beside == [], beside


def test_an_empty_offer_names_every_bad_field_in_vietnamese(page, base_url, hub):
    sign_in(page, base_url, "hoa", hub["people"]["hoa"])
    page.goto(f"{base_url}/offer")
    page.get_by_label("Tiếng Việt").uncheck()
    with page.expect_response(lambda r: r.url.endswith("/offer") and r.request.method == "POST") as sent:
        page.get_by_role("button", name="Lưu và tải tệp lên").click()
    assert sent.value.status == 422
    expect(page.locator("#title-error")).to_have_text("Không được để trống.")
    expect(page.locator("#genre-error")).to_have_text("Hãy chọn một mục.")
    expect(page.locator("#languages-error")).to_have_text("Hãy chọn ít nhất một ngôn ngữ.")
    # The list at the top names each field and leads to it.
    summary = page.locator("#form-errors")
    for field in ["Tên chương trình", "Thể loại", "Ngôn ngữ"]:
        expect(summary.get_by_role("link", name=field, exact=True)).to_be_visible()
    summary.get_by_role("link", name="Tên chương trình", exact=True).click()
    expect(page).to_have_url(re.compile(r"#title$"))
    assert not RAW.search(page.content()), page.content()


def test_a_mistyped_address_gets_a_page_in_words(page, base_url, hub):
    sign_in(page, base_url, "binh", hub["people"]["binh"])
    for path in ["/progams", "/programs/khong-co", "/station/nothing/here"]:
        r = page.goto(f"{base_url}{path}")
        assert r.status == 404, path
        assert r.headers["content-type"].startswith("text/html"), path
        expect(page.get_by_role("heading", level=1)).to_have_text("Không thực hiện được")
        expect(page.locator("[role=alert]")).to_contain_text("Không")
        assert not RAW.search(page.content()), page.content()
    # A program asking the API still gets the problem document.
    r = page.request.get(f"{base_url}/progams", headers={"Accept": "application/json"})
    assert r.status == 404 and r.json()["code"] == "not_found"


def test_a_text_file_as_master_says_what_a_master_must_be(page, base_url, hub):
    sign_in(page, base_url, "hoa", hub["people"]["hoa"])
    offer(page, base_url, "Bản tin: nhầm tệp văn bản", "news", "Tày")
    page.set_input_files("#file", files=[{"name": "ghi-chu.txt", "mimeType": "text/plain", "buffer": b"ghi chu\n" * 100}])
    page.get_by_role("button", name="Tải lên", exact=True).click()
    expect(page.locator("#uploader")).to_have_attribute("data-state", "failed")
    status = page.locator("#status")
    expect(status).to_contain_text("loại tệp này không dùng được")
    expect(status).to_contain_text("Bản gốc phải là tệp âm thanh hoặc video")
    expect(status).not_to_contain_text("Tiếp tục")
    expect(page.locator("#publish")).to_be_disabled()


def test_publish_waits_for_a_master_and_every_step_is_confirmed(page, base_url, hub):
    sign_in(page, base_url, "hoa", hub["people"]["hoa"])
    program_id = offer(page, base_url, "Bản tin sáng: xác nhận từng bước", "news", "Nùng")
    expect(page.locator("#notice")).to_have_text("Đã lưu bản nháp. Bây giờ hãy tải bản gốc lên.")
    publish = page.get_by_role("button", name="Đăng", exact=True)
    expect(publish).to_be_disabled()
    expect(page.locator("#publish-note")).to_have_text("Đăng chương trình sau khi tải bản gốc lên.")
    # The program's own page says the same, before any file.
    page.goto(f"{base_url}/programs/{program_id}")
    expect(page.get_by_role("button", name="Đăng", exact=True)).to_be_disabled()
    page.goto(f"{base_url}/programs/{program_id}/upload")
    page.set_input_files("#file", files=[{"name": "ban-tin.mp3", "mimeType": "audio/mpeg", "buffer": b"ID3" + bytes(5000)}])
    page.get_by_role("button", name="Tải lên", exact=True).click()
    expect(page.locator("#uploader")).to_have_attribute("data-state", "done")
    expect(page.locator("#publish-note")).to_have_text("Bản gốc đã có; có thể đăng chương trình.")
    expect(publish).to_be_enabled()
    publish.click()
    expect(page.locator("#notice")).to_have_text("Đã đăng chương trình; các đài trong cụm đã có thể tìm thấy.")
    expect(page.locator(".badge.status")).to_have_text("Đã đăng")


def test_badges_carry_no_stray_dot(sized, base_url, hub):
    page = sized.new_page()
    sign_in(page, base_url, "binh", hub["people"]["binh"])
    for path in ["/", f"/programs/{hub['mine']}", f"/programs/{hub['closed']}"]:
        page.goto(f"{base_url}{path}")
        assert page.locator(".badge").count() > 0, path
        # What each badge shows, with what CSS puts before it.
        shown = page.eval_on_selector_all(
            ".badge",
            "bs => bs.map((b) => [getComputedStyle(b, '::before').content, b.textContent.trim()])",
        )
        stray = [s for s in shown if s[0] not in ("none", "normal") or s[1].startswith("·")]
        assert stray == [], (path, stray)


def test_a_withdrawn_program_says_so_once(page, base_url, hub):
    sign_in(page, base_url, "hoa", hub["people"]["hoa"])
    page.goto(f"{base_url}/programs/{hub['withdrawn']}")
    expect(page.locator(".badge.status")).to_have_text("Đã thu hồi")
    expect(page.locator(".badges")).to_have_text("Đã thu hồi")
    # Its owner reads why, too.
    expect(page.locator("#withdrawn-reason")).to_have_text("Chương trình đã bị thu hồi: Sai số liệu")


def test_the_report_chart_keeps_names_clear_of_bars_and_fits(sized, base_url, hub):
    page = sized.new_page()
    sign_in(page, base_url, "lan", hub["people"]["lan"])
    page.goto(f"{base_url}/report")
    width = page.evaluate("document.documentElement.clientWidth")
    geometry = page.evaluate(
        """() => {
            const box = (e) => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
            const svg = document.querySelector('svg.chart');
            return {svg: box(svg), labels: [...svg.querySelectorAll('text.label')].map((t) => [t.textContent, box(t)]),
                    values: [...svg.querySelectorAll('text.value')].map(box), bars: [...svg.querySelectorAll('rect')].map(box)};
        }"""
    )
    names = [name for name, _ in geometry["labels"]]
    assert any(n.startswith("Đài Phát thanh và Truyền hình") for n in names), names
    overlap = lambda a, b: a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
    under = [(n, b) for n, box in geometry["labels"] for b in geometry["bars"] if overlap(box, b)]
    assert under == [], under
    right = geometry["svg"][2]
    assert right <= width + 0.5, (right, width)
    cut = [b for b in geometry["bars"] + geometry["values"] + [box for _, box in geometry["labels"]] if b[2] > right + 0.5]
    assert cut == [], (right, cut)


def test_the_owner_edits_on_the_page_and_the_new_pages_pass_axe(sized, base_url, hub):
    """Editing a program on the page, at both sizes; the edit form, the
    offer form with its errors, the upload page's file list and the page of
    a mistyped address have nothing serious for axe and fit the screen."""
    from test_journeys import serious

    page = sized.new_page()
    sign_in(page, base_url, "hoa", hub["people"]["hoa"])
    program_id = offer(page, base_url, "Sửa trên trang: bản đầu", "news", "Tày")
    found, wide = {}, {}

    def check(name):
        found[name] = serious(page)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > page.viewport_size["width"]:
            wide[name] = width

    check("upload")
    page.goto(f"{base_url}/programs/{program_id}")
    page.get_by_role("link", name="Sửa", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sửa thông tin chương trình")
    expect(page.get_by_label("Tên chương trình")).to_have_value("Sửa trên trang: bản đầu")
    check("edit")
    page.get_by_label("Tên chương trình").fill("Sửa trên trang: bản hai")
    page.get_by_label("Điều kiện").fill("Ghi nguồn Đài Thái Nguyên")
    page.get_by_role("button", name="Lưu", exact=True).click()
    expect(page.locator("#notice")).to_have_text("Đã lưu các thay đổi.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sửa trên trang: bản hai")
    expect(page.locator("#history")).to_contain_text("Sửa thông tin")
    page.goto(f"{base_url}/offer")
    page.get_by_role("button", name="Lưu và tải tệp lên").click()
    expect(page.locator("#form-errors")).to_be_visible()
    check("offer with errors")
    page.goto(f"{base_url}/khong-co-trang-nay")
    check("404")
    # The draft goes with "Xóa bản nháp".
    page.goto(f"{base_url}/programs/{program_id}")
    page.get_by_role("button", name="Xóa bản nháp").click()
    expect(page.locator("#notice")).to_have_text("Đã xóa bản nháp.")
    assert page.goto(f"{base_url}/programs/{program_id}").status == 404
    assert found == {n: [] for n in found}, found
    assert wide == {}, wide

"""Issue 24's first run: a newcomer who runs the README's serve command and
opens the page is told, on the sign-in page, how to make the first
operator; running that command (as shown, with the hub's --data-dir) lets
them sign in. At 1366×768 and 390×844; the hub's name from its setting."""

import os
import shlex
import subprocess

from playwright.sync_api import expect

from test_daily_page import SIZES
from test_journeys import serious

PASSWORD = "mật khẩu đầu tiên đủ dài"


def test_the_sign_in_page_shows_how_to_make_the_first_operator(browser, base_url, hub):
    for size, args in SIZES.items():
        context = browser.new_context(locale="vi-VN", **args)
        page = context.new_page()
        page.goto(f"{base_url}/")
        expect(page).to_have_url(f"{base_url}/sign-in?next=%2F")
        expect(page).to_have_title("Đăng nhập · Kho chương trình cụm Đông Bắc")
        note = page.locator("#first-run")
        expect(note).to_contain_text("chưa có tài khoản Quản trị")
        command = note.locator("code").inner_text()
        assert command.startswith("pxhub person add --operator --login admin --name "), command
        assert serious(page) == [], size
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= page.viewport_size["width"], (size, width)
        context.close()

    # The command as shown, run on the hub's data folder, makes an operator.
    argv = shlex.split(command)
    assert argv[0] == "pxhub"
    run = subprocess.run([hub["pxhub"], "--data-dir", hub["data_dir"], *argv[1:]], input=PASSWORD + "\n",
                         capture_output=True, text=True, env={k: v for k, v in os.environ.items()
                                                              if k != "PXHUB_DATA_DIR"}, check=False)
    assert run.returncode == 0, run.stderr

    context = browser.new_context(locale="vi-VN", **SIZES["desktop"])
    page = context.new_page()
    page.goto(f"{base_url}/sign-in")
    expect(page.locator("#first-run")).to_have_count(0)
    page.get_by_label("Tên đăng nhập").fill("admin")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.locator("header a[href='/admin']")).to_be_visible()
    expect(page.locator("header a[href='/account']")).to_have_text("Quản trị")
    context.close()

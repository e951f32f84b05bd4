"""Issue 24's results list with analysed masters (its own hub, which
analyses): each result plays its preview in place, the audio one with its
waveform drawn, the video one with its poster; at 1366×768 and 390×844."""

import re

from playwright.sync_api import expect

from conftest import sign_in
from test_daily_page import SIZES, sized  # noqa: F401 (the fixture)
from test_journeys import serious


def test_each_result_plays_its_preview_in_place(sized, base_url, hub):
    page = sized.new_page()
    sign_in(page, base_url, "binh", hub["people"]["binh"])
    page.goto(f"{base_url}/?sort=title")
    audio_item = page.locator("li.program").filter(has=page.locator(f"a[href='/programs/{hub['audio']}']"))
    video_item = page.locator("li.program").filter(has=page.locator(f"a[href='/programs/{hub['video']}']"))
    expect(audio_item.locator(".meta")).to_contain_text("Chuyên mục: Nông nghiệp xanh")
    expect(audio_item.locator(".duration")).to_have_text("6 giây")
    # The waveform is drawn from the hub's waveform.json once in view.
    wave = audio_item.locator("svg.waveform")
    wave.scroll_into_view_if_needed()
    expect(wave).to_have_attribute("data-drawn", re.compile(r"^[1-9][0-9]*$"))
    assert wave.bounding_box()["width"] > 100
    # Its play button plays the preview here, without leaving the list.
    player = audio_item.get_by_label("Nghe/xem thử: Bản tin nông nghiệp có tiếng")
    expect(player).to_be_visible()
    player.evaluate("a => { a.muted = true; return a.play(); }")
    page.wait_for_function("a => a.currentTime > 0.2", arg=player.element_handle())
    assert page.url.endswith("/?sort=title")
    # The video shows its poster, and plays too.
    video = video_item.locator("video")
    expect(video).to_have_attribute("poster", f"/api/v1/programs/{hub['video']}/files/master/poster.jpg")
    poster = page.request.get(f"{base_url}/api/v1/programs/{hub['video']}/files/master/poster.jpg")
    assert poster.ok and poster.headers["content-type"] == "image/jpeg"
    video.scroll_into_view_if_needed()
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function("v => v.currentTime > 0.2 && v.videoWidth > 0", arg=video.element_handle())
    assert serious(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]

"""The option sheet changes the picture (规格图), in real headless Chromium at 375×812 with a touch
screen, in both themes: a product in two colours, each SKU with its own picture; the shopper opens
the option sheet (the sheet shows the first colour's picture), taps the second colour and the
sheet's picture becomes that SKU's, without the sheet moving; no console error, no sideways
scroll, no raw key (:mod:`journey_kit`). Screenshots: ``docs/screenshots/journeys/sku-picture-*``."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # journey_kit.py, beside this file (pytest's importlib mode)
from journey_kit import THEMES, Journey  # noqa: E402

from mallow.testing import bearer, png_bytes  # noqa: E402

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def two_colours(demo) -> dict:
    """A product in 红 and 蓝 with a picture per colour (made through the console API)."""
    client, headers, api = demo.client(), bearer(demo.merchant_token), f"{demo.prefix}/api/console"

    def upload(colour: str) -> int:
        response = client.post(
            f"{api}/media",
            headers=headers,
            content_type="multipart/form-data",
            data={"image": (io.BytesIO(png_bytes((600, 600), colour)), "colour.png")},
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()["id"]

    cover, red, blue = upload("#e8dccb"), upload("#c0392b"), upload("#2c5fa8")
    response = client.post(
        f"{api}/products",
        headers=headers,
        json={
            "title": "双色搪瓷杯",
            "subtitle": "红蓝两色",
            "status": "on_shelf",
            "media_ids": [cover],
            "specs": [{"name": "颜色", "values": ["红", "蓝"]}],
            "skus": [
                {"spec_values": {"颜色": "红"}, "price": 3900, "stock": 20, "image": red},
                {"spec_values": {"颜色": "蓝"}, "price": 4200, "stock": 8, "image": blue},
            ],
        },
    )
    assert response.status_code == 201, response.get_json()
    product = response.get_json()
    pictures = {sku["spec_values"]["颜色"]: sku["image"]["thumb_url"] for sku in product["skus"]}
    return {"id": product["id"], "pictures": {colour: url[url.index("/s/") :] for colour, url in pictures.items()}}


def _settled_box(page, locator) -> dict:
    """The element's box once the sheet has finished sliding up (two reads 50 ms apart agree)."""
    box = locator.bounding_box()
    for _attempt in range(40):
        page.wait_for_timeout(50)
        now = locator.bounding_box()
        if abs(now["y"] - box["y"]) < 0.5:
            return now
        box = now
    raise AssertionError("the option sheet never came to rest")


@pytest.mark.parametrize("theme", THEMES, indirect=True)
def test_choosing_the_second_colour_shows_its_picture_in_the_sheet(demo, browser, theme, two_colours):
    red, blue = two_colours["pictures"]["红"], two_colours["pictures"]["蓝"]
    with Journey(demo, browser, "sku-picture", theme=theme) as journey:
        page = journey.goto(f"/products/{two_colours['id']}")
        journey.check("product", screenshot=False)
        page.locator("#spec-row").tap()  # 规格: opens the option sheet
        sheet = page.locator("#sku-sheet.open")
        sheet.wait_for()
        picture = page.locator("#sheet-image")
        page.wait_for_function("() => document.getElementById('sheet-image').complete")
        assert picture.get_attribute("src") == red  # the chosen (first in stock) colour's own picture
        before = _settled_box(page, picture)
        journey.check("sheet-first")

        page.locator('#sku-sheet .pd-chip[data-value="蓝"]').tap()
        page.wait_for_function("(src) => document.getElementById('sheet-image').getAttribute('src') === src", arg=blue)
        page.wait_for_function(
            "() => { const i = document.getElementById('sheet-image'); return i.complete && i.naturalWidth > 0; }"
        )
        assert page.locator("#sheet-price span").inner_text() == "42.00"  # price and stock follow as before
        assert "8" in page.locator("#sheet-stock").inner_text()
        after = _settled_box(page, picture)
        assert (after["width"], after["height"]) == (before["width"], before["height"]) == (88, 88)
        assert abs(after["y"] - before["y"]) < 1  # the sheet does not move
        for chip in page.locator("#sku-sheet .pd-chip").all():
            assert chip.bounding_box()["height"] >= 44  # tap targets
        journey.check("sheet-second")

        # a second tap takes the colour back: the product's first image, then red's picture again
        page.locator('#sku-sheet .pd-chip[data-value="蓝"]').tap()
        page.wait_for_function("(src) => document.getElementById('sheet-image').getAttribute('src') !== src", arg=blue)
        assert picture.get_attribute("src") not in (red, blue)
        page.locator('#sku-sheet .pd-chip[data-value="红"]').tap()
        page.wait_for_function("(src) => document.getElementById('sheet-image').getAttribute('src') === src", arg=red)
        journey.check("sheet-back", screenshot=False)

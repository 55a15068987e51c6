"""The address book's new-address form on a phone (real headless Chromium at 375×812, zh_CN,
``journey_kit``'s checks at every step): saved with no region picked, the form names the
province, the city and the district on that one submit (each under its own select) and keeps
what was typed; picking the three saves the address with its GB/T 2260 names."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # journey_kit.py, beside this file (pytest's importlib mode)
from journey_kit import Journey, new_shopper, pick_region, translated  # noqa: E402

pytestmark = pytest.mark.browser


def test_a_region_left_unpicked_is_named_level_by_level_on_one_submit(demo, browser):
    with Journey(demo, browser, "address-book") as journey:
        page = journey.page
        new_shopper(demo, journey, address=False)
        journey.goto("/account/addresses/new")
        page.locator("#f-recipient").fill("周小禾")
        page.locator("#f-phone").fill("13900001111")
        page.locator("#f-detail").fill("锦北街道农林大路 88 号")
        with journey.expect(422, r"/account/addresses/new$"), page.expect_navigation():
            page.locator("#save-address").tap()
        journey.problems[:] = [p for p in journey.problems if "status of 422" not in p]
        for field, message in (
            ("province_code", "Choose the province."),
            ("city_code", "Choose the city."),
            ("district_code", "Choose the district."),
        ):
            assert page.locator(f'[data-field="{field}"]').inner_text() == translated(demo, message)
        assert page.locator("#f-detail").input_value() == "锦北街道农林大路 88 号"
        journey.check("unpicked-region")

        pick_region(page)
        with page.expect_navigation():
            page.locator("#save-address").tap()
        assert page.url.endswith("/account/addresses")
        assert "浙江省" in page.content() and "临安区" in page.content()
        journey.check("saved")

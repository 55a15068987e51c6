"""Page builder fixtures: a fresh open store with its merchant's token, and helpers that save,
publish and read pages through the console API (``/s/<slug>/api/console``)."""

from __future__ import annotations

import io

import pytest
from mallow.testing import MerchantClient, backend_params, build_app, dispose_app, png_bytes


class Builder(MerchantClient):
    def save(self, document, page="home", **extra):
        return self.client.put(
            f"{self.api}/pages/{page}/draft", json={"document": document, **extra}, headers=self.headers
        )

    def publish(self, page="home"):
        return self.client.post(f"{self.api}/pages/{page}/publish", headers=self.headers)

    def save_and_publish(self, document, page="home") -> dict:
        saved = self.save(document, page)
        assert saved.status_code == 200, saved.get_json()
        published = self.publish(page)
        assert published.status_code == 201, published.get_json()
        return published.get_json()

    def home_html(self) -> str:
        response = self.client.get(f"{self.shop.prefix}/")
        assert response.status_code == 200
        return response.get_data(as_text=True)

    def product(self, title, price=1000, **extra) -> dict:
        body = {
            "title": title,
            "status": "on_shelf",
            "skus": [{"spec_values": {}, "price": price, "stock": 10}],
            **extra,
        }
        response = self.client.post(f"{self.api}/products", json=body, headers=self.headers)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    @staticmethod
    def doc(*sections) -> dict:
        """``doc(("a", "notice_bar", {"text": "hi"}), …)``: a page document in that order."""
        return {
            "sections": {i: {"type": t, "settings": s} for i, t, s in sections},
            "order": [i for i, _t, _s in sections],
        }

    def upload(self, data: bytes | None = None, name="banner.png"):
        return self.client.post(
            f"{self.api}/media",
            headers=self.headers,
            content_type="multipart/form-data",
            data={"image": (io.BytesIO(data if data is not None else png_bytes((800, 400))), name)},
        )


def new_builder(app) -> Builder:
    return Builder.new_store(app)


@pytest.fixture
def builder(app) -> Builder:
    return new_builder(app)


@pytest.fixture
def other_builder(app) -> Builder:
    return new_builder(app)


@pytest.fixture(scope="module", params=backend_params())
def demo_app(request, tmp_path_factory):
    """The demo platform (``mallow demo``: the showcase home with the bundled plugins' blocks)
    with the render cache and the kept pages off: every request renders the home cold."""
    from mallow.db import db
    from mallow.demo import seed
    from mallow.demo_showcase import seed_showcase

    app = build_app(tmp_path_factory, request.param, MALLOW_PAGE_CACHE_ENTRIES=0, MALLOW_EDGE_CACHE_ENTRIES=0)
    with app.app_context():
        seed()
        shown = seed_showcase(app)
        assert not shown.get("plugins_missing"), shown
        db.session.remove()
    yield app
    dispose_app(app)

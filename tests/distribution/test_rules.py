"""The money rules in isolation (paid amounts, campaign lines, product and grade rates), the
plugin's contract with Mallow (manifest, migrations, jobs, block), and its template texts."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from mallow.plugins.hookspecs import hookimpl
from mallow.pricing import Adjustment

PLUGIN = Path(__file__).resolve().parents[2] / "plugins" / "distribution"


def _order(lines, adjustments=(), total=None):
    lines = [SimpleNamespace(id=i + 1, total=t, product_id=i + 1) for i, t in enumerate(lines)]
    adjustments = [
        SimpleNamespace(line_id=a[0], stage=a[1], amount=a[2], source=a[3] if len(a) > 3 else "core")
        for a in adjustments
    ]
    if total is None:
        total = sum(line.total for line in lines) + sum(a.amount for a in adjustments)
    return SimpleNamespace(lines=lines, adjustments=adjustments, total=total)


@pytest.mark.parametrize(
    "lines, adjustments, expected",
    [
        ([10000], [], {1: 10000}),
        ([10000], [(None, "shipping", 800)], {1: 10000}),  # shipping is not commissionable
        ([6000, 4000], [(None, "coupon", -1000)], {1: 5400, 2: 3600}),  # coupon shared in proportion
        ([3333, 3333, 3334], [(None, "order", -1000)], {1: 3000, 2: 3000, 3: 3000}),
        ([1, 1, 1], [(None, "order", -2)], {1: 0, 2: 0, 3: 1}),  # largest remainder, then by line
        ([5000], [(None, "coupon", -9000)], {1: 0}),  # never below zero
        ([5000, 5000], [(None, "order", -1000), (None, "shipping", 1000)], {1: 4500, 2: 4500}),
    ],
)
def test_paid_amounts(lines, adjustments, expected):
    from mallow_distribution.commission import paid_amounts

    order = _order(lines, adjustments)
    found = paid_amounts(order)
    assert found == expected
    assert all(type(v) is int for v in found.values())
    shipping = sum(a[2] for a in adjustments if a[1] == "shipping")
    assert sum(found.values()) <= max(0, order.total - shipping)


def test_campaign_sources_mark_lines():
    from mallow_distribution.commission import campaign_sources

    order = _order([5000, 5000], [(1, "line", -1000, "flashsale"), (None, "order", -500, "groupbuy")])
    assert campaign_sources(order) == {1: {"flashsale", "groupbuy"}, 2: {"groupbuy"}}


def test_rate_helpers():
    from mallow.sdk import fen_to_yuan
    from mallow_distribution import rules
    from mallow.validation import Errors

    errors = Errors()
    assert rules.parse_percent("10.5", "r", errors) == 1050 and rules.parse_percent("0", "r", errors) == 0
    assert rules.parse_percent(7.25, "r", errors) == 725
    for bad in ("-1", "10.555", "abc", "101"):
        errors = Errors()
        rules.parse_percent(bad, "r", errors)
        assert "r" in errors
    assert rules.format_bp(1050) == "10.5" and rules.format_bp(1000) == "10" and rules.format_bp(1005) == "10.05"
    assert fen_to_yuan(-1234) == "-12.34" and rules.commission_for(9999, 1000) == 999
    assert rules.levels({"levels": 3}) == 2 and rules.levels({"levels": 0}) == 1 and rules.levels({}) == 1
    assert rules.MAX_LEVELS == 2


def test_cap_clamps_rates(dist_app):
    from mallow_distribution import rules

    with dist_app.app_context():
        assert rules.clamp_rates(2500, 1000) == (2500, 500)
        assert rules.clamp_rates(5000, 5000) == (3000, 0)
        dist_app.config["MALLOW_DISTRIBUTION_MAX_RATE_BP"] = 20000  # never above 100 %
        try:
            assert rules.cap_bp() == 10000 and rules.clamp_rates(8000, 8000) == (8000, 2000)
        finally:
            dist_app.config.pop("MALLOW_DISTRIBUTION_MAX_RATE_BP")


class FlashSale:
    """Stands in for the flash-sale plugin: its lines carry the source ``flashsale``."""

    @hookimpl
    def mallow_line_adjustments(self, context, line):
        if line.unit_price == 7777:
            return [Adjustment("line", "flashsale", "flash", "秒杀价", -777 * line.quantity, line.index)]


@pytest.fixture
def flash_sale(dist_app):
    manager = dist_app.extensions["mallow.plugins"]
    manager.register(FlashSale(), name="test-flashsale")
    dist_app.extensions.pop("mallow.store_hooks", None)
    yield
    manager.unregister(name="test-flashsale")
    dist_app.extensions.pop("mallow.store_hooks", None)


def test_flash_sale_lines_earn_nothing_unless_included(mall, flash_sale):
    flash_sku, plain_sku = mall.product(price=7777), mall.product(price=10000)
    promoter = mall.distributor()
    buyer = mall.shopper()
    mall.bind(buyer, promoter)
    order = mall.buy(buyer, flash_sku)
    assert order["total"] == 7000 and mall.paid_to(order) == {}
    assert mall.paid_to(mall.buy(buyer, plain_sku)) == {promoter.distributor_id: 1000}
    mall.configure(include_flashsale=True)
    assert mall.paid_to(mall.buy(buyer, flash_sku)) == {promoter.distributor_id: 700}  # on the sale price


def test_product_rules_and_grades(mall):
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    excluded, special, plain = mall.product(price=10000), mall.product(price=10000), mall.product(price=10000)
    with store_context(mall.shop.store_id, app=mall.app):
        products = {sku: db.session.get(Sku, sku).product_id for sku in (excluded, special, plain)}
    mall.post(f"{mall.console_api}/product-rules", mall.mtoken, {"product_id": products[excluded], "excluded": True})
    mall.post(f"{mall.console_api}/product-rules", mall.mtoken, {"product_id": products[special], "level1_rate": "3"})
    grade = mall.post(f"{mall.console_api}/grades", mall.mtoken, {"name": "金牌", "level1_rate": "15"}, expect=(201,))
    promoter = mall.distributor()
    mall.post(
        f"{mall.console_api}/distributors/{promoter.distributor_id}/grade", mall.mtoken, {"grade_id": grade["id"]}
    )
    buyer = mall.shopper()
    mall.bind(buyer, promoter)
    assert mall.paid_to(mall.buy(buyer, excluded)) == {}
    assert mall.paid_to(mall.buy(buyer, special)) == {promoter.distributor_id: 300}  # product rate first
    assert mall.paid_to(mall.buy(buyer, plain)) == {promoter.distributor_id: 1500}  # then the grade's
    # removing the rule (no rates, not excluded) brings back the grade rate
    removed = mall.post(f"{mall.console_api}/product-rules", mall.mtoken, {"product_id": products[special]})
    assert removed["rule"] is None
    assert mall.paid_to(mall.buy(buyer, special)) == {promoter.distributor_id: 1500}


def test_suspended_distributor_earns_nothing_new(mall):
    sku = mall.product(price=10000)
    promoter = mall.distributor()
    buyer = mall.shopper()
    mall.bind(buyer, promoter)
    mall.post(
        f"{mall.console_api}/distributors/{promoter.distributor_id}/decision",
        mall.mtoken,
        {"approve": False, "reason": "违规宣传"},
    )
    assert mall.paid_to(mall.buy(buyer, sku)) == {}


def test_manifest_contract():
    manifest = json.loads((PLUGIN / "plugin.json").read_text(encoding="utf-8"))
    properties = manifest["settings_schema"]["properties"]
    assert properties["levels"]["enum"] == [1, 2] and properties["levels"]["default"] == 1
    assert manifest["settings_schema"]["additionalProperties"] is False
    import mallow_distribution

    implemented = sorted(name for name in dir(mallow_distribution) if name.startswith("mallow_"))
    assert implemented == sorted(manifest["hooks"])
    from mallow.plugins import hookspecs

    assert all(hasattr(hookspecs, name) for name in manifest["hooks"])


def test_jobs_are_registered_through_the_jobs_hook(dist_app):
    from mallow.jobs import jobs_of
    from mallow_distribution.jobs import EVERY_SECONDS

    jobs = jobs_of(dist_app).registered()
    assert jobs["distribution.settle_store"].store and not jobs["distribution.settle"].store
    assert jobs_of(dist_app).periodic()["distribution.settle"] == EVERY_SECONDS
    assert {
        name for name, job in dist_app.extensions["mallow.plugin_jobs"].items() if job.plugin == "distribution"
    } == {"distribution.settle", "distribution.settle_store"}


def test_migrations_give_exactly_the_models(mall, dist_app):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from mallow.db import db
    from mallow.sdk import plugin_metadata

    metadata = plugin_metadata("distribution")
    with dist_app.app_context():
        if dist_app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
            schema = f"store_{mall.shop.store_id}"
            copied = sa.MetaData(naming_convention=metadata.naming_convention)
            for table in metadata.tables.values():
                table.to_metadata(copied, schema=schema, referred_schema_fn=lambda *args: schema)
            engine, version_schema = db.engine, schema
        else:
            schema, copied = "store", metadata
            engine, version_schema = dist_app.extensions["mallow.store_engines"].engine_for(mall.shop.store_id), "store"
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "version_table_schema": version_schema,
                    "version_table": "alembic_version_distribution",
                    "include_schemas": True,
                    "compare_type": True,
                    "include_name": lambda name, type_, parents: (
                        name == schema
                        if type_ == "schema"
                        else not (type_ == "table" and not name.startswith("distribution"))
                    ),
                },
            )
            assert compare_metadata(context, copied) == []


def test_block_registers_with_the_page_builder(dist_app):
    from mallow.builder import blocks

    block_type = blocks.types_of(dist_app).get("distribution_entry")
    assert block_type is not None and getattr(block_type, "plugin", None) == "distribution"
    assert (Path(block_type.template_folder) / block_type.template).is_file()


def test_block_registration_is_skipped_without_a_builder():
    from mallow_distribution.blocks import register_block

    assert register_block(None) is False
    assert register_block(lambda *a, **k: (_ for _ in ()).throw(TypeError("no builder"))) is False


def test_every_template_text_is_in_the_plugins_own_catalogue():
    from babel.messages.pofile import read_po
    from jinja2.ext import babel_extract

    with (PLUGIN / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "mallow_distribution.po").open("rb") as f:
        catalog = read_po(f, locale="zh_Hans_CN")
    missing = []
    for path in sorted((PLUGIN / "templates").rglob("*.html")):
        with path.open("rb") as f:
            for line, _func, message, _comments in babel_extract(f, ("_", "gettext", "ngettext"), [], {}):
                msgid = message if isinstance(message, str) else message[0]
                if msgid and not (catalog.get(msgid) and catalog.get(msgid).string):
                    missing.append(f"{path.name}:{line} {msgid!r}")
    assert not missing, "run scripts/i18n and translate these in the plugin's catalogue:\n" + "\n".join(missing)

"""The README ``mallow plugin new`` writes (a template for ``str.format``): what the plugin does,
how to install, develop, test and publish it, its settings, the hooks it uses and the
permissions it asks for; Chinese first, then English, like Mallow's own pages."""

from __future__ import annotations

README = """\
# {title_zh} · {title}

Mallow 插件 `{package}`（插件名 `{name}`），作者：{author}。
A [Mallow](https://example.invalid/mallow) plugin: `{package}` (plugin name `{name}`), by {author}.

## 它做什么 · What it does

满额立减：订单小计达到门槛（默认 ¥200）时减去设定金额（默认 ¥20）；购物车里提示“再买 ¥X 可减 ¥Y”；
页面装修里多一个“满减横幅”区块。

Full reduction: an order whose subtotal reaches the threshold (¥200 by default) gets a fixed
amount off (¥20 by default); the cart tells the shopper how much more to buy; the page builder
gets a banner block.

## 设置 · Settings

| 设置 setting | 类型 type | 默认 default | 说明 meaning |
|---|---|---|---|
| `threshold` 门槛 | 金额 money | ¥200.00 | 小计达到它才减 · the subtotal that earns the reduction |
| `reduction` 减多少 | 金额 money | ¥20.00 | 必须小于门槛 · must be less than the threshold |
| `label` 优惠名称 | 文字 text | 满减优惠 | 收据上显示 · shown on the receipt |

金额设置（`"format": "money"`）在后台按元填写（“100” 或 “99.50”），以分存储；API 里也是分。
`mallow_validate_settings` 拒绝“满 200 减 300”这样的组合。

Money settings (`"format": "money"`) are typed in yuan in the console and stored in fen (the API
speaks fen). `mallow_validate_settings` refuses combinations such as 满 200 减 300.

## 用到的钩子 · Hooks

* `mallow_order_adjustments` — 满减（stage `order`，来源是本插件自己，只减不加）· the reduction,
  credited to this plugin, never a surcharge;
* `mallow_validate_settings` — 设置之间的校验 · checks one setting against another;
* `mallow_template_slot` — 购物车插槽 `cart.after_subtotal` · the cart's slot;
* `mallow_register_blocks` — 区块 `{block}` · the page-builder block.

`plugin.json` 的 `hooks` 必须与实现的钩子一致，否则平台不加载。
The manifest's `hooks` must list exactly the hooks the code implements, or Mallow does not load it.

## 权限 · Permissions

`pricing`（在结账时改价 · changes prices at checkout）、`storefront`（在店铺页面显示内容 · adds
content to storefront pages）、`blocks`（页面装修区块 · page-builder blocks）。审核人员和商家都会看到。
Reviewers and merchants see them before approving or enabling the plugin.

## 文件 · Files

* `{package}/plugin.json` — 清单（平台不导入代码即可读取）· the manifest, read without importing;
* `{package}/__init__.py` — 钩子 · the hooks;
* `{package}/templates/blocks/{block}.html` — 区块模板 · the block's template;
* `{package}/i18n.py`、`babel.cfg`、`{package}/translations/zh_Hans_CN/LC_MESSAGES/{package}.po`（及 `.mo`）
  — 插件自己的翻译（中文优先）· its own translations, Chinese first;
* `tests/test_plugin.py` — 在临时店铺上测试 · tests on throwaway stores (`mallow.sdk.testing`).

## 安装与开发 · Install and develop

```bash
pip install -e .                              # 装进 Mallow 的环境 · into Mallow's environment
pytest                                        # 插件自己的测试 · the plugin's tests
mallow serve --dev --plugins ..               # 开发模式：免审核、改动即重启（生产环境拒绝）
                                              # development mode: no review, restarts on change (refused in production)
```

开发模式下插件不经审核直接运行，只能在自己的电脑上用。
In development mode the plugin runs without review: use it on your own machine only.

## 翻译 · Translations

代码里用 `{package}/i18n.py` 的 `_("…")` / `_l("…")`，然后 · Write texts as `_("…")` / `_l("…")`, then:

```bash
pybabel extract -F babel.cfg -k _l -k lazy_gettext -o messages.pot .
pybabel update -i messages.pot -d {package}/translations -D {package} -l zh_Hans_CN
pybabel compile -d {package}/translations -D {package}
```

## 发布 · Publish

1. 改版本号：`plugin.json` 和 `pyproject.toml` 一起改 · bump `version` in both files (every version is reviewed again);
2. `mallow plugin publish`（在本目录运行，用开发者令牌）上传到平台；或由平台运营者从其控制的包索引安装后
   `mallow plugin sync` · upload with `mallow plugin publish` from this folder (your developer token), or the
   operator installs it from the index they control and runs `mallow plugin sync`;
3. 平台管理员在 **/admin/plugins** 审阅代码并批准；下次启动后生效 · a platform admin reviews and approves it;
   it runs from the next start;
4. 商家在后台 **插件** 里启用并填写门槛和减额 · each merchant enables it in the console and sets the amounts.
"""

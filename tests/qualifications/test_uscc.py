"""Unified Social Credit Code check (GB 32100-2015) and resident ID check."""

import pytest

from mallow.qualifications import idcard, uscc

VALID = [
    "91350100M000100Y43",
    "91110000600037341L",
    "91310115MA1K3BTP2B",
    "9144030071526726XG",
    "91620105L015101280",
    "911522010783762860",
    "92340621MA2PBKRXXG",
    "91440300708461136T",
]


@pytest.mark.parametrize("code", VALID)
def test_known_valid_codes(code):
    assert uscc.problem(code) is None


@pytest.mark.parametrize(
    "code,problem",
    [
        ("91110000600037341N", "check"),
        ("9111000060003IOZSV", "charset"),
        ("91350100M000100Y4Z", "charset"),
        ("91350100M000100Y4", "length"),
        ("", "length"),
        ("Z1350100M000100Y43", "charset"),
        ("01350100M000100Y43", "authority"),
    ],
)
def test_known_invalid_codes(code, problem):
    assert uscc.problem(code) == problem


@pytest.mark.parametrize("code", VALID)
def test_every_single_character_change_is_caught(code):
    for position in range(18):
        for replacement in uscc.CHARSET:
            if replacement != code[position]:
                changed = code[:position] + replacement + code[position + 1 :]
                assert uscc.problem(changed) is not None, changed


def test_letter_authorities_are_valid_first_characters():
    body = "N1110000600037341"
    assert uscc.problem(body + uscc.check_character(body)) is None
    assert uscc.check_character("91350100M000100Y4") == "3"


def test_weights_follow_the_standard():
    assert uscc.WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    assert uscc.VALUES["H"] == 17 and uscc.VALUES["J"] == 18 and uscc.VALUES["Y"] == 30


def test_input_is_normalised():
    assert uscc.normalise(" ９１３５０１００Ｍ０００１００Ｙ４３ ") == "91350100M000100Y43"
    assert uscc.normalise("9135-0100 m000100y43") == "91350100M000100Y43"
    assert uscc.is_valid("9135 0100 m000 100y 43")


def test_entity_type():
    assert uscc.entity_type("92340621MA2PBKRXXG") == "individual_business"
    assert uscc.entity_type("91350100M000100Y43") == "enterprise"


def test_resident_id_check():
    assert idcard.is_valid("11010519491231002X")
    assert not idcard.is_valid("110105194912310021")
    assert not idcard.is_valid("11010519491331002X")  # month 13

"""Fixtures for the WeChat Pay tests: RSA keys are generated once per test module."""

from __future__ import annotations

import pytest

from mallow.testing.wechatpay import FakeMerchant, generate_rsa_key, make_fake_merchant


@pytest.fixture(scope="module")
def rsa_keys():
    """Five RSA-2048 keys: store A's merchant and platform keys, store B's, and a spare."""
    return [generate_rsa_key() for _ in range(5)]


@pytest.fixture(scope="module")
def merchant(rsa_keys) -> FakeMerchant:
    """Store A."""
    return make_fake_merchant(
        mchid="1900000109", appid="wxd678efh567hg6787", merchant_key=rsa_keys[0], platform_key=rsa_keys[1]
    )


@pytest.fixture(scope="module")
def other_merchant(rsa_keys) -> FakeMerchant:
    """Store B: its own mchid, appid, keys and APIv3 key."""
    return make_fake_merchant(
        mchid="1900000200", appid="wx0000000000store2", merchant_key=rsa_keys[3], platform_key=rsa_keys[2]
    )


@pytest.fixture(scope="module")
def spare_key(rsa_keys):
    """A key nobody trusts (an attacker's)."""
    return rsa_keys[4]

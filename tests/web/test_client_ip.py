"""Evidence keeps only a network prefix of the caller's address, never the address."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from keepfaith.web.client import truncate_ip


@given(st.ip_addresses())
def test_the_prefix_is_the_network_the_address_is_in(address: ipaddress._BaseAddress) -> None:
    prefix = 24 if address.version == 4 else 48
    expected = str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
    assert truncate_ip(str(address)) == expected


def test_nothing_is_kept_of_what_is_not_an_address() -> None:
    assert truncate_ip("") is None
    assert truncate_ip(None) is None
    assert truncate_ip("203.0.113.7; DROP TABLE") is None
    assert truncate_ip("203.0.113.77") == "203.0.113.0/24"

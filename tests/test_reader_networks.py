"""Reader networks read without ``ipaddress`` for plain IPv4 give exactly ``ipaddress``'s answer."""

from __future__ import annotations

import random

import pytest

from civility.identity import networks_by_ipaddress, reader_networks

EDGES = [
    "0.0.0.0", "255.255.255.255", "10.0.0.1", "192.0.2.7", "100.64.9.99", "1.22.199.250", "249.250.251.252",
    # Not plain IPv4: each must come out as ipaddress reads it (or as unknown).
    "010.1.2.3", "1.2.3.04", "1.2.3.256", "256.1.2.3", "1.2.3", "1.2.3.4.5", " 1.2.3.4", "1.2.3.4\n",
    "1.2.3.4%eth0", "::ffff:198.51.100.3", "2001:db8:1:2:3:4:5:6", "2001:db8::1%1", "\u0661.2.3.4",
    "", None, "unknown", "1..2.3",
]


@pytest.mark.parametrize("address", EDGES)
def test_edge_addresses_read_as_ipaddress_reads_them(address):
    assert reader_networks(address) == networks_by_ipaddress(address)


def test_random_ipv4_addresses_read_as_ipaddress_reads_them():
    rng = random.Random(7)
    for _ in range(5000):
        address = ".".join(str(rng.choice([rng.randrange(10), rng.randrange(100), rng.randrange(256)]))
                           for _ in range(4))
        assert reader_networks(address) == networks_by_ipaddress(address)


def test_a_plain_ipv4_reader_is_their_address_within_its_slash_24():
    assert reader_networks("203.0.113.45") == ("203.0.113.45", "203.0.113.0/24")

"""Small parts of the stores that need no server."""

import pytest

from app.stores.base import Entry, StoreUnavailable, describe
from app.stores.memcached import one_server


def test_entry_is_expired_only_at_or_past_its_expiry():
    assert not Entry({}, None).expired
    assert not Entry({}, 0.5).expired
    assert Entry({}, 0.0).expired
    assert Entry({}, -3.2).expired


@pytest.mark.parametrize(
    ("servers", "expected"),
    [("127.0.0.1:11211", "127.0.0.1:11211"), (" cache:11211 ", "cache:11211")],
)
def test_one_memcached_server_is_taken(servers, expected):
    assert one_server(servers) == expected


@pytest.mark.parametrize("servers", ["", "a:1,b:2", "a:1 b:2"])
def test_none_or_several_memcached_servers_are_refused(servers):
    with pytest.raises(StoreUnavailable, match="the lab uses one"):
        one_server(servers)


def test_a_failure_is_described_on_one_short_line():
    error = ValueError("first line\nsecond line " + "x" * 300)

    described = describe(error)

    assert described.startswith("ValueError: first line")
    assert "\n" not in described
    assert len(described) <= 200


def test_a_failure_without_a_message_is_named_by_its_type():
    assert describe(ConnectionResetError()) == "ConnectionResetError"

"""The cache census: keys counted by whose they are, only the learner's named."""

from app.demos.cache import take_census

STUDIO = ("studio:", "studio:mine")
KEYS = [
    "studio:mine",
    "studio:theirs",
    "lab:me:record",
    "lab:me:seq",
    "lab:me:index:redis",
    "lab:you:record",
    "lab:me:sess:aaa",
    "lab:me:sess:bbb",
    "lab:guest:sess:ccc",
    "lab:you:sess:ddd",
    "lab:a:b:sess:eee",
    "cart:42",
]


def test_each_key_is_counted_once_by_owner():
    census = take_census("redis", KEYS, False, "me", ["guest"], STUDIO)

    assert (census.studio, census.records, census.sessions, census.other) == (
        2,
        4,
        4,
        2,
    )
    assert census.total == len(KEYS)
    assert census.studio_yours
    assert census.sessions_yours == ["lab:me:sess:aaa", "lab:me:sess:bbb"]
    assert census.records_yours == ["lab:me:index:redis", "lab:me:record", "lab:me:seq"]
    assert (census.sessions_visitors, census.sessions_others) == (1, 1)
    assert census.beyond_sessions == len(KEYS) - 4
    owners = {owner for owner, _ in census.session_keys}
    assert owners == {"me", "guest", "you"}


def test_where_the_studio_is_not_kept_its_prefix_means_nothing():
    census = take_census("memcached", KEYS, True, "me", [], None)

    assert not census.studio_here
    assert (census.studio, census.records) == (0, 0)
    assert census.other == len(KEYS) - 4
    assert census.capped
    assert not census.studio_yours

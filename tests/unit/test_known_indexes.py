"""The recorder's guess of each learner's index: ordered, bounded, never shared."""

from app.journal import KnownIndexes


def test_a_learner_not_seen_is_expected_to_hold_only_the_session_used():
    known = KnownIndexes()

    assert known.expect(("learner", "redis"), [], "a") == ["a"]
    assert known.expect(("learner", "redis"), [], None) == []


def test_the_session_used_moves_last_and_the_gone_drop_out():
    known = KnownIndexes()
    known.remember(("learner", "redis"), ["a", "b", "c"])

    assert known.expect(("learner", "redis"), ["b"], "a") == ["c", "a"]
    assert known.expect(("learner", "redis"), [], "d") == ["a", "b", "c", "d"]


def test_each_learner_and_store_is_remembered_apart():
    known = KnownIndexes()
    known.remember(("one", "redis"), ["a"])

    assert known.expect(("two", "redis"), [], None) == []
    assert known.expect(("one", "memory"), [], None) == []
    assert known.expect(("one", "redis"), [], None) == ["a"]


def test_the_learner_seen_least_recently_is_forgotten_past_the_limit():
    known = KnownIndexes(limit=2)
    known.remember(("one", "redis"), ["a"])
    known.remember(("two", "redis"), ["b"])
    known.remember(("one", "redis"), ["a", "c"])
    known.remember(("three", "redis"), ["d"])

    assert known.expect(("two", "redis"), [], None) == []
    assert known.expect(("one", "redis"), [], None) == ["a", "c"]
    assert known.expect(("three", "redis"), [], None) == ["d"]

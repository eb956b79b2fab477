"""The fork of two answer groups and the hesitation spots, on scripted token ids."""

from __future__ import annotations

from app.core.confidence.fork import ENDED, common_prefix_length, fork_between
from app.core.confidence.spots import channel_tokens, describe_token, uncertain_spots
from tests.confidence_data import scripted_stats, with_ids


def test_the_fork_is_the_prefix_every_sample_of_both_groups_shares() -> None:
    samples = {
        "A": [with_ids([1, 2, 3, 4]), with_ids([1, 2, 3, 5])],
        "B": [with_ids([1, 2, 7, 8]), with_ids([1, 2])],
    }
    fork = fork_between("A", "B", samples)
    assert fork is not None
    assert fork.position == 2 and fork.prefix_text == "t1 t2 "
    assert fork.samples == {"A": 2, "B": 2}
    by_token = {b.token_id: b for b in fork.branches}
    # Both A samples go on with 3, then part (4 or 5): the branch shows "t3 " only.
    assert by_token[3].counts == {"A": 2, "B": 0} and by_token[3].text == "t3 "
    assert by_token[7].counts == {"A": 0, "B": 1} and by_token[7].text == "t7 t8 "
    assert by_token[None].counts == {"A": 0, "B": 1} and by_token[None].text == ENDED
    assert fork.branches[0].token_id == 3  # the most taken first
    assert fork_between("A", "C", samples) is None  # no sample with statistics in C


def test_common_prefix_on_ids() -> None:
    assert common_prefix_length([[1, 2, 3], [1, 2, 4], [1, 2]]) == 2
    assert common_prefix_length([[5], [6]]) == 0
    assert common_prefix_length([]) == 0


def test_spots_are_the_least_likely_tokens_in_text_order() -> None:
    stats = scripted_stats([
        ("trace", "So ", 0.95), ("trace", "maybe ", 0.2), ("trace", "it ", 0.9),
        ("trace", "is ", 0.45), ("trace", "two", 0.05), ("answer", "2", 0.3),
    ])  # fmt: skip
    assert uncertain_spots(stats, "trace") == [1, 3, 4]
    assert uncertain_spots(stats, "trace", limit=2) == [1, 4]  # the two least likely
    assert uncertain_spots(stats, "answer") == [5]
    trace = channel_tokens(stats, "trace")
    assert trace.token_at(0) == 0 and trace.token_at(3) == 1 and trace.token_at(99) is None
    text = describe_token(stats, 1)
    assert text.startswith("“maybe ”: 20.0%")
    assert "“alt-1-0”  20.0%" in text and "← chosen" in text
    # sqrt(0.2) = 44.7% after the chain: it differs, so it is stated.
    assert "drawn from): 44.7%" in text

"""Where the window finds a sample's token statistics.

A sample shown in the window is a history SampleRecord, which may be built more than
once from the same run (as it streams, then again from the finished report). The
statistics come with the engine's GenerationResult; the sessions file them here under
the sample's content (index, seed, trace and answer), so any record of the same sample
finds them. A record reopened from history carries them as a blob
(app.core.history.token_blob), decoded here once.
"""

from __future__ import annotations

from collections import OrderedDict

from app.core.confidence.deepconf import sample_confidence
from app.core.history.records import SampleRecord
from app.core.inference.token_stats import TokenStats

CAPACITY = 4096  # samples remembered, most recent kept: a few long consensus runs
NO_STATS_REASON = (
    "This answer has no token statistics: it was recorded before Quorum kept them, "
    "or it came from a server that returns no log-probabilities."
)

_Key = tuple[int, int, str, str]


class StatsBook:
    """Token statistics of the samples this window produced, by sample content."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[_Key, TokenStats] = OrderedDict()
        # DeepConf per statistics object, computed once: tables and the consensus panel
        # are refreshed after every sample of a run that may have 512.
        self._confidence: dict[int, tuple[TokenStats, float | None]] = {}

    def put(self, sample: SampleRecord, stats: TokenStats | None) -> None:
        if stats is None or len(stats) == 0:
            return
        key = _key(sample)
        self._entries[key] = stats
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def get(self, sample: SampleRecord | None) -> TokenStats | None:
        if sample is None:
            return None
        known = self._entries.get(_key(sample))
        if known is None and sample.token_stats:  # reopened from history: decode it once
            known = TokenStats.from_blob(sample.token_stats)
            self.put(sample, known)
        return known if known is not None and len(known) else None

    def confidence(self, sample: SampleRecord | None) -> float | None:
        """The sample's DeepConf confidence (app.core.confidence.deepconf); None: no stats."""
        stats = self.get(sample)
        if stats is None:
            return None
        known = self._confidence.get(id(stats))
        if known is None or known[0] is not stats:
            if len(self._confidence) >= self.capacity:
                self._confidence.clear()
            known = (stats, sample_confidence(stats))
            self._confidence[id(stats)] = known
        return known[1]


def _key(sample: SampleRecord) -> _Key:
    return (sample.index, sample.seed, sample.trace, sample.answer)


BOOK = StatsBook()  # one per process: the window's sessions and views share it

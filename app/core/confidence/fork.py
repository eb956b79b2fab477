"""Where two answer groups' generations part: the fork.

Definition, on token ids (not text: two tokenisations of the same text are different
paths for the model). Each sample is the sequence of token ids it generated, trace and
answer alike, in order (for a thinking model the trace comes first, so a fork there is
a fork in the reasoning). For groups A and B:

- the shared prefix is the longest sequence of token ids that *every* sample of A and
  of B begins with; its length is the fork's ``position`` (0: they differ from the
  first token);
- at that position each sample takes a next token (or ends there): samples taking the
  same token id form a branch, with how many samples of each group took it;
- a branch's text is its first token, extended by the tokens all of its samples still
  share after it, up to BRANCH_TOKENS.

Only samples with token statistics count; ``samples`` says how many per group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.core.inference.token_stats import TokenStats

BRANCH_TOKENS = 8
ENDED = "(the sample ended here)"


@dataclass(frozen=True)
class Branch:
    """One way on from the fork: its first token id (None: the samples ended there), the
    text of the tokens its samples share from there, and how many of each group took it."""

    token_id: int | None
    text: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Fork:
    """The shared prefix of two groups' samples and the branches after it."""

    groups: tuple[str, str]
    position: int  # tokens in the shared prefix
    prefix_text: str
    branches: list[Branch]  # most taken first
    samples: dict[str, int]  # samples with statistics, per group


def common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """How many leading token ids all the sequences share."""
    if not sequences:
        return 0
    shortest = min(len(s) for s in sequences)
    for position in range(shortest):
        first = sequences[0][position]
        if any(s[position] != first for s in sequences):
            return position
    return shortest


def fork_between(first: str, second: str,
                 samples: Mapping[str, Sequence[TokenStats]]) -> Fork | None:  # fmt: skip
    """The fork of groups ``first`` and ``second`` (``samples``: each group's samples'
    statistics); None when either group has no sample with statistics."""
    mine = {group: [s for s in samples.get(group, ()) if s is not None]
            for group in (first, second)}  # fmt: skip
    if not mine[first] or not mine[second]:
        return None
    texts: dict[int, str] = {}
    for group in (first, second):
        for stats in mine[group]:
            texts.update(stats.texts)
    tagged = [(group, stats.token_ids) for group in (first, second) for stats in mine[group]]
    position = common_prefix_length([ids for _, ids in tagged])
    by_next: dict[int | None, list[tuple[str, list[int]]]] = {}
    for group, ids in tagged:
        key = ids[position] if position < len(ids) else None
        by_next.setdefault(key, []).append((group, ids))
    branches = []
    for key, members in by_next.items():
        counts = {first: 0, second: 0}
        for group, _ in members:
            counts[group] += 1
        if key is None:
            text = ENDED
        else:
            tails = [ids[position : position + BRANCH_TOKENS] for _, ids in members]
            text = _text(tails[0][: max(1, common_prefix_length(tails))], texts)
        branches.append(Branch(key, text, counts))
    branches.sort(key=lambda b: (-b.total, -b.counts[first], b.text))
    prefix = _text(tagged[0][1][:position], texts)
    return Fork((first, second), position, prefix, branches,
                {group: len(mine[group]) for group in (first, second)})  # fmt: skip


def _text(ids: Sequence[int], texts: dict[int, str]) -> str:
    return "".join(texts.get(t, "") for t in ids)

"""How different a question's samples are in their reasoning, not just in their answers.

Two measures over word tokens (lower-cased, split on white space):

* distinct n-gram ratio: distinct word n-grams (n = 3) over all n-grams, pooled over the
  texts. N identical texts give about 1/N; N unrelated texts give close to 1.
* mean pairwise normalised edit distance: word-level Levenshtein distance of each pair
  divided by the longer text's length (0: identical, 1: nothing in common), averaged over
  pairs. Texts compared are the first MAX_TEXTS by sample index (an exchangeable subset,
  not the first to finish), each cut to its first MAX_WORDS words: 512 traces of 2,000
  words would otherwise be 130,000 long comparisons. The result says what was compared.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

NGRAM = 3
MAX_TEXTS = 32
MAX_WORDS = 2000


@dataclass(frozen=True)
class Diversity:
    """The two diversity measures of one question's texts, and what they were computed on."""

    texts: int  # texts compared pairwise (at most MAX_TEXTS)
    pairs: int
    mean_edit_distance: float | None  # None: fewer than 2 texts
    identical_pairs: int  # pairs whose word sequences are exactly equal
    distinct_ngram_ratio: float | None  # None: no n-grams at all (every text too short)
    truncated: bool  # some text was cut to MAX_WORDS words

    @property
    def identical_share(self) -> float | None:
        return self.identical_pairs / self.pairs if self.pairs else None


def words(text: str) -> list[str]:
    return text.lower().split()


def edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Levenshtein distance between two token sequences (insert, delete, substitute: 1).

    Bit-parallel (Myers 1999, Hyyrö's global-distance form): one pass over `b` with the
    column of the dynamic-programming table for `a` kept as bit vectors in Python ints, so
    2,000-word texts compare in milliseconds instead of seconds.
    """
    if len(a) < len(b):
        a, b = b, a
    m = len(a)
    if m == 0 or not b:
        return max(m, len(b))
    match: dict[str, int] = {}
    for i, token in enumerate(a):
        match[token] = match.get(token, 0) | (1 << i)
    mask = (1 << m) - 1
    top = 1 << (m - 1)
    plus, minus, score = mask, 0, m  # vertical deltas of column 0 are all +1
    for token in b:
        eq = match.get(token, 0)
        xv = eq | minus
        xh = (((eq & plus) + plus) ^ plus) | eq
        horizontal_plus = minus | (~(xh | plus) & mask)
        horizontal_minus = plus & xh
        if horizontal_plus & top:
            score += 1
        elif horizontal_minus & top:
            score -= 1
        horizontal_plus = ((horizontal_plus << 1) | 1) & mask  # row 0 grows by 1 per column
        horizontal_minus = (horizontal_minus << 1) & mask
        plus = horizontal_minus | (~(xv | horizontal_plus) & mask)
        minus = horizontal_plus & xv
    return score


def normalised_edit_distance(a: Sequence[str], b: Sequence[str]) -> float:
    longest = max(len(a), len(b))
    return edit_distance(a, b) / longest if longest else 0.0


def distinct_ngram_ratio(texts: Sequence[Sequence[str]], n: int = NGRAM) -> float | None:
    grams = [tuple(t[i : i + n]) for t in texts for i in range(len(t) - n + 1)]
    return len(set(grams)) / len(grams) if grams else None


def diversity(texts: Sequence[str]) -> Diversity:
    """Diversity of texts given in sample-index order (see the module notes)."""
    chosen = [words(t) for t in texts[:MAX_TEXTS]]
    truncated = any(len(t) > MAX_WORDS for t in chosen)
    chosen = [t[:MAX_WORDS] for t in chosen]
    pairs = list(itertools.combinations(chosen, 2))
    distances = [normalised_edit_distance(a, b) for a, b in pairs]
    return Diversity(
        texts=len(chosen),
        pairs=len(pairs),
        mean_edit_distance=sum(distances) / len(distances) if distances else None,
        identical_pairs=sum(1 for a, b in pairs if a == b),
        distinct_ngram_ratio=distinct_ngram_ratio(chosen),
        truncated=truncated,
    )

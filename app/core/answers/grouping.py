"""Group sample answers that mean the same thing, as the samples finish.

Two answers are equivalent when the first of these layers that applies says so (cheapest
first; see app.core.answers.forms for the exact rules):

1. Same normalised text (case, spacing, $ \\( \\) \\boxed{} \\text{}, bold, final period).
2. Choice letters: "B", "(B)", "b)", "Option B", "**B**" are one choice. A choice letter
   only ever equals the same letter.
3. Numbers, compared exactly as fractions: "1,000" = "1000", "2.50" = "2.5",
   "1/2" = "0.5" = "\\frac{1}{2}"; units and currency stripped ("$5" = "5 dollars" = "5");
   "50%" = "50" (not 0.5). Two numbers that differ are never merged by a later layer.
4. Maths expressions, through math-verify ("\\frac{\\sqrt{2}}{2}" = "1/\\sqrt{2}",
   "(x+1)^2" = "x^2+2x+1", "\\sqrt{25}" = "5"). Runs in a helper process with a time limit
   (app.core.answers.math_equivalence); a comparison that overruns, or that finds the helper
   busy with another thread's comparison for longer than the limit, counts as "not equal".
   Prose never reaches math-verify.

Grouping is greedy: a new answer joins the first existing group, in order of creation, whose
representative (its first answer) is equivalent; otherwise it starts a group. Equivalence
through math-verify is not always transitive, so this rule keeps the result deterministic
for a given order of arrival, and for the exact layers 1-3 independent of that order.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Final

from app.core.answers.forms import AnswerForm, answer_form
from app.core.answers.math_equivalence import Verdict, compare_math

NO_ANSWER: Final = "∅ no answer"
NO_ANSWER_KEY: Final = "none:"
_MAX_CACHED_PAIRS = 20_000


@dataclass
class AnswerGroup:
    """Samples whose answers are the same answer (exactly, in form, or mathematically)."""

    key: str  # canonical form of the representative; unique among one grouper's groups
    label: str  # display form: the first answer seen, as written (or NO_ANSWER)
    members: list[int] = field(default_factory=list)  # sample indices, in order of arrival
    is_no_answer: bool = False

    @property
    def count(self) -> int:
        return len(self.members)


_pair_cache: dict[tuple[str, str, float], bool] = {}
_pair_cache_lock = threading.Lock()


def equivalent(a: str, b: str, *, timeout_s: float = 2.0) -> bool:
    """True when the two answers mean the same thing (see the module docstring)."""
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be positive, got {timeout_s}")
    return _forms_equivalent(answer_form(a), answer_form(b), timeout_s)


def _forms_equivalent(a: AnswerForm, b: AnswerForm, timeout_s: float) -> bool:
    if a.key == b.key:
        return True
    if a.choice is not None or b.choice is not None:
        return False
    if a.number is not None and b.number is not None:
        return False  # exact comparison already said no; float-tolerant maths must not overrule
    if a.maths is None or b.maths is None:
        return False
    # Sorting makes the answer symmetric (math-verify's verify() is not) and halves the cache.
    first, second = sorted((a.maths, b.maths))
    cache_key = (first, second, timeout_s)
    with _pair_cache_lock:
        cached = _pair_cache.get(cache_key)
    if cached is not None:
        return cached
    verdict = compare_math(first, second, timeout_s=timeout_s)
    result = verdict is Verdict.EQUAL
    # A timeout is cached as "different" so one slow pair stalls grouping once, not per
    # sample; "unavailable" (helper busy or broken) is not a property of the pair.
    if verdict is not Verdict.UNAVAILABLE:
        with _pair_cache_lock:
            if len(_pair_cache) >= _MAX_CACHED_PAIRS:
                _pair_cache.clear()
            _pair_cache[cache_key] = result
    return result


class AnswerGrouper:
    """Incremental grouping for one consensus run; add() may be called from any thread.

    add() calls are serialised; `groups` can be read from another thread (e.g. the GUI's)
    at any time and never waits for a slow maths comparison. Both return copies.
    """

    def __init__(self, *, math_timeout_s: float = 2.0) -> None:
        if math_timeout_s <= 0:
            raise ValueError(f"math_timeout_s must be positive, got {math_timeout_s}")
        self._math_timeout_s = math_timeout_s
        self._add_lock = threading.Lock()  # held across comparisons
        self._state_lock = threading.Lock()  # held only while touching the lists below
        self._groups: list[AnswerGroup] = []  # in order of creation, no-answer included
        self._representatives: list[AnswerForm] = []  # parallel to _groups
        self._by_key: dict[str, int] = {}  # canonical key (also of later joiners) -> index
        self._seen: set[int] = set()

    def add(self, sample_index: int, answer: str | None) -> AnswerGroup:
        """Put one sample's answer in its group; returns a copy of that group."""
        if isinstance(sample_index, bool) or not isinstance(sample_index, int):
            raise TypeError(f"sample_index must be an int, got {sample_index!r}")
        if sample_index < 0:
            raise ValueError(f"sample_index must be >= 0, got {sample_index}")
        if answer is not None and not isinstance(answer, str):
            raise TypeError(f"answer must be a string or None, got {type(answer).__name__}")
        with self._add_lock:
            with self._state_lock:
                if sample_index in self._seen:
                    raise ValueError(f"sample {sample_index} was already added")
            form = answer_form(answer) if answer is not None else None
            if answer is None or form is None or not form.normalized:
                return self._join(sample_index, NO_ANSWER_KEY, NO_ANSWER, None, no_answer=True)
            index = self._by_key.get(form.key)
            if index is None:
                index = self._find_equivalent(form)
            if index is not None:
                return self._join_index(sample_index, index, form.key)
            return self._join(sample_index, form.key, answer.strip(), form, no_answer=False)

    @property
    def groups(self) -> list[AnswerGroup]:
        """Copies, largest first; equal sizes: answers before no-answer, then first seen."""
        with self._state_lock:
            ranked = sorted(
                enumerate(self._groups),
                key=lambda item: (-item[1].count, item[1].is_no_answer, item[0]),
            )
            return [_copy(group) for _, group in ranked]

    def _find_equivalent(self, form: AnswerForm) -> int | None:
        for index, (group, representative) in enumerate(
            zip(self._groups, self._representatives, strict=True)
        ):
            if group.is_no_answer:
                continue
            if _forms_equivalent(form, representative, self._math_timeout_s):
                return index
        return None

    def _join(
        self, sample_index: int, key: str, label: str, form: AnswerForm | None, *, no_answer: bool
    ) -> AnswerGroup:
        index = self._by_key.get(key)
        if index is None:
            with self._state_lock:
                self._groups.append(AnswerGroup(key, label, [], no_answer))
                # The no-answer group is skipped when comparing; any form keeps lists parallel.
                self._representatives.append(form or answer_form(""))
            index = len(self._groups) - 1
            self._by_key[key] = index
        return self._join_index(sample_index, index, key)

    def _join_index(self, sample_index: int, index: int, key: str) -> AnswerGroup:
        self._by_key.setdefault(key, index)  # later answers with this exact form skip comparing
        with self._state_lock:
            group = self._groups[index]
            group.members.append(sample_index)
            self._seen.add(sample_index)
            return _copy(group)


def _copy(group: AnswerGroup) -> AnswerGroup:
    return AnswerGroup(group.key, group.label, list(group.members), group.is_no_answer)

"""A cap on thinking: after B trace tokens, write the template's closing tag into the
sequence and let the model answer (llama.cpp's --reasoning-budget does the same).

The closing text is the close tag plus the separator the model's own template writes after
it: rendered from the template with thinking off where the template has the toggle (Qwen3
writes "<think>\\n\\n</think>\\n\\n"), else "</think>" and a blank line. B = 0 means no
thinking: a trace the template opened is closed before the first token, and one the model
opens itself is closed right after its open tag. None means unlimited.

The closing tokens go in one per decode step, in place of sampled tokens, so a batch keeps
one token per sequence per step; each is also accepted by the sample's chain, so
repetition penalties see them. A trace token is one whose text went to the trace.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from app.core.inference.chat_template import render_chat, supports_thinking_toggle
from app.core.inference.reasoning import DEFAULT_CLOSE_TAG, Channel

DEFAULT_SEPARATOR = "\n\n"
_PROBE = [{"role": "user", "content": "x"}]


def closing_text(template: str | None) -> str:
    """The close tag and the separator the template puts after it."""
    if template and supports_thinking_toggle(template):
        off = render_chat(template, _PROBE, enable_thinking=False).text
        at = off.rfind(DEFAULT_CLOSE_TAG)
        tail = off[at + len(DEFAULT_CLOSE_TAG) :] if at >= 0 else None
        if tail is not None and not tail.strip():
            return DEFAULT_CLOSE_TAG + tail
    return DEFAULT_CLOSE_TAG + DEFAULT_SEPARATOR


def check_budget(budget: int | None) -> int | None:
    if budget is not None and (isinstance(budget, bool) or budget < 0):
        raise ValueError(f"the thinking budget must be 0 or more tokens, got {budget}")
    return budget


def next_token(
    budget: ThinkBudget | None, sample: Callable[[], int], accept: Callable[[int], None]
) -> tuple[int, bool]:
    """The sample's next token, and whether the budget wrote it rather than the chain drew it."""
    if budget is None:
        return sample(), False
    forced = budget.forcing
    return budget.next_token(sample, accept), forced


class ThinkBudget:
    """One sample's thinking budget: counts its trace tokens and closes the trace at B."""

    def __init__(self, budget: int, close_tokens: list[int], *, starts_in_trace: bool) -> None:
        if not close_tokens:
            raise ValueError("the closing tag must be at least one token")
        self.budget = check_budget(budget) or 0
        self._close = list(close_tokens)
        self._queue: deque[int] = deque()
        self.trace_tokens = 0
        self.cut_at: int | None = None  # trace tokens when the trace was closed; None: never
        if self.budget == 0 and starts_in_trace:
            self._cut()

    @property
    def forcing(self) -> bool:
        """Whether the next token is a closing token to write rather than one to draw."""
        return bool(self._queue)

    def next_token(self, sample: Callable[[], int], accept: Callable[[int], None]) -> int:
        """A closing token still to write, else a sampled one."""
        if self._queue:
            token = self._queue.popleft()
            accept(token)
            return token
        return sample()

    def observe(self, channel: Channel) -> None:
        """After a token's text was fed to the splitter: count it, close at the budget."""
        if self.cut_at is not None or self._queue or channel is not Channel.TRACE:
            return
        self.trace_tokens += 1
        if self.trace_tokens >= max(1, self.budget):  # B = 0: the open tag was the 1st
            self._cut()

    def _cut(self) -> None:
        self.cut_at = 0 if self.budget == 0 else self.trace_tokens
        self._queue.extend(self._close)

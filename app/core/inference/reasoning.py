"""Split a reasoning model's output into its reasoning trace and its answer, while it streams.

Reasoning models wrap their thinking in tags (``<think>`` ... ``</think>`` by default) and
write the answer after the close tag. Tokens arrive a few characters at a time, and a tag
can be cut anywhere ("<th" + "ink>"), so `ReasoningSplitter` keeps back only the shortest
tail of the text that could still grow into a tag and hands everything else out at once.

The rules, identical for streaming (`ReasoningSplitter`) and one shot (`split_reasoning`):

* Text before any tag is answer, unless ``starts_in_trace`` says the prompt already opened
  a think block (see `template_opens_trace`).
* An open tag switches to the trace; a close tag switches back to the answer. Tag text never
  appears in either channel. An open tag inside a trace (a model that writes ``<think>``
  although the template opened one) is dropped, as is a close tag inside the answer after
  a trace block has ended.
* A close tag that arrives when no tag was seen at all and ``starts_in_trace`` was False
  means the template opened the block without the caller knowing (DeepSeek-R1 distills
  do this). The text before it was reasoning, so it is moved from the answer to the trace.
  The pieces already handed out as answer cannot be taken back; `answer_relabelled` then
  turns True so a view can redraw its answer pane from `answer`.
* Each channel drops the line breaks at the start of each of its sections (right after a
  tag and at the start of the stream) so the UI shows no blank first lines. When a channel
  resumes after an earlier section (several think blocks), its sections are joined with a
  blank line, so two blocks never run into one word.
* Without a close tag (output cut off by the token limit) everything after the open tag
  stays trace; `ReasoningSplitter.finish` flushes the text it was holding back.
"""

from __future__ import annotations

import enum

__all__ = [
    "Channel",
    "Piece",
    "ReasoningSplitter",
    "split_reasoning",
    "template_opens_trace",
]

DEFAULT_OPEN_TAG = "<think>"
DEFAULT_CLOSE_TAG = "</think>"
_SECTION_SEPARATOR = "\n\n"
_LEADING_BREAKS = "\r\n"


class Channel(enum.Enum):
    """Which pane a piece of generated text belongs to: the reasoning trace or the answer."""

    TRACE = "trace"
    ANSWER = "answer"


Piece = tuple[Channel, str]


def _check_tags(open_tag: str, close_tag: str) -> None:
    if not isinstance(open_tag, str) or not isinstance(close_tag, str):
        raise TypeError("open_tag and close_tag must be strings")
    if not open_tag or not close_tag:
        raise ValueError("open_tag and close_tag must not be empty")
    # If one tag contained the other, one stretch of text could be read as either tag.
    if open_tag in close_tag or close_tag in open_tag:
        raise ValueError(
            f"open_tag {open_tag!r} and close_tag {close_tag!r} must differ and neither may "
            "contain the other"
        )


class ReasoningSplitter:
    """Feed it the model's output chunk by chunk; it returns what each channel can show now."""

    def __init__(
        self,
        *,
        starts_in_trace: bool = False,
        open_tag: str = DEFAULT_OPEN_TAG,
        close_tag: str = DEFAULT_CLOSE_TAG,
    ) -> None:
        _check_tags(open_tag, close_tag)
        self._open_tag = open_tag
        self._close_tag = close_tag
        self._longest_partial = max(len(open_tag), len(close_tag)) - 1
        self._channel = Channel.TRACE if starts_in_trace else Channel.ANSWER
        # A list per channel: joining once is linear, repeated str += on an attribute is not.
        self._parts: dict[Channel, list[str]] = {Channel.TRACE: [], Channel.ANSWER: []}
        self._joined: dict[Channel, str | None] = {Channel.TRACE: "", Channel.ANSWER: ""}
        self._length: dict[Channel, int] = {Channel.TRACE: 0, Channel.ANSWER: 0}
        self._held = ""  # tail of the input that may still become a tag
        self._section_start = True  # no text emitted yet in the current section
        self._block_seen = starts_in_trace  # a trace block was opened (by the prompt or a tag)
        self._trace_closed = False
        self._answer_relabelled = False
        self._finished = False

    # -- public state -----------------------------------------------------------------

    @property
    def trace(self) -> str:
        return self._text_of(Channel.TRACE)

    @property
    def answer(self) -> str:
        return self._text_of(Channel.ANSWER)

    @property
    def trace_closed(self) -> bool:
        """True once a close tag ended the latest trace block (False again if another opens)."""
        return self._trace_closed

    @property
    def answer_relabelled(self) -> bool:
        """True when answer text returned by an earlier `feed` was moved to the trace.

        Happens at most once per stream, for a stray close tag (see the module notes). A view
        that appends pieces should then replace its answer text with `answer`; the moved
        text arrives as one TRACE piece.
        """
        return self._answer_relabelled

    def length(self, channel: Channel) -> int:
        """How many characters the channel holds now, without joining its text (O(1))."""
        return self._length[channel]

    @property
    def channel(self) -> Channel:
        """Where the next text will go: lets a UI show "thinking…" while in the trace."""
        return self._channel

    # -- feeding ------------------------------------------------------------------------

    def feed(self, text: str) -> list[Piece]:
        """Take the next chunk of output; return the pieces that are ready, in order."""
        if not isinstance(text, str):
            raise TypeError(f"feed() takes str, not {type(text).__name__}")
        if self._finished:
            raise RuntimeError("feed() after finish(): use a new ReasoningSplitter per stream")
        out: list[Piece] = []
        answer_returned_before = bool(self._parts[Channel.ANSWER])
        buffer = self._held + text
        pos = 0
        while True:
            index, tag = self._next_tag(buffer, pos)
            if tag is None:
                break
            self._emit(buffer[pos:index], out)
            out = self._on_tag(tag, out, answer_returned_before)
            pos = index + len(tag)
        keep = self._partial_tag_length(buffer, pos)
        self._emit(buffer[pos : len(buffer) - keep], out)
        self._held = buffer[len(buffer) - keep :]
        return out

    def finish(self) -> list[Piece]:
        """End of stream: hand out the text held back as a possible tag start."""
        if self._finished:
            return []
        self._finished = True
        out: list[Piece] = []
        self._emit(self._held, out)
        self._held = ""
        return out

    # -- internals ----------------------------------------------------------------------

    def _text_of(self, channel: Channel) -> str:
        joined = self._joined[channel]
        if joined is None:
            joined = "".join(self._parts[channel])
            self._parts[channel] = [joined] if joined else []
            self._joined[channel] = joined
        return joined

    def _append(self, channel: Channel, text: str, out: list[Piece]) -> None:
        self._parts[channel].append(text)
        self._joined[channel] = None
        self._length[channel] += len(text)
        if out and out[-1][0] is channel:
            out[-1] = (channel, out[-1][1] + text)
        else:
            out.append((channel, text))

    def _next_tag(self, buffer: str, start: int) -> tuple[int, str | None]:
        open_at = buffer.find(self._open_tag, start)
        close_at = buffer.find(self._close_tag, start)
        if open_at < 0 and close_at < 0:
            return -1, None
        if close_at < 0 or (0 <= open_at < close_at):
            return open_at, self._open_tag
        return close_at, self._close_tag

    def _partial_tag_length(self, buffer: str, start: int) -> int:
        """Length of the longest tail of buffer[start:] that is a proper prefix of a tag.

        Any shorter hold-back could split a tag; any longer one would delay text that can
        no longer be part of a tag.
        """
        for length in range(min(self._longest_partial, len(buffer) - start), 0, -1):
            tail = buffer[len(buffer) - length :]
            if self._open_tag.startswith(tail) or self._close_tag.startswith(tail):
                return length
        return 0

    def _emit(self, text: str, out: list[Piece]) -> None:
        if self._section_start:
            text = text.lstrip(_LEADING_BREAKS)
            if not text:
                return
            self._section_start = False
            if self._parts[self._channel]:
                self._append(self._channel, self._separator_for(self._channel), out)
        if text:
            self._append(self._channel, text, out)

    def _separator_for(self, channel: Channel) -> str:
        # Top the existing trailing line breaks up to one blank line, never beyond.
        existing = self._text_of(channel)
        trailing = len(existing) - len(existing.rstrip("\n"))
        return _SECTION_SEPARATOR[min(trailing, len(_SECTION_SEPARATOR)) :]

    def _on_tag(self, tag: str, out: list[Piece], answer_returned_before: bool) -> list[Piece]:
        if tag == self._open_tag:
            self._channel = Channel.TRACE
            self._trace_closed = False
        else:
            if self._channel is Channel.TRACE:
                self._trace_closed = True
            elif not self._block_seen:
                out = self._relabel_answer_as_trace(out, answer_returned_before)
                self._trace_closed = True
            # Otherwise a stray close after a finished block: dropped, the answer goes on.
            self._channel = Channel.ANSWER
        self._block_seen = True
        self._section_start = True
        return out

    def _relabel_answer_as_trace(
        self, out: list[Piece], answer_returned_before: bool
    ) -> list[Piece]:
        # No tag was seen yet, so the trace is empty and every piece in `out` is answer.
        moved = self._text_of(Channel.ANSWER)
        self._parts[Channel.ANSWER] = []
        self._joined[Channel.ANSWER] = ""
        self._length[Channel.ANSWER] = 0
        if not moved:
            return out
        self._parts[Channel.TRACE] = [moved]
        self._joined[Channel.TRACE] = moved
        self._length[Channel.TRACE] = len(moved)
        self._answer_relabelled = answer_returned_before
        return [(Channel.TRACE, moved)]


def split_reasoning(text: str, *, starts_in_trace: bool = False) -> tuple[str, str]:
    """Split a complete output into (trace, answer) by the same rules as the streaming splitter."""
    splitter = ReasoningSplitter(starts_in_trace=starts_in_trace)
    splitter.feed(text)
    splitter.finish()
    return splitter.trace, splitter.answer


def template_opens_trace(
    rendered_prompt: str,
    open_tag: str = DEFAULT_OPEN_TAG,
    close_tag: str = DEFAULT_CLOSE_TAG,
) -> bool:
    """True when the rendered chat prompt ends inside an open think block.

    DeepSeek-R1 distills and Qwen3-*-Thinking-2507 end their generation prompt with
    "<think>\\n", so the model's output holds only the close tag. The decision comes from
    the rendered text, not the model's name: the last open tag must come after the last
    close tag and be followed by nothing but whitespace. An earlier unclosed "<think>"
    (say, inside a system prompt that explains the tags) does not count, and Qwen3's
    enable_thinking=false prompt, which ends with an empty closed block, gives False.
    """
    if not isinstance(rendered_prompt, str):
        raise TypeError(f"rendered_prompt must be str, not {type(rendered_prompt).__name__}")
    _check_tags(open_tag, close_tag)
    last_open = rendered_prompt.rfind(open_tag)
    if last_open < 0 or rendered_prompt.rfind(close_tag) > last_open:
        return False
    return not rendered_prompt[last_open + len(open_tag) :].strip()

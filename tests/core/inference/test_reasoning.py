"""The streaming trace/answer splitter: worked examples, edge cases and chunking properties."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.inference.reasoning import (
    Channel,
    Piece,
    ReasoningSplitter,
    split_reasoning,
    template_opens_trace,
)

OPEN, CLOSE = "<think>", "</think>"


def stream(
    chunks: list[str], *, starts_in_trace: bool = False
) -> tuple[ReasoningSplitter, list[Piece]]:
    splitter = ReasoningSplitter(starts_in_trace=starts_in_trace)
    pieces: list[Piece] = []
    for chunk in chunks:
        pieces.extend(splitter.feed(chunk))
    pieces.extend(splitter.finish())
    return splitter, pieces


def joined(pieces: list[Piece], channel: Channel) -> str:
    return "".join(text for ch, text in pieces if ch is channel)


# -- worked examples ----------------------------------------------------------------------


def test_qwen3_writes_its_own_think_block() -> None:
    output = "<think>\nThe user asks 2+2. That is 4.\n</think>\n\nThe answer is **4**."
    assert split_reasoning(output) == ("The user asks 2+2. That is 4.\n", "The answer is **4**.")


def test_r1_template_opened_the_block_so_only_the_close_tag_appears() -> None:
    output = "Okay, 17 is prime because...\n</think>\n\n17 is prime."
    trace, answer = split_reasoning(output, starts_in_trace=True)
    assert trace == "Okay, 17 is prime because...\n"
    assert answer == "17 is prime."


def test_model_writes_open_tag_although_the_template_opened_one() -> None:
    output = "<think>\nHmm.\n</think>\nDone."
    assert split_reasoning(output, starts_in_trace=True) == ("Hmm.\n", "Done.")


def test_stray_close_tag_without_open_moves_earlier_text_to_trace() -> None:
    # The template opened the block but the caller did not pass starts_in_trace.
    output = "Let me think.\nYes.\n</think>\n\nYes."
    assert split_reasoning(output) == ("Let me think.\nYes.\n", "Yes.")


def test_relabel_across_feeds_is_flagged_and_sent_as_one_trace_piece() -> None:
    splitter = ReasoningSplitter()
    assert splitter.feed("Let me ") == [(Channel.ANSWER, "Let me ")]
    assert splitter.feed("think.</th") == [(Channel.ANSWER, "think.")]
    assert not splitter.answer_relabelled
    assert splitter.feed("ink>\n\n42") == [
        (Channel.TRACE, "Let me think."),
        (Channel.ANSWER, "42"),
    ]
    assert splitter.answer_relabelled
    assert (splitter.trace, splitter.answer) == ("Let me think.", "42")
    assert splitter.trace_closed


def test_relabel_within_one_feed_needs_no_redraw() -> None:
    splitter = ReasoningSplitter()
    assert splitter.feed("reasoning</think>answer") == [
        (Channel.TRACE, "reasoning"),
        (Channel.ANSWER, "answer"),
    ]
    assert not splitter.answer_relabelled


def test_stray_close_after_a_finished_block_is_dropped() -> None:
    output = "<think>t</think>first</think>second"
    assert split_reasoning(output) == ("t", "first\n\nsecond")


def test_model_that_never_thinks_gives_all_answer() -> None:
    output = "\n\nParis is the capital of France.\nIt has 2 < 3 million <b>people</b>."
    assert split_reasoning(output) == ("", output.lstrip("\n"))


def test_qwen3_non_thinking_empty_block() -> None:
    assert split_reasoning("<think>\n\n</think>\n\nHello!") == ("", "Hello!")


def test_trace_cut_off_by_token_limit_stays_trace() -> None:
    splitter, pieces = stream(["<think>\nStep 1: add. Step 2: </th"])
    assert splitter.trace == "Step 1: add. Step 2: </th"
    assert splitter.answer == ""
    assert not splitter.trace_closed
    assert joined(pieces, Channel.TRACE) == splitter.trace


def test_several_blocks_join_with_a_blank_line() -> None:
    output = "<think>a</think>A1<think>\nb\n</think>\nA2\n\n<think>c</think>A3"
    assert split_reasoning(output) == ("a\n\nb\n\nc", "A1\n\nA2\n\nA3")


def test_empty_later_block_adds_no_separator() -> None:
    assert split_reasoning("<think>a</think>A<think>\n</think>") == ("a", "A")


def test_only_leading_line_breaks_are_stripped() -> None:
    # Indentation matters for Markdown code, so spaces are kept.
    assert split_reasoning("<think>\r\n\n  x</think>\n\n    code") == ("  x", "    code")


def test_trace_closed_follows_the_latest_block() -> None:
    splitter = ReasoningSplitter()
    assert not splitter.trace_closed
    splitter.feed("<think>a")
    assert not splitter.trace_closed and splitter.channel is Channel.TRACE
    splitter.feed("</think>b")
    assert splitter.trace_closed and splitter.channel is Channel.ANSWER
    splitter.feed("<think>c")
    assert not splitter.trace_closed


def test_custom_tags() -> None:
    splitter = ReasoningSplitter(open_tag="<|begin_of_thought|>", close_tag="<|end_of_thought|>")
    for char in "<|begin_of_thought|>\nhm<|end_of_thought|>\nok <think>":
        splitter.feed(char)
    splitter.finish()
    assert (splitter.trace, splitter.answer) == ("hm", "ok <think>")


# -- holding back partial tags --------------------------------------------------------------


def test_holds_back_only_a_possible_tag_start() -> None:
    splitter = ReasoningSplitter()
    assert splitter.feed("a <") == [(Channel.ANSWER, "a ")]
    assert splitter.feed("b") == [(Channel.ANSWER, "<b")]
    assert splitter.feed("x </thi") == [(Channel.ANSWER, "x ")]
    assert splitter.feed("nking") == [(Channel.ANSWER, "</thinking")]
    assert splitter.feed("<<") == [(Channel.ANSWER, "<")]
    assert splitter.finish() == [(Channel.ANSWER, "<")]


def test_text_without_tag_characters_is_never_delayed() -> None:
    splitter = ReasoningSplitter(starts_in_trace=True)
    for word in ["First ", "we ", "add", ".", " Then\n"]:
        assert splitter.feed(word) == [(Channel.TRACE, word)]


def test_leading_break_stripping_does_not_delay_text() -> None:
    splitter = ReasoningSplitter()
    assert splitter.feed("<think>\n") == []
    assert splitter.feed("\nA") == [(Channel.TRACE, "A")]


def test_finish_flushes_partial_tag_text_and_is_idempotent() -> None:
    splitter = ReasoningSplitter()
    assert splitter.feed("Result: 2 </think") == [(Channel.ANSWER, "Result: 2 ")]
    assert splitter.finish() == [(Channel.ANSWER, "</think")]
    assert splitter.finish() == []
    assert splitter.answer == "Result: 2 </think"


# -- bad input --------------------------------------------------------------------------------


def test_feed_after_finish_is_a_clear_error() -> None:
    splitter = ReasoningSplitter()
    splitter.finish()
    with pytest.raises(RuntimeError, match="after finish"):
        splitter.feed("x")


def test_feed_rejects_non_text() -> None:
    with pytest.raises(TypeError, match="bytes"):
        ReasoningSplitter().feed(b"<think>")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("open_tag", "close_tag"),
    [("", "</think>"), ("<think>", ""), ("<t>", "<t>"), ("<t>", "<t>/"), ("[[x]]", "[x]")],
)
def test_ambiguous_tags_are_refused(open_tag: str, close_tag: str) -> None:
    with pytest.raises(ValueError, match="must"):
        ReasoningSplitter(open_tag=open_tag, close_tag=close_tag)


# -- template detection -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rendered", "expected"),
    [
        # DeepSeek-R1 distill generation prompt
        ("<｜begin▁of▁sentence｜><｜User｜>2+2?<｜Assistant｜><think>\n", True),
        # Qwen3-4B-Thinking-2507
        ("<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n", True),
        ("<|im_start|>assistant\n<think>", True),
        # Qwen3 hybrid, enable_thinking=false: an empty, closed block
        ("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n", False),
        # Qwen3 hybrid, thinking on: the model writes <think> itself
        ("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", False),
        # SmolLM2: no tags at all
        ("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", False),
        # A system prompt that mentions the tag is not an open block at the end
        (
            "<|im_start|>system\nReason inside <think> first.<|im_end|>\n"
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
            False,
        ),
        # Earlier turn's reasoning closed, new turn opened
        ("<think>old</think>answer<|im_start|>assistant\n<think>\n", True),
        ("", False),
    ],
)
def test_template_opens_trace(rendered: str, expected: bool) -> None:
    assert template_opens_trace(rendered) is expected


def test_template_opens_trace_with_custom_tags() -> None:
    assert template_opens_trace("assistant: [THINK] ", "[THINK]", "[/THINK]")
    assert not template_opens_trace("[THINK][/THINK]", "[THINK]", "[/THINK]")


# -- properties ----------------------------------------------------------------------------

# Pieces chosen to make tags, near-tags and tag fragments collide at every boundary.
_FRAGMENTS = st.sampled_from(
    [OPEN, CLOSE, OPEN, CLOSE, "<", "</", "<th", "<thin", "</think", "</thi", "think>", "nk>",
     ">", "\n", "\n\n", "\r\n", " ", "a", "Hello", "2 < 3", "é", "🤔", "<b>", "<<", "</<"]
)  # fmt: skip
_GRAMMAR_TEXT = st.lists(st.one_of(_FRAGMENTS, st.text(max_size=4)), max_size=25).map("".join)
_TEXTS = st.one_of(_GRAMMAR_TEXT, st.text(max_size=40))


@st.composite
def _chunked(draw: st.DrawFn) -> tuple[str, list[str]]:
    text = draw(_TEXTS)
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=12)))
    bounds = [0, *cuts, len(text)]
    return text, [text[a:b] for a, b in itertools.pairwise(bounds)]


def _longest_tag_prefix_suffix(text: str) -> int:
    return max(
        (k for k in range(1, len(CLOSE)) if k <= len(text) for tag in (OPEN, CLOSE)
         if k < len(tag) and tag.startswith(text[len(text) - k :])),
        default=0,
    )  # fmt: skip


@settings(deadline=None)
@given(_chunked(), st.booleans())
def test_any_chunking_gives_the_one_shot_split(
    case: tuple[str, list[str]], starts_in_trace: bool
) -> None:
    text, chunks = case
    expected = split_reasoning(text, starts_in_trace=starts_in_trace)
    splitter, pieces = stream(chunks, starts_in_trace=starts_in_trace)
    assert (splitter.trace, splitter.answer) == expected
    single, _ = stream([text], starts_in_trace=starts_in_trace)
    assert (single.trace, single.answer) == expected
    assert joined(pieces, Channel.TRACE) == splitter.trace
    if not splitter.answer_relabelled:
        assert joined(pieces, Channel.ANSWER) == splitter.answer


@settings(deadline=None)
@given(_TEXTS, st.booleans())
def test_character_by_character_gives_the_one_shot_split(text: str, starts_in_trace: bool) -> None:
    splitter, _ = stream(list(text), starts_in_trace=starts_in_trace)
    assert (splitter.trace, splitter.answer) == split_reasoning(
        text, starts_in_trace=starts_in_trace
    )


@settings(deadline=None)
@given(_chunked(), st.booleans())
def test_only_a_possible_tag_start_is_held_back(
    case: tuple[str, list[str]], starts_in_trace: bool
) -> None:
    _, chunks = case
    splitter = ReasoningSplitter(starts_in_trace=starts_in_trace)
    seen = ""
    for chunk in chunks:
        splitter.feed(chunk)
        seen += chunk
        shown = seen[: len(seen) - _longest_tag_prefix_suffix(seen)]
        assert (splitter.trace, splitter.answer) == split_reasoning(
            shown, starts_in_trace=starts_in_trace
        )


@settings(deadline=None)
@given(_chunked(), st.booleans())
def test_pieces_are_never_empty_or_split_needlessly_and_tags_never_leak(
    case: tuple[str, list[str]], starts_in_trace: bool
) -> None:
    _, chunks = case
    splitter = ReasoningSplitter(starts_in_trace=starts_in_trace)
    for chunk in [*chunks, None]:
        pieces = splitter.feed(chunk) if chunk is not None else splitter.finish()
        assert all(text for _, text in pieces)
        assert all(a[0] is not b[0] for a, b in itertools.pairwise(pieces))
    for tag in (OPEN, CLOSE):
        assert tag not in splitter.trace
        assert tag not in splitter.answer
    assert not splitter.trace.startswith(("\n", "\r"))
    assert not splitter.answer.startswith(("\n", "\r"))


_PIECES = ["<think>", "</think>", "<th", "ink>", "\n", "a b", "42", "</"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(_PIECES), max_size=12),
    st.booleans(),
)
def test_length_follows_each_channel_after_every_feed(chunks: list[str], in_trace: bool) -> None:
    # Token spans are built from length() after each feed: it must match the text exactly,
    # relabelled answers included, without joining the text.
    splitter = ReasoningSplitter(starts_in_trace=in_trace)
    for chunk in chunks:
        splitter.feed(chunk)
        assert splitter.length(Channel.TRACE) == len(splitter.trace)
        assert splitter.length(Channel.ANSWER) == len(splitter.answer)
    splitter.finish()
    assert splitter.length(Channel.TRACE) == len(splitter.trace)
    assert splitter.length(Channel.ANSWER) == len(splitter.answer)

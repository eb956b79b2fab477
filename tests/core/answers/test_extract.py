"""Final-answer extraction from the answer text of realistic reasoning-model outputs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.answers.extract import ExtractedAnswer, extract_answer, final_answer_span


def found(text: str) -> tuple[str, str]:
    result = extract_answer(text)
    assert result is not None, f"no answer found in {text!r}"
    assert text[result.span[0] : result.span[1]] == result.text
    return result.text, result.rule


# -- rule 1: boxes ---------------------------------------------------------------------------

QWEN3_MATHS = r"""To find the sum, add the two numbers:

$$
17 + 25 = 42
$$

**Final Answer**
$$
\boxed{42}
$$"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (QWEN3_MATHS, "42"),
        (r"So $x = \boxed{\frac{1}{2}}$.", r"\frac{1}{2}"),
        (r"First guess \boxed{3}, but corrected: \boxed{5}", "5"),
        (r"\boxed{7} and then \boxed{8 + (unterminated", "7"),
        (r"The set is \boxed{\{1, 2, 3\}}.", r"\{1, 2, 3\}"),
        (r"\fbox{12}", "12"),
        (r"\boxed {x^{2} + 1}", "x^{2} + 1"),
        (r"\boxed{\text{(B)}}", "B"),
        (r"\boxed{\textbf{Yes}}", "Yes"),
        (r"\boxed{\text{\{x\}}}", r"\{x\}"),
        (r"\boxed{ 3.5 }", "3.5"),
        (r"\boxed{\dfrac{\sqrt{3}}{2}} The answer is 7.", r"\dfrac{\sqrt{3}}{2}"),
        (r"\boxed{a \\ b}", r"a \\ b"),
        ("\\[\n\\boxed{-4}\n\\]", "-4"),
    ],
)
def test_boxed(text: str, expected: str) -> None:
    assert found(text) == (expected, "boxed")


def test_box_outranks_a_later_phrase_and_number() -> None:
    text = r"Thus \boxed{10}. The answer is 10 apples, out of 12."
    assert found(text) == ("10", "boxed")


@pytest.mark.parametrize("text", [r"\boxed{}", r"\boxed{ }", r"\boxed{unclosed", r"\boxed{\}"])
def test_empty_or_unterminated_box_falls_through(text: str) -> None:
    result = extract_answer(text)
    assert result is None or result.rule != "boxed"


# -- rule 2: phrases -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The answer is (B).", "B"),
        ("Comparing all options, the correct answer is (C) 24 hours.", "(C) 24 hours"),
        ("**Answer:** 42", "42"),
        ("**Answer: (D)**", "D"),
        ("**Answer**: Paris", "Paris"),
        ("Answer: B", "B"),
        ("answer: 3/4", "3/4"),
        ("Final answer: 1,024", "1,024"),
        ("Final Answer: $x = 5$", "x = 5"),
        (
            "Final Answer: The final answer is $1.5 \\cdot 10^{3}$. I hope it is correct.",
            "1.5 \\cdot 10^{3}",
        ),
        ("The answer is **42** apples, because 6 * 7 = 42.", "42"),
        ("The final answer is 3.14.", "3.14"),
        ("So the answer is \\(2\\sqrt{2}\\) units", "2\\sqrt{2}"),
        ("THE ANSWER IS: yes", "yes"),
        ("I first thought the answer is 5. Checking again, the answer is 6.", "6"),
        ("### Final Answer\n\nThe capital is Canberra", "The capital is Canberra"),
        ("**Final Answer**\n\n$$\n\\frac{\\pi}{4}\n$$", "\\frac{\\pi}{4}"),
        ("Answer:\n\n**C**", "C"),
        ("The answer is 12 apples! Then 3 more.", "12 apples"),
        ("Answer: 7 (since 3 + 4 = 7)\nThanks for asking 99 times", "7 (since 3 + 4 = 7)"),
        ("Answer:\r\n5\r\n", "5"),
        ("the answer would be $-2$.", "-2"),
    ],
)
def test_phrase(text: str, expected: str) -> None:
    assert found(text) == (expected, "phrase")


def test_verdict_about_an_answer_is_not_an_answer() -> None:
    assert found("x = 4, and the answer is correct.") == ("4", "last_number")
    assert extract_answer("Let me double-check the answer is right.") is None


def test_phrase_inside_fenced_code_is_ignored() -> None:
    text = '```python\nprint("Answer:", total)\n```\nThis prints the total, which is 15.'
    assert found(text) == ("15", "last_number")


# -- rule 3: last number ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("She has 3 apples and buys 4 more, so 7 in total.", "7"),
        ("The population grew to 1,234,567 people.", "1,234,567"),
        ("It costs $1,299.99 after tax.", "1,299.99"),
        ("The temperature fell to -12 degrees.", "-12"),
        ("The temperature fell to −3 degrees.", "−3"),
        ("The probability is 3/4.", "3/4"),
        ("The probability is $\\frac{5}{8}$", "\\frac{5}{8}"),
        ("Avogadro's number is about 6.022e23.", "6.022e23"),
        ("A tiny value like 1.5E-7 appears", "1.5E-7"),
        ("Roughly .5 of them", ".5"),
        ("The difference 10-3 leaves", "3"),
        ("It is 50% more.", "50"),
        ("42", "42"),
        ("Total: 2.", "2"),
        ("Steps:\n1. Add 2 and 3\n2. Double it\n\nWe get 10", "10"),
        ("Count them:\n1. apple\n2. pear\n3.", "3"),
        ("The list is 1,2,3", "3"),
        ("12,3456 grains", "3456"),
    ],
)
def test_last_number(text: str, expected: str) -> None:
    assert found(text) == (expected, "last_number")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "I cannot answer that without more information.",
        "Steps:\n1. Mix the flour\n2. Bake it\n",
        "Use H2O and the v1.2 tool with x2 speed.",
        "```python\nfor i in range(10):\n    print(i * 2)\n```\n",
        r"\boxed{no closing brace",
        "Answer: $$",
        "The answer is **",
    ],
)
def test_nothing_found(text: str) -> None:
    assert extract_answer(text) is None


def test_unterminated_box_leaves_its_number_to_the_last_number_rule() -> None:
    assert found(r"\boxed{unterminated 5") == ("5", "last_number")


def test_span_points_into_the_input() -> None:
    text = "We compute carefully.\n\n**Answer:** $\\boxed{\\frac{1}{2}}$ of the cake."
    result = extract_answer(text)
    assert result == ExtractedAnswer(text="\\frac{1}{2}", rule="boxed", span=(43, 54))
    assert text[43:54] == "\\frac{1}{2}"


def test_result_is_immutable() -> None:
    result = extract_answer("7")
    assert result is not None
    with pytest.raises(AttributeError):
        result.text = "8"  # type: ignore[misc]


def test_non_text_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="takes str, not int"):
        extract_answer(42)  # type: ignore[arg-type]


# -- properties ------------------------------------------------------------------------------

_FRAGMENTS = st.sampled_from(
    ["\\boxed{", "\\fbox{", "{", "}", "\\{", "\\}", "\\", "$", "$$", "\\(", "\\)", "\\[", "\\]",
     "**", "Answer:", "The answer is", "Final Answer", "\n", "\n\n", " ", ".", "-", ",", "/",
     "1", "42", "3.5", "1,234", "e5", "(B)", "```", "\\text{", "correct", "x", "é", "½", "٣"]
)  # fmt: skip
_TEXTS = st.one_of(
    st.text(max_size=80),
    st.lists(st.one_of(_FRAGMENTS, st.text(max_size=3)), max_size=30).map("".join),
)


@settings(deadline=None, max_examples=300)
@given(_TEXTS)
def test_never_raises_and_span_is_the_answer(text: str) -> None:
    result = extract_answer(text)
    if result is None:
        return
    start, end = result.span
    assert 0 <= start < end <= len(text)
    assert text[start:end] == result.text
    assert result.text == result.text.strip()
    assert result.rule in {"boxed", "phrase", "last_number"}


@settings(deadline=None)
@given(st.text(max_size=40), st.integers(-(10**9), 10**9), st.text(max_size=40))
def test_boxed_value_is_found_whatever_surrounds_it(before: str, value: int, after: str) -> None:
    text = f"{before}\\boxed{{{value}}}{after.replace(chr(92), '')}"
    result = extract_answer(text)
    assert result is not None
    assert result.rule == "boxed"
    assert result.text == str(value)


@pytest.mark.timeout(20)
def test_runaway_output_stays_fast() -> None:
    # A model stuck in a loop can emit tens of thousands of unclosed boxes; a scan per box
    # would take minutes on this text.
    text = "\\boxed{" * 20_000 + "\n" + "1. step\n" * 20_000 + "$$\n" * 20_000
    assert extract_answer(text) is None


def test_final_answer_span_of_a_stored_answer() -> None:
    # What the answer pane (single run or consensus sample) highlights.
    assert final_answer_span("The answer is **42**.", "42") == (16, 18)
    assert final_answer_span("no number here", None) is None
    legacy = "we got seven (7) apples"  # "seven": another extractor's pick
    assert final_answer_span(legacy, "seven") == (7, 12)

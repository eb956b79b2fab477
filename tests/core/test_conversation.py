"""The core Conversation both window sessions share: records, turns, listeners."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.conversation import (
    Conversation,
    ConversationError,
    ConversationEvent,
    RunBegun,
    RunEnded,
)
from app.core.history.database import HistoryError
from app.core.history.records import RunStatus
from app.core.history.store import HistoryStore
from app.core.inference.cpu_probe import NO_REPACK, ProbeVerdict
from app.core.inference.requests import ModelDescription
from app.core.inference.sampling import RuntimeParams, SamplingParams
from app.core.models.gguf import read_gguf_info
from tests.core.history.test_store import sample


@pytest.fixture
def conversation(tmp_path: Path, test_model_path: Path) -> Conversation:
    talk = Conversation(HistoryStore(tmp_path / "history.sqlite3"))
    plain = SamplingParams(seed=5)
    talk.model = ModelDescription(
        path=test_model_path, info=read_gguf_info(test_model_path), supports_thinking=False,
        n_ctx=2048, runtime=RuntimeParams(n_threads=2), defaults_thinking=plain,
        defaults_plain=plain, llama_config=ProbeVerdict(NO_REPACK, "cache", "a reason"),
    )  # fmt: skip
    return talk


def finished(talk: Conversation, question: str, answer: str, status: str = RunStatus.DONE) -> None:
    record = talk.new_record(question, SamplingParams(seed=1), thinking=False)
    talk.begin(record)
    record.status = status
    record.samples = [sample(0, answer)]
    talk.end(record)


def test_every_listener_hears_each_run_begun_and_ended(conversation: Conversation) -> None:
    heard: list[ConversationEvent] = []
    conversation.listen(heard.append)
    finished(conversation, "What is 2+2?", "4")
    assert [type(e) for e in heard] == [RunBegun, RunEnded]
    assert heard[0].record is heard[1].record and heard[1].history_error is None
    record = heard[1].record
    assert record.id is not None and record.params["llama_config"]["name"] == "no-repack"
    assert record.params["threads"] == 2 and record.params["thinking"] is None


def test_follow_ups_carry_done_turns_without_reasoning(conversation: Conversation) -> None:
    finished(conversation, "What is 2+2?", "4")
    finished(conversation, "And 3+3?", "6", status=RunStatus.CANCELLED)  # not a turn to build on
    messages = conversation.messages_for("Times 10?")
    assert messages == [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "Times 10?"},
    ]


def test_busy_while_a_run_is_pending_or_recorded(conversation: Conversation) -> None:
    record = conversation.new_record("Q?", SamplingParams(), thinking=False)
    conversation.pending = record
    with pytest.raises(ConversationError, match="Wait for the current answer"):
        conversation.new_record("Another?", SamplingParams(), thinking=False)
    with pytest.raises(ConversationError, match="Stop the current answer"):
        conversation.reset()
    conversation.pending = None
    conversation.begin(record)
    assert conversation.busy and conversation.current is record


def test_refuses_without_a_question_or_a_model(conversation: Conversation) -> None:
    with pytest.raises(ConversationError, match="Type a question first"):
        conversation.new_record("   ", SamplingParams(), thinking=False)
    conversation.loading = True
    with pytest.raises(ConversationError, match="still loading"):
        conversation.new_record("Q?", SamplingParams(), thinking=False)
    conversation.loading, conversation.model = False, None
    with pytest.raises(ConversationError, match="No model is loaded"):
        conversation.new_record("Q?", SamplingParams(), thinking=False)


def test_a_failed_history_write_is_told_and_the_run_goes_on(
    conversation: Conversation, monkeypatch: pytest.MonkeyPatch
) -> None:
    heard: list[ConversationEvent] = []
    conversation.listen(heard.append)

    def full_disk(*_args: object) -> None:
        raise HistoryError(Path("history.sqlite3"), "the disk is full")

    monkeypatch.setattr(conversation.store, "begin_run", full_disk)
    record = conversation.new_record("Q?", SamplingParams(), thinking=False)
    conversation.begin(record)
    assert heard[0].history_error == "History database history.sqlite3: the disk is full"
    assert conversation.current is record


def test_reopening_a_run_continues_its_conversation(conversation: Conversation) -> None:
    finished(conversation, "What is 2+2?", "4")
    first_id = conversation.id
    conversation.reset()
    assert conversation.turns == [] and conversation.id is None
    opened = conversation.reopen(conversation.store.conversation(first_id or -1)[0].id or -1)
    assert opened.question == "What is 2+2?"
    assert [t.question for t in conversation.turns] == ["What is 2+2?"]
    assert conversation.id == first_id


def test_asking_a_turn_again_follows_only_the_turns_before_it(
    conversation: Conversation,
) -> None:
    finished(conversation, "What is 2+2?", "4")
    finished(conversation, "And 3+3?", "6")
    first, second = conversation.turns
    assert first.params["follows"] is None and second.params["follows"] == first.id
    conversation.rewind(1)  # ask the second turn again, edited
    assert conversation.messages_for("And 4+4?") == [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And 4+4?"},
    ]
    finished(conversation, "And 4+4?", "8")
    edited = conversation.turns[-1]
    assert edited.params["follows"] == first.id
    assert [t.question for t in conversation.turns] == ["What is 2+2?", "And 4+4?"]
    with pytest.raises(ConversationError, match="no turn 4"):
        conversation.rewind(3)


def test_reopening_a_branch_shows_the_turns_that_led_to_it(conversation: Conversation) -> None:
    finished(conversation, "What is 2+2?", "4")
    finished(conversation, "And 3+3?", "6")
    old_branch = conversation.turns[-1]
    conversation.rewind(1)
    finished(conversation, "And 4+4?", "8")
    new_branch = conversation.turns[-1]
    # Both branches stay in the history, in one conversation.
    assert old_branch.conversation_id == new_branch.conversation_id
    conversation.reopen(old_branch.id or -1)
    assert [t.question for t in conversation.turns] == ["What is 2+2?", "And 3+3?"]
    conversation.reopen(new_branch.id or -1)
    assert [t.question for t in conversation.turns] == ["What is 2+2?", "And 4+4?"]
    # A deleted turn ends the chain; what is left still reopens.
    conversation.store.delete_run(conversation.turns[0].id or -1)
    conversation.reopen(new_branch.id or -1)
    assert [t.question for t in conversation.turns] == ["And 4+4?"]

"""The context overflow policy for chat: what is left out, cut, or refused."""

import math

import pytest

from app.core.chat.budget import TRIM_MARKER, BudgetResult, context_usage, fit_conversation
from app.core.generation.contracts import ChatMessage

SYSTEM = ChatMessage("system", "You help.")


class FakeCounter:
    """Counts a prompt as 2 tokens per message plus one per word, and counts calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, messages):
        self.calls += 1
        return sum(2 + len(m.content.split()) for m in messages)


def words(n, tag="w"):
    return " ".join(f"{tag}{i}" for i in range(n))


def conversation(turns, words_per_message=8, question="what now"):
    messages = [SYSTEM]
    for i in range(turns):
        messages.append(ChatMessage("user", words(words_per_message, f"u{i}_")))
        messages.append(ChatMessage("assistant", words(words_per_message, f"a{i}_")))
    messages.append(ChatMessage("user", question))
    return messages


def test_everything_kept_when_it_fits():
    messages = conversation(3)
    count = FakeCounter()
    result = fit_conversation(messages, count, n_ctx=1000, reserve=100)
    assert result == BudgetResult(tuple(messages), 0, False, count(messages), True, None)
    assert count.calls == 2  # one inside, one above


def test_the_reserve_counts_against_the_context():
    messages = conversation(3)
    size = FakeCounter()(messages)
    assert fit_conversation(messages, FakeCounter(), n_ctx=size + 10, reserve=10).dropped == 0
    assert fit_conversation(messages, FakeCounter(), n_ctx=size + 10, reserve=11).dropped == 1


def test_oldest_pairs_are_dropped_first_and_the_system_message_is_kept():
    messages = conversation(5)  # each pair is 2 * (2 + 8) = 20 tokens
    size = FakeCounter()(messages)
    result = fit_conversation(messages, FakeCounter(), n_ctx=size - 30 + 50, reserve=50)
    assert result.fits and result.dropped == 2 and not result.trimmed
    assert result.messages[0] == SYSTEM
    assert result.messages[1:] == tuple(messages[5:])  # pairs 0 and 1 are gone
    assert result.messages[-1] == messages[-1]
    assert result.prompt_tokens == size - 40 == FakeCounter()(result.messages)


def test_the_fewest_turns_are_dropped():
    messages = conversation(10)
    size = FakeCounter()(messages)
    for over in (1, 19, 20, 21, 99, 100):
        result = fit_conversation(messages, FakeCounter(), n_ctx=size - over, reserve=0)
        assert result.dropped == math.ceil(over / 20)
        assert result.prompt_tokens <= size - over


def test_turns_with_several_answers_are_dropped_as_one():
    messages = [
        SYSTEM,
        ChatMessage("assistant", "hello there"),
        ChatMessage("user", "one"),
        ChatMessage("assistant", "a"),
        ChatMessage("assistant", "b"),
        ChatMessage("user", "two"),
        ChatMessage("assistant", "c"),
        ChatMessage("user", "last"),
    ]
    size = FakeCounter()(messages)
    result = fit_conversation(messages, FakeCounter(), n_ctx=size - 5, reserve=0)
    assert result.dropped == 2
    assert [m.content for m in result.messages] == ["You help.", "two", "c", "last"]


def test_a_conversation_without_a_system_message():
    messages = conversation(4)[1:]
    size = FakeCounter()(messages)
    result = fit_conversation(messages, FakeCounter(), n_ctx=size - 1, reserve=0)
    assert result.dropped == 1 and result.messages == tuple(messages[2:])


@pytest.mark.parametrize(
    "dropped, text",
    [
        (1, "1 earlier turn was left out to fit the 4,096-token context"),
        (3, "3 earlier turns were left out to fit the 4,096-token context"),
    ],
)
def test_the_notice_counts_the_dropped_turns(dropped, text):
    messages = conversation(5)
    size = FakeCounter()(messages)
    result = fit_conversation(messages, FakeCounter(), n_ctx=4096, reserve=4096 - size + 20 * dropped)
    assert result.dropped == dropped
    assert result.notice == text


def test_stop_policy_never_drops_and_fails_with_a_notice():
    messages = conversation(5)
    size = FakeCounter()(messages)
    result = fit_conversation(messages, FakeCounter(), n_ctx=2048, reserve=2048 - size + 1, policy="stop")
    assert not result.fits
    assert result.messages == tuple(messages) and result.dropped == 0 and not result.trimmed
    assert result.prompt_tokens == size
    assert result.notice == (
        "This conversation no longer fits the 2,048-token context; start a new chat or raise the context length"
    )
    fitting = fit_conversation(messages, FakeCounter(), n_ctx=2048, reserve=2048 - size, policy="stop")
    assert fitting.fits and fitting.notice is None


def test_the_last_user_message_is_cut_from_its_start_on_a_line_boundary():
    lines = [f"line {i} of pasted code" for i in range(40)] + ["why does this fail?"]
    question = "\n".join(lines)
    messages = conversation(3, question=question)
    count = FakeCounter()
    result = fit_conversation(messages, count, n_ctx=100, reserve=20)
    assert result.fits and result.trimmed and result.dropped == 3
    assert len(result.messages) == 2 and result.messages[0] == SYSTEM
    text = result.messages[1].content
    assert text.startswith(TRIM_MARKER)
    kept = text[len(TRIM_MARKER) :]
    assert question.endswith(kept) and kept.endswith("why does this fail?")
    assert question[len(question) - len(kept) - 1] == "\n"  # whole lines only
    assert result.prompt_tokens == FakeCounter()(result.messages) <= 80
    # The longest end that fits: one more line would not.
    longer = question[question.rindex("\n", 0, len(question) - len(kept) - 1) + 1 :]
    assert FakeCounter()([SYSTEM, ChatMessage("user", TRIM_MARKER + longer)]) > 80
    assert result.notice == (
        "3 earlier turns were left out and the start of your message was cut to fit the 100-token context"
    )


def test_a_single_huge_line_keeps_its_end():
    question = words(500) + " END"
    messages = [SYSTEM, ChatMessage("user", question)]
    result = fit_conversation(messages, FakeCounter(), n_ctx=60, reserve=10)
    assert result.fits and result.trimmed and result.dropped == 0
    kept = result.messages[1].content[len(TRIM_MARKER) :]
    assert kept and question.endswith(kept) and kept.endswith(" END")
    assert result.notice == "The start of your message was cut to fit the 60-token context"


def test_a_system_prompt_that_alone_overflows_fails():
    system = ChatMessage("system", words(100))
    messages = [system, ChatMessage("user", "hi"), ChatMessage("assistant", "hello"), ChatMessage("user", "q")]
    result = fit_conversation(messages, FakeCounter(), n_ctx=80, reserve=10)
    assert not result.fits and result.messages == tuple(messages) and result.dropped == 0
    assert "system prompt" in result.notice and "80-token context" in result.notice


def test_nothing_fits_without_a_system_message():
    result = fit_conversation([ChatMessage("user", "a b c")], FakeCounter(), n_ctx=10, reserve=10)
    assert not result.fits
    assert result.notice.startswith("This conversation no longer fits the 10-token context")


def test_count_tokens_is_called_a_logarithmic_number_of_times():
    messages = conversation(250)  # 500 turns: 250 user + 250 assistant messages
    size = FakeCounter()(messages)
    for keep_pairs in (0, 1, 3, 100, 247, 249):
        count = FakeCounter()
        result = fit_conversation(messages, count, n_ctx=size - 20 * (250 - keep_pairs), reserve=0)
        assert result.dropped == 250 - keep_pairs
        assert count.calls <= 2 + math.ceil(math.log2(250)) + 1
    # Trimming a 5,000-line message is a binary search as well.
    question = "\n".join(words(5) for _ in range(5000))
    count = FakeCounter()
    result = fit_conversation(conversation(250, question=question), count, n_ctx=500, reserve=0)
    assert result.trimmed
    assert count.calls <= 3 + math.ceil(math.log2(5000 + 30)) + 1


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        fit_conversation(conversation(1), FakeCounter(), 100, 10, policy="truncate")
    with pytest.raises(ValueError):
        fit_conversation(conversation(1), FakeCounter(), 0, 10)
    with pytest.raises(ValueError):
        fit_conversation(conversation(1), FakeCounter(), 100, -1)
    with pytest.raises(ValueError):
        fit_conversation([SYSTEM, ChatMessage("assistant", "hi")], FakeCounter(), 100, 10)


def test_context_usage():
    assert context_usage(0, 4096) == 0.0
    assert context_usage(1024, 4096) == 0.25
    assert context_usage(5000, 4096) == 1.0
    assert context_usage(-3, 4096) == 0.0
    with pytest.raises(ValueError):
        context_usage(10, 0)

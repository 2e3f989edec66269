"""continue_as_new: the new input, and carry-over of unprocessed events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from wayline.core.actions import CompleteWorkflow
from wayline.core.context import WorkflowContext
from wayline.core.events import EventRaised, WorkflowStatus

from ._harness import Scenario, at, completion, fired, output, raised, started


def counter(save_events: bool) -> Any:
    def wf(ctx: WorkflowContext, count: int) -> Any:
        value = yield ctx.wait_for_external_event("add")
        yield ctx.create_timer(timedelta(seconds=1))
        if count + value >= 10:
            return count + value
        ctx.continue_as_new(count + value, save_events=save_events)

    return wf


def test_continue_as_new_completes_the_execution_with_the_new_input() -> None:
    run = Scenario(counter(save_events=False))
    run.start(0, now=at(0))
    run.turn(raised("add", 3), now=at(1))
    result = run.turn(fired(1, at(2)), now=at(2))
    assert result.actions == (
        CompleteWorkflow(id=2, status=WorkflowStatus.CONTINUED_AS_NEW, result="3"),
    )


def test_without_save_events_buffered_events_are_dropped() -> None:
    run = Scenario(counter(save_events=False))
    run.start(0, now=at(0))
    run.turn(raised("add", 3), now=at(1))
    result = run.turn(raised("add", 4), raised("other", "x"), fired(1, at(2)), now=at(2))
    assert completion(result).carryover_events == ()


def test_save_events_carries_over_unprocessed_events() -> None:
    run = Scenario(counter(save_events=True))
    run.start(0, now=at(0))
    run.turn(raised("add", 3), now=at(1))
    result = run.turn(raised("add", 4), raised("Other", "x"), raised("ADD", 5), now=at(1.5))
    assert result.actions == ()
    action = completion(run.turn(fired(1, at(2)), now=at(2)))
    assert action.status == WorkflowStatus.CONTINUED_AS_NEW
    assert action.result == "3"
    # FIFO per name, original names kept; stamped with the turn's clock.
    assert action.carryover_events == (
        EventRaised(timestamp=at(2), name="add", input="4"),
        EventRaised(timestamp=at(2), name="ADD", input="5"),
        EventRaised(timestamp=at(2), name="Other", input='"x"'),
    )


def test_save_events_keeps_events_that_arrive_after_the_continue_in_the_same_turn() -> None:
    run = Scenario(counter(save_events=True))
    run.start(0, now=at(0))
    run.turn(raised("add", 3), now=at(1))
    # The timer fire ends the execution; the event behind it in the same turn was
    # accepted into the inbox and must not be lost with the old history.
    action = completion(run.turn(fired(1, at(2)), raised("add", 4), now=at(2)))
    assert action.carryover_events == (EventRaised(timestamp=at(2), name="add", input="4"),)


def test_next_execution_consumes_the_carried_over_events() -> None:
    first = Scenario(counter(save_events=True))
    first.start(0, now=at(0))
    first.turn(raised("add", 4), raised("add", 6), now=at(1))
    action = completion(first.turn(fired(1, at(2)), now=at(2)))
    assert action.carryover_events == (EventRaised(timestamp=at(2), name="add", input="6"),)

    # The engine starts the next execution with the new input and the carried events.
    second = Scenario(counter(save_events=True))
    result = second.turn(started(raw=action.result), *action.carryover_events, now=at(3))
    assert result.actions[0].id == 1  # sequence numbers restart with the execution
    assert output(second.turn(fired(1, at(4)), now=at(4))) == 10


def test_completion_after_continue_as_new_is_ignored() -> None:
    def wf(ctx: WorkflowContext, count: int) -> Any:
        ctx.continue_as_new(count + 1)
        ctx.continue_as_new(count + 100)  # only the first end counts
        return "ignored"

    action = completion(Scenario(wf).start(1))
    assert action == CompleteWorkflow(id=1, status=WorkflowStatus.CONTINUED_AS_NEW, result="2")


def test_continue_as_new_from_a_plain_function() -> None:
    def wf(ctx: WorkflowContext, value: Any) -> None:
        ctx.continue_as_new({"next": value})

    action = completion(Scenario(wf).start(5))
    assert action.status == WorkflowStatus.CONTINUED_AS_NEW
    assert action.result == '{"next": 5}'

"""Versioning (Dapr 1.17): is_patched, named versions, and STALLED instances."""

from __future__ import annotations

from typing import Any

import pytest

import wayline

from ._support import completed, events_of, wait_for_history, wait_for_status
from .conftest import Runtimes


def _step(ctx: wayline.WorkflowActivityContext, label: str) -> str:
    return label


def _stalled_events(client: wayline.WorkflowClient, iid: str) -> list[Any]:
    return events_of(client, iid, "ExecutionStalled")


def test_is_patched_takes_the_new_path_only_for_instances_that_did_not_replay_past_it(
    runtimes: Runtimes,
) -> None:
    before = runtimes.new()
    before.register_activity(_step, name="step")

    @before.workflow(name="order")
    def order_v1(ctx: wayline.WorkflowContext) -> Any:
        yield ctx.call_activity("step", input="a")
        yield ctx.wait_for_external_event("go")
        return "unpatched"

    with before:
        client = before.client()
        old = client.start_workflow("order", instance_id="old")
        wait_for_history(client, old, "TaskCompleted")

    after = runtimes.new()
    after.register_activity(_step, name="step")
    answers: list[bool] = []

    @after.workflow(name="order")
    def order_v2(ctx: wayline.WorkflowContext) -> Any:
        yield ctx.call_activity("step", input="a")
        patched = ctx.is_patched("extra-step")
        answers.append(patched)
        assert ctx.is_patched("extra-step") is patched  # the answer is fixed for the run
        if patched:
            yield ctx.call_activity("step", input="b")
        yield ctx.wait_for_external_event("go")
        return "patched" if patched else "unpatched"

    with after:
        client = after.client()
        new = client.start_workflow("order", instance_id="new")
        wait_for_history(client, new, "TaskCompleted", 2)
        for iid in (old, new):
            client.raise_event(iid, "go")
        assert completed(client, old).output == "unpatched"
        assert completed(client, new).output == "patched"
        # the patch is recorded on the turns that saw it, and never on the old run
        started = events_of(client, new, "WorkflowStarted")
        assert any(e.patches == ("extra-step",) for e in started)
        assert all(not e.patches for e in events_of(client, old, "WorkflowStarted"))


def _patched_order(runtime: wayline.WorkflowRuntime) -> None:
    runtime.register_activity(_step, name="step")

    @runtime.workflow(name="order")
    def order(ctx: wayline.WorkflowContext) -> Any:
        if ctx.is_patched("p1"):
            yield ctx.call_activity("step", input="patched")
        yield ctx.wait_for_external_event("go")
        return "done"


def test_code_that_drops_a_recorded_patch_stalls_the_instance_until_matching_code_runs(
    runtimes: Runtimes,
) -> None:
    first = runtimes.new()
    _patched_order(first)
    with first:
        client = first.client()
        iid = client.start_workflow("order", instance_id="order-1")
        wait_for_history(client, iid, "TaskCompleted")

    without_patch = runtimes.new()

    @without_patch.workflow(name="order")
    def order(ctx: wayline.WorkflowContext) -> Any:
        yield ctx.wait_for_external_event("go")
        return "done without the patch"

    with without_patch:
        client = without_patch.client()
        client.raise_event(iid, "go")
        state = wait_for_status(client, iid, "STALLED")
        assert state.failure_details is not None
        assert state.failure_details.error_type == "PATCH_MISMATCH"
        [stalled] = _stalled_events(client, iid)
        assert stalled.reason == "PATCH_MISMATCH"
        assert stalled.description == "Patch mismatch. History patches: [p1], current patches: []"
        assert events_of(client, iid, "EventRaised") == []  # the event stays queued
        # resume retries it on the same code: it stalls again, recorded once
        client.resume_workflow(iid)
        wait_for_status(client, iid, "STALLED")
        assert len(_stalled_events(client, iid)) == 1
        assert client.list_workflows(status="STALLED").workflows[0].instance_id == iid

    fixed = runtimes.new()
    _patched_order(fixed)
    with fixed:  # code with the patch again: it continues by itself
        client = fixed.client()
        assert completed(client, iid).output == "done"


def test_named_versions_new_instances_run_the_latest_old_ones_keep_theirs(
    runtimes: Runtimes,
) -> None:
    def v1(ctx: wayline.WorkflowContext) -> Any:
        yield ctx.wait_for_external_event("go")
        return "v1"

    def v2(ctx: wayline.WorkflowContext) -> Any:
        yield ctx.wait_for_external_event("go")
        return "v2"

    first = runtimes.new()
    first.register_versioned_workflow(v1, name="shipping", is_latest=True)
    with first:
        client = first.client()
        old = client.start_workflow("shipping", instance_id="old")
        wait_for_history(client, old, "ExecutionStarted")
        version = events_of(client, old, "WorkflowStarted")[0].version_name
        assert version == "v1"

    only_v2 = runtimes.new()
    only_v2.versioned_workflow(v2, name="shipping", version_name="v2", is_latest=True)
    with only_v2:
        client = only_v2.client()
        client.raise_event(old, "go")
        state = wait_for_status(client, old, "STALLED")
        assert state.failure_details is not None
        assert state.failure_details.error_type == "VERSION_NOT_AVAILABLE"
        new = client.start_workflow("shipping", instance_id="new")
        client.raise_event(new, "go")
        assert completed(client, new).output == "v2"

    both = runtimes.new()
    both.register_versioned_workflow(v1, name="shipping", is_latest=False)
    both.register_versioned_workflow(v2, name="shipping", version_name="v2", is_latest=True)
    with both:
        client = both.client()
        assert completed(client, old).output == "v1"


def test_a_stalled_instance_can_be_terminated_and_purged(runtimes: Runtimes) -> None:
    first = runtimes.new()
    _patched_order(first)
    with first:
        client = first.client()
        iid = client.start_workflow("order")
        wait_for_history(client, iid, "TaskCompleted")

    without_patch = runtimes.new()

    @without_patch.workflow(name="order")
    def order(ctx: wayline.WorkflowContext) -> Any:
        yield ctx.wait_for_external_event("go")

    with without_patch:
        client = without_patch.client()
        client.raise_event(iid, "go")
        wait_for_status(client, iid, "STALLED")
        client.pause_workflow(iid)  # changes nothing: it makes no progress anyway
        assert client.get_workflow(iid).runtime_status == "STALLED"
        client.terminate_workflow(iid, output="given up")
        state = client.wait_for_workflow_completion(iid, timeout=10)
        assert (state.runtime_status, state.output) == ("TERMINATED", "given up")
        assert client.purge_workflow(iid) == 1


def test_versions_of_one_name_are_registered_once_each(runtimes: Runtimes) -> None:
    runtime = runtimes.new()

    def v1(ctx: wayline.WorkflowContext) -> None:
        return None

    runtime.register_versioned_workflow(v1, name="w", is_latest=True)
    with pytest.raises(ValueError, match="already registered"):
        runtime.register_versioned_workflow(v1, name="w", is_latest=True)
    with pytest.raises(ValueError, match="with versions"):
        runtime.register_workflow(lambda ctx: None, name="w")

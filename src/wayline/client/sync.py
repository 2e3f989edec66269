"""``WorkflowClient``: start, inspect, signal and clean up workflow instances.

Works from any process that can open the store; when created by a running
``WorkflowRuntime`` (or made without a store while one runs) it also wakes that
runtime's engine at once.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from wayline.client.arguments import dapr_timeout, instance_query, sort_order, utc
from wayline.client.running import the_running_runtime
from wayline.client.state import BULK_OPERATIONS, BulkResult, WorkflowPage, WorkflowState
from wayline.core import serde, typed
from wayline.core.events import (
    EventRaised,
    ExecutionResumed,
    ExecutionSuspended,
    ExecutionTerminated,
    HistoryEvent,
    TraceContext,
    WorkflowStatus,
)
from wayline.core.ids import (
    DEFAULT_APP_ID,
    given_or_new_instance_id,
    new_execution_id,
    require_instance_id,
    validate_app_id,
    validate_instance_id,
)
from wayline.core.registry import name_of
from wayline.engine.clock import Clock, SystemClock
from wayline.engine.feed import CommitFeed
from wayline.engine.logs import about
from wayline.engine.observer import (
    ADD_EVENT,
    CREATE_WORKFLOW,
    GET_WORKFLOW,
    PURGE_WORKFLOW,
    Observer,
    guarded,
)
from wayline.engine.rerun import RerunRequest, plan_rerun
from wayline.errors import (
    EventNameMissingError,
    InstanceNotFoundError,
    InvalidArgumentError,
    InvalidStateError,
    PayloadTooLargeError,
    StoreError,
    WaylineError,
    WorkflowNameMissingError,
)
from wayline.store import Store, open_store
from wayline.store.commands import StartRerun
from wayline.store.types import AppendResult, InstanceQuery, InstanceRecord, NewInstance

# The package's name, not this module's: log configurations and tests select it.
log = logging.getLogger("wayline.client")

DEFAULT_MAX_PAYLOAD_BYTES = serde.MAX_PAYLOAD_BYTES


class WorkflowClient:
    """Manage workflow instances stored in ``store`` (a URL, a path or a ``Store``).

    Args:
        store: where instances live. Without one, the store of the workflow runtime
            running in this process (as ``DaprWorkflowClient()`` reaches its
            sidecar), else ``sqlite:///wayline.db``.
        clock: time source (tests inject a ``ManualClock``).
        max_payload_bytes: largest accepted serialized input, event or output.
        app_id: the app whose nodes run the workflows it starts (multi-app
            workflows); by default the running runtime's, else ``"wayline"``.
    """

    def __init__(
        self,
        store: str | Path | Store | None = None,
        *,
        clock: Clock | None = None,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        host: str | None = None,
        port: str | int | None = None,
        logger_options: Any = None,
        app_id: str | None = None,
        _on_change: Callable[[], None] | None = None,
        _feed: CommitFeed | None = None,
        _observer: Observer | None = None,
    ) -> None:
        del host, port, logger_options  # DaprWorkflowClient's sidecar address: no sidecar here
        running = the_running_runtime(app_id) if store is None else None
        if running is not None:
            store, clock, app_id = running.store, clock or running.clock, running.app_id
            _on_change, _feed = _on_change or running.on_change, _feed or running.feed
            _observer = _observer or running.observer
        self._app_id = validate_app_id(DEFAULT_APP_ID if app_id is None else app_id)
        self._owns_store = not (store is not None and not isinstance(store, str | Path))
        self._store = open_store(store)
        self._clock = clock or SystemClock()
        self._max_payload_bytes = max_payload_bytes
        self._on_change = _on_change
        self._feed = _feed
        self._observer = guarded(_observer) if _observer is not None else None

    @property
    def store(self) -> Store:
        return self._store

    def close(self) -> None:
        """Close the store if this client opened it."""
        if self._owns_store:
            self._store.close()

    def __enter__(self) -> WorkflowClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- helpers ------------------------------------------------------------------------

    def _encode(self, value: Any, what: str) -> str | None:
        encoded = serde.dumps(value)
        if encoded is not None:
            size = len(encoded.encode())
            if size > self._max_payload_bytes:
                raise PayloadTooLargeError(
                    f"the {what} is {size} bytes serialized, over the {self._max_payload_bytes}"
                    "-byte limit; pass a reference (a key or URL) to the data instead"
                )
        return encoded

    def _observed(self, operation: str, instance_id: str | None) -> AbstractContextManager[None]:
        """Reports ``operation`` (timed, and whether it raised) to the observer, if any."""
        if self._observer is None:
            return contextlib.nullcontext()
        return _observing(self._observer, operation, instance_id)

    def check_store(self) -> None:
        """Raise ``StoreUnavailableError`` unless the store can be written right now
        (a write that changes nothing is committed): what readiness reports."""
        self._store.check_writable()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()

    def _record(self, instance_id: str) -> InstanceRecord:
        record = self._store.get_instance(require_instance_id(instance_id))
        if record is None:
            raise InstanceNotFoundError(instance_id)
        return record

    def _append(self, instance_id: str, event: HistoryEvent) -> AppendResult:
        with self._observed(ADD_EVENT, instance_id):
            result = self._store.append_message(
                require_instance_id(instance_id), event, now=self._clock.now()
            )
            if result == AppendResult.NOT_FOUND:
                raise InstanceNotFoundError(instance_id)
        if result == AppendResult.APPENDED:
            self._changed()
        return result

    # ----- the seven Dapr verbs -------------------------------------------------------------

    def start_workflow(
        self,
        workflow: Callable[..., Any] | str,
        *,
        input: Any = None,
        instance_id: str | None = None,
        start_at: datetime | None = None,
        trace_parent: str | None = None,
        trace_state: str | None = None,
    ) -> str:
        """Start a workflow by function or registered name; returns the instance id.

        ``instance_id`` defaults to a random UUID; reusing the id of a finished
        instance replaces it, while an active one raises ``InstanceAlreadyExistsError``.
        ``start_at`` schedules the first step for later (the instance is PENDING until then).
        ``trace_parent`` (and ``trace_state``): the W3C trace context of the request that
        asks for the start; with tracing on, the workflow's spans continue that trace
        (else the current OpenTelemetry span's), and it is ignored otherwise.
        """
        trace = TraceContext(trace_parent, trace_state) if trace_parent else None
        with self._observed(CREATE_WORKFLOW, instance_id):
            return self._start(workflow, input, instance_id, start_at, trace)

    def _start(
        self,
        workflow: Callable[..., Any] | str,
        input: Any,
        instance_id: str | None,
        start_at: datetime | None,
        trace: TraceContext | None = None,
    ) -> str:
        if isinstance(workflow, str) and not workflow:
            raise WorkflowNameMissingError("a workflow name is required to start a workflow")
        name = name_of(workflow)
        iid = given_or_new_instance_id(instance_id)
        encoded = self._encode(input, "workflow input")
        if not isinstance(workflow, str):
            _check_fits(workflow, encoded)
        new = NewInstance(
            instance_id=iid,
            name=name,
            execution_id=new_execution_id(),
            input=encoded,
            start_at=utc(start_at, "start_at"),
            app_id=self._app_id,
        )
        now = self._clock.now()
        if self._observer is not None:
            new = self._observer.instance_starting(new, trace_parent=trace, now=now)
        self._store.create_instance(new, now=now)
        self._changed()
        return iid

    def get_workflow(self, instance_id: str) -> WorkflowState:
        """The instance's current state; raises ``InstanceNotFoundError`` if unknown."""
        with self._observed(GET_WORKFLOW, instance_id):
            return WorkflowState.from_record(self._record(instance_id))

    def terminate_workflow(
        self, instance_id: str, *, output: Any = None, recursive: bool = True
    ) -> None:
        """Stop an instance (and, by default, its child workflows) as TERMINATED.

        Running activities are not interrupted; their results are discarded.
        Terminating a finished instance does nothing.
        """
        event = ExecutionTerminated(
            timestamp=self._clock.now(),
            input=self._encode(output, "terminate output"),
            recurse=recursive,
        )
        self._append(instance_id, event)

    def raise_event(self, instance_id: str, event_name: str, data: Any = None) -> None:
        """Deliver an external event; dropped if the instance has already finished."""
        if not event_name:
            raise EventNameMissingError("an event name is required to raise an event")
        event = EventRaised(
            timestamp=self._clock.now(),
            name=event_name,
            input=self._encode(data, "event data"),
        )
        self._append(instance_id, event)

    def pause_workflow(self, instance_id: str) -> None:
        """Suspend an instance: it makes no progress and holds events until resumed."""
        self._signal(instance_id, ExecutionSuspended(timestamp=self._clock.now()), "pause")

    def resume_workflow(self, instance_id: str) -> None:
        """Resume a paused instance; held events are then processed in order."""
        self._signal(instance_id, ExecutionResumed(timestamp=self._clock.now()), "resume")

    def _signal(self, instance_id: str, event: HistoryEvent, verb: str) -> None:
        if self._append(instance_id, event) == AppendResult.FINISHED:
            status = self._record(instance_id).status.value
            raise InvalidStateError(
                f"cannot {verb} workflow instance '{instance_id}': it is {status}"
            )

    def rerun_workflow_from_event(
        self,
        source_instance_id: str,
        event_id: int,
        *,
        new_instance_id: str | None = None,
        input: Any = None,
        overwrite_input: bool = False,
        new_child_workflow_instance_id: str | None = None,
    ) -> str:
        """Run a finished instance again, as a new instance, from one of its activities
        or child workflows (the ``event_id`` of its TaskScheduled or ChildWorkflowCreated
        history event); returns the new instance's id.

        Steps before it keep their results; it, and work still in flight then, run
        again. ``overwrite_input`` gives the activity ``input`` instead of its old one;
        ``new_child_workflow_instance_id`` names the rerun child workflow. Raises
        ``InvalidRerunError`` (changing nothing) when the request does not fit.
        """
        source = self._record(source_instance_id)
        new_id = given_or_new_instance_id(new_instance_id)
        child_id = (
            validate_instance_id(new_child_workflow_instance_id)
            if new_child_workflow_instance_id
            else None
        )
        request = RerunRequest(
            source_instance_id=source.instance_id,
            event_id=event_id,
            new_instance_id=new_id,
            input=self._encode(input, "rerun input") if overwrite_input else None,
            overwrite_input=overwrite_input,
            new_child_instance_id=child_id,
        )
        history = self._store.get_history(source.instance_id)
        plan = plan_rerun(source, history, request, self._clock.now())
        self._store.execute(StartRerun(plan.instance, plan.commit))
        self._changed()
        return new_id

    def purge_workflow(
        self, instance_id: str, recursive: bool = True, *, force: bool = False
    ) -> int:
        """Delete a finished instance's state and history (and its children's).

        Returns how many instances were removed. Only COMPLETED, FAILED and
        TERMINATED instances can be purged, unless ``force``: then any instance
        is deleted at once, work in flight for it is dropped, and a parent waiting
        for it is not told (terminate it first where that matters). Afterwards the
        id is unknown.
        """
        with self._observed(PURGE_WORKFLOW, instance_id):
            iid = require_instance_id(instance_id)
            # For the log line: the store's purge reports a count, not the name.
            record = self._store.get_instance(iid) if log.isEnabledFor(logging.INFO) else None
            deleted = self._store.purge_instance(iid, recursive=recursive, force=force)
        name = None if record is None else record.name
        log.info(
            "workflow instance %r (%s) purged%s%s",
            iid,
            name or "?",
            f" with {deleted - 1} descendants" if deleted > 1 else "",
            " (forced)" if force else "",
            extra=about(iid, name, count=deleted),
        )
        return deleted

    # ----- waiting --------------------------------------------------------------------------

    def wait_for_workflow_start(
        self,
        instance_id: str,
        *,
        timeout: float | None = None,
        fetch_payloads: bool = False,
        timeout_in_seconds: float | None = None,
    ) -> WorkflowState:
        """Block until the instance has left PENDING; ``TimeoutError`` after ``timeout`` s.

        ``timeout_in_seconds`` (0 = no limit) and ``fetch_payloads`` are the
        ``DaprWorkflowClient`` spellings, accepted so ported code runs as is.
        """
        del fetch_payloads  # payloads are always included
        limit = dapr_timeout(timeout, timeout_in_seconds)
        return self._wait(instance_id, lambda s: s != WorkflowStatus.PENDING, limit)

    def wait_for_workflow_completion(
        self,
        instance_id: str,
        *,
        timeout: float | None = None,
        fetch_payloads: bool = True,
        timeout_in_seconds: float | None = None,
    ) -> WorkflowState:
        """Block until COMPLETED, FAILED or TERMINATED; ``TimeoutError`` after ``timeout`` s.

        ``timeout_in_seconds`` (0 = no limit) and ``fetch_payloads`` are the
        ``DaprWorkflowClient`` spellings, accepted so ported code runs as is.
        """
        del fetch_payloads
        limit = dapr_timeout(timeout, timeout_in_seconds)
        return self._wait(instance_id, lambda s: s.is_terminal, limit)

    def _wait(
        self,
        instance_id: str,
        done: Callable[[WorkflowStatus], bool],
        timeout: float | None,
    ) -> WorkflowState:
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.01
        # Commits of this process's engine wake us at once; another process's commits
        # are found by re-reading, at most every 0.25 s.
        watching = self._feed.watch(instance_id) if self._feed else contextlib.nullcontext()
        with watching as watch:
            while True:
                # Not get_workflow: a wait's polls are not get_workflow operations.
                state = WorkflowState.from_record(self._record(instance_id))
                if done(state.runtime_status):
                    return state
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(
                        f"workflow instance '{instance_id}' is still "
                        f"{state.runtime_status.value} after {timeout} s"
                    )
                step = pause if remaining is None else min(pause, remaining)
                if watch is not None:
                    watch.wait(done, step)
                else:
                    time.sleep(step)
                pause = min(pause * 2, 0.25)

    # ----- beyond Dapr: list and history ------------------------------------------------------

    def list_workflows(
        self,
        *,
        status: str | WorkflowStatus | Collection[str | WorkflowStatus] | None = None,
        name: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        completed_after: datetime | None = None,
        completed_before: datetime | None = None,
        parent_instance_id: str | None = None,
        instance_id_prefix: str | None = None,
        page_size: int = 100,
        continuation_token: str | None = None,
        sort: str = "created",
        descending: bool = True,
    ) -> WorkflowPage:
        """One page of instances, filtered by any of the arguments.

        Newest first by default; ``sort`` orders by ``created``, ``updated`` (last
        updated), ``id``, ``name``, ``status`` or ``duration`` instead, ``descending``
        or not. Paging is by keyset: a page deep in the list costs what the first does.
        """
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        query = instance_query(
            status,
            name,
            created_after,
            created_before,
            completed_after,
            completed_before,
            parent_instance_id,
            instance_id_prefix,
        )
        return self._page(query, page_size, continuation_token, sort, descending)

    def iter_workflows(
        self,
        *,
        status: str | WorkflowStatus | Collection[str | WorkflowStatus] | None = None,
        name: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        completed_after: datetime | None = None,
        completed_before: datetime | None = None,
        parent_instance_id: str | None = None,
        instance_id_prefix: str | None = None,
        page_size: int = 100,
        sort: str = "created",
        descending: bool = True,
    ) -> Iterator[WorkflowState]:
        """Every instance matching the filters of :meth:`list_workflows`, across all pages."""
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        query = instance_query(
            status,
            name,
            created_after,
            created_before,
            completed_after,
            completed_before,
            parent_instance_id,
            instance_id_prefix,
        )
        yield from self._all(query, page_size, sort, descending)

    def _page(
        self,
        query: InstanceQuery,
        page_size: int,
        continuation_token: str | None,
        sort: str,
        descending: bool,
    ) -> WorkflowPage:
        paged = replace(
            query,
            page_size=page_size,
            continuation_token=continuation_token,
            sort=sort_order(sort),
            descending=descending,
        )
        page = self._store.list_instances(paged)
        return WorkflowPage(
            workflows=[WorkflowState.from_record(r) for r in page.instances],
            continuation_token=page.continuation_token,
        )

    def _all(
        self, query: InstanceQuery, page_size: int, sort: str, descending: bool
    ) -> Iterator[WorkflowState]:
        token = None
        while True:
            page = self._page(query, page_size, token, sort, descending)
            yield from page.workflows
            token = page.continuation_token
            if token is None:
                return

    def count_workflows(
        self,
        *,
        status: str | WorkflowStatus | Collection[str | WorkflowStatus] | None = None,
        name: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        completed_after: datetime | None = None,
        completed_before: datetime | None = None,
        parent_instance_id: str | None = None,
        instance_id_prefix: str | None = None,
    ) -> int:
        """How many instances match the filters (those of :meth:`list_workflows`)."""
        return self._store.count_instances(
            instance_query(
                status,
                name,
                created_after,
                created_before,
                completed_after,
                completed_before,
                parent_instance_id,
                instance_id_prefix,
            )
        )

    def count_workflows_by_status(
        self,
        *,
        name: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        completed_after: datetime | None = None,
        completed_before: datetime | None = None,
        parent_instance_id: str | None = None,
        instance_id_prefix: str | None = None,
    ) -> dict[WorkflowStatus, int]:
        """How many instances match the filters for each status, in one query.

        Statuses without instances are absent.
        """
        return self._store.count_by_status(
            instance_query(
                None,
                name,
                created_after,
                created_before,
                completed_after,
                completed_before,
                parent_instance_id,
                instance_id_prefix,
            )
        )

    def workflow_durations(self, name: str, *, limit: int = 1000) -> list[float]:
        """Seconds from creation to completion of the ``limit`` most recently created
        COMPLETED instances of workflow ``name``, newest first (for percentiles)."""
        if limit < 1:
            raise InvalidArgumentError("limit must be at least 1")
        return [us / 1_000_000 for us in self._store.recent_durations(name, limit=limit)]

    def workflow_names(self, *, limit: int = 1000) -> list[str]:
        """Workflow names that have instances or that a live node registers, sorted."""
        return self._store.workflow_names(now=self._clock.now(), limit=limit)

    def bulk(
        self,
        operation: str,
        *,
        instance_ids: Collection[str] | None = None,
        recursive: bool = True,
        force: bool = False,
        progress: Callable[[int], None] | None = None,
        status: str | WorkflowStatus | Collection[str | WorkflowStatus] | None = None,
        name: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        completed_after: datetime | None = None,
        completed_before: datetime | None = None,
        parent_instance_id: str | None = None,
        instance_id_prefix: str | None = None,
    ) -> BulkResult:
        """Apply ``terminate``, ``pause``, ``resume`` or ``purge`` to many instances.

        The instances are those matching the filters (those of :meth:`list_workflows`,
        without paging) or, instead, the given ``instance_ids``. An instance that
        refuses (e.g. purging a running one) is reported in ``failed`` and does not
        stop the rest; one that is gone meanwhile (purged with its parent) is
        skipped. ``recursive`` and ``force`` are those of terminate/purge.
        ``affected`` counts the instances changed, for purge the children removed
        with them too. ``progress`` gets the running count.
        """
        if operation not in BULK_OPERATIONS:
            raise InvalidArgumentError(
                f"unknown bulk operation {operation!r}; use one of {BULK_OPERATIONS}"
            )
        filters = (
            status,
            name,
            created_after,
            created_before,
            completed_after,
            completed_before,
            parent_instance_id,
            instance_id_prefix,
        )
        if instance_ids is not None and any(f is not None for f in filters):
            raise InvalidArgumentError("give instance_ids or filters, not both")
        actions: dict[str, Callable[[str], int | None]] = {
            "terminate": lambda iid: self.terminate_workflow(iid, recursive=recursive),
            "pause": self.pause_workflow,
            "resume": self.resume_workflow,
            "purge": lambda iid: self.purge_workflow(iid, recursive, force=force),
        }
        action = actions[operation]
        affected = 0
        failed: dict[str, str] = {}
        # Collect ids first: purging while paging would shift the pages under us.
        ids = (
            list(instance_ids)
            if instance_ids is not None
            else [
                state.instance_id
                for state in self._all(instance_query(*filters), 500, "created", True)
            ]
        )
        for instance_id in ids:
            try:
                changed = action(instance_id)
            except InstanceNotFoundError:
                continue  # purged meanwhile, e.g. as the child of an earlier match
            except StoreError:
                raise  # not this instance's refusal: the rest would fail the same way
            except WaylineError as exc:
                failed[instance_id] = str(exc)
                continue
            affected += 1 if changed is None else changed
            if progress is not None:
                progress(affected)
        return BulkResult(operation=operation, affected=affected, failed=failed)

    def get_history(self, instance_id: str) -> list[HistoryEvent]:
        """The instance's history events, oldest first, with their payloads."""
        self._record(instance_id)
        return self._store.get_history(instance_id)

    # ----- dapr-ext-workflow's DaprWorkflowClient names --------------------------------------

    def schedule_new_workflow(
        self,
        workflow: Callable[..., Any] | str,
        *,
        input: Any = None,
        instance_id: str | None = None,
        start_at: datetime | None = None,
        reuse_id_policy: Any = None,
    ) -> str:
        """``DaprWorkflowClient.schedule_new_workflow``: same as :meth:`start_workflow`."""
        del reuse_id_policy  # deprecated no-op in Dapr too
        return self.start_workflow(
            workflow, input=input, instance_id=instance_id, start_at=start_at
        )

    def get_workflow_state(
        self, instance_id: str, *, fetch_payloads: bool = True
    ) -> WorkflowState | None:
        """``DaprWorkflowClient.get_workflow_state``: the state, or None if unknown."""
        del fetch_payloads
        record = self._store.get_instance(require_instance_id(instance_id))
        return None if record is None else WorkflowState.from_record(record)

    def raise_workflow_event(self, instance_id: str, event_name: str, *, data: Any = None) -> None:
        """``DaprWorkflowClient.raise_workflow_event``: same as :meth:`raise_event`."""
        self.raise_event(instance_id, event_name, data)


def _check_fits(workflow: Callable[..., Any], encoded: str | None) -> None:
    """Refuse (``PayloadTypeError``) an input the workflow's annotation would refuse at
    its first turn, before anything is created."""
    expected = typed.input_type(workflow)
    if expected is not None:
        typed.convert(serde.loads_lenient(encoded), expected, "workflow input")


@contextlib.contextmanager
def _observing(observer: Observer, operation: str, instance_id: str | None) -> Iterator[None]:
    started = time.perf_counter()
    ok = False
    try:
        yield
        ok = True
    finally:
        observer.operation(operation, instance_id, ok=ok, seconds=time.perf_counter() - started)

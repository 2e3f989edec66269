"""The replay checker: does recorded history still replay on the current code?

Export histories from production (``wayline history ID -o json``, the Wayline API's
``/wayline/v1/instances/{id}/history``, Dapr's ``GetInstanceHistory``), or read
them straight from a store, and replay each against the workflows of the code
under test with the same kernel the engine uses. An instance *diverges* when the
code no longer takes the recorded steps (a renamed or reordered call: the step
and both sides are reported), would take a step the history does not have, would
stall (a patch or version mismatch), or ends differently from the recorded end
(another status, output or error). ``wayline replay`` runs this in CI and exits
non-zero on any divergence.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from wayline.client import WorkflowClient
from wayline.core import serde
from wayline.core.actions import CompleteWorkflow
from wayline.core.codec import event_from_dict
from wayline.core.events import (
    ExecutionCompleted,
    ExecutionStarted,
    ExecutionTerminated,
    HistoryEvent,
    WorkflowStatus,
)
from wayline.core.executor import WorkflowExecutor, describe_step
from wayline.core.registry import Registry, Workflow
from wayline.runtime import WorkflowRuntime
from wayline.store import Store, describe_store, redact_url


@dataclass(frozen=True)
class ReplayResult:
    """One history's verdict. ``ok`` False: ``message`` says why in one line; for a
    divergence ``step`` is where, ``recorded`` what the history has, ``current`` what
    the code does now."""

    instance_id: str
    workflow_name: str
    ok: bool
    message: str = "replays"
    step: int | None = None
    recorded: str | None = None
    current: str | None = None
    #: Where the history came from (a file, a store URL).
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Replayer:
    """Replays histories against ``workflows``: a ``WorkflowRuntime`` (its registered
    workflows), a ``Registry``, a mapping of names to functions, or functions (each
    under its registered name)."""

    def __init__(
        self,
        workflows: WorkflowRuntime
        | Registry
        | Mapping[str, Workflow]
        | Iterable[Callable[..., Any]],
    ) -> None:
        if isinstance(workflows, WorkflowRuntime):
            self._workflows: Mapping[str, Workflow] = workflows.registry.workflows
        elif isinstance(workflows, Registry):
            self._workflows = workflows.workflows
        elif isinstance(workflows, Mapping):
            self._workflows = workflows
        else:
            registry = Registry()
            for fn in workflows:
                registry.add_workflow(fn)
            self._workflows = registry.workflows

    # ----- one history -------------------------------------------------------------------

    def replay(self, history: Sequence[HistoryEvent], *, source: str = "") -> ReplayResult:
        """Replay one instance's history (its current execution) and judge it."""
        started = next((e for e in history if isinstance(e, ExecutionStarted)), None)
        if started is None:
            return ReplayResult(
                "", "", False, "the history has no ExecutionStarted event", source=source
            )
        verdict = _Verdict(started.instance_id, started.name, source)
        workflow = self._workflows.get(started.name)
        if workflow is None:
            return verdict.fails(
                f"workflow {started.name!r} is not registered in the code under test"
            )
        executor = WorkflowExecutor(started.instance_id, workflow)
        result = executor.execute(history, [])
        divergence = executor.nondeterminism
        if divergence is not None:
            return verdict.fails(
                str(divergence),
                step=divergence.step,
                recorded=divergence.recorded,
                current=divergence.current,
            )
        if result.stall is not None:
            return verdict.fails(
                f"the code would stall the instance ({result.stall.reason}): "
                f"{result.stall.description}"
            )
        completion = result.completion
        if completion is None and result.actions:
            first = result.actions[0]
            return verdict.fails(
                f"step #{first.id}: the code now does {describe_step(first)}, which the history "
                "does not have",
                step=first.id,
                recorded="nothing",
                current=describe_step(first),
            )
        return verdict.judge_end(history, completion)

    # ----- many histories ------------------------------------------------------------------

    def replay_json(self, text: str, *, source: str = "") -> ReplayResult:
        """A history as JSON: Wayline's export (``{"events": [{"kind": ...}]}``, as
        ``wayline history -o json`` and the Wayline API give it) or Dapr's
        ``GetInstanceHistory`` response in protobuf's JSON form."""
        return self.replay(parse_history(text), source=source)

    def replay_paths(self, paths: Iterable[str | Path]) -> list[ReplayResult]:
        """Every ``*.json`` history file named, or found in the directories named."""
        results = []
        for file in _json_files(paths):
            try:
                text = file.read_text(encoding="utf-8")
                results.append(self.replay_json(text, source=str(file)))
            except (OSError, UnicodeDecodeError, ValueError) as error:
                results.append(
                    ReplayResult("", "", False, f"cannot read a history: {error}", source=str(file))
                )
        return results

    def replay_store(
        self,
        store: str | Path | Store,
        *,
        name: str | None = None,
        status: str | Sequence[str] | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        limit: int | None = None,
        sample: int | None = None,
        seed: int | None = None,
    ) -> list[ReplayResult]:
        """The instances of a store that match the filters (newest first, at most
        ``limit``), or a random ``sample`` of that many of them (``seed`` repeats it)."""
        source = redact_url(str(store)) if isinstance(store, str | Path) else describe_store(store)
        with WorkflowClient(store) as client:
            matches: Iterator[Any] = client.iter_workflows(
                name=name,
                status=status,
                created_after=created_after,
                created_before=created_before,
                page_size=500,
            )
            if sample is not None:
                chosen = _reservoir(matches, sample, random.Random(seed))
            else:
                chosen = list(matches if limit is None else itertools.islice(matches, limit))
            return [
                self.replay(client.get_history(state.instance_id), source=source)
                for state in chosen
            ]


def parse_history(text: str) -> list[HistoryEvent]:
    """Wayline's JSON export of a history, or Dapr's ``GetInstanceHistory`` JSON."""
    data = json.loads(text)
    events = data.get("events") if isinstance(data, dict) else data
    if not isinstance(events, list):
        raise ValueError('a history is {"events": [...]} or a JSON list of events')
    if all(isinstance(e, dict) and "kind" in e for e in events):
        return [event_from_dict(e) for e in events]
    # Dapr's protobuf JSON: read with the gRPC layer's converter (imported only here).
    from wayline.api.grpc.history_in import history_from_json

    return history_from_json(text)


class _Verdict:
    def __init__(self, instance_id: str, workflow_name: str, source: str) -> None:
        self.instance_id = instance_id
        self.workflow_name = workflow_name
        self.source = source

    def ok(self) -> ReplayResult:
        return ReplayResult(self.instance_id, self.workflow_name, True, source=self.source)

    def fails(self, message: str, **where: Any) -> ReplayResult:
        return ReplayResult(
            self.instance_id, self.workflow_name, False, message, source=self.source, **where
        )

    def judge_end(
        self, history: Sequence[HistoryEvent], completion: CompleteWorkflow | None
    ) -> ReplayResult:
        recorded = next((e for e in reversed(history) if isinstance(e, ExecutionCompleted)), None)
        if recorded is None:
            if completion is None or any(isinstance(e, ExecutionTerminated) for e in history):
                return self.ok()
            return self.fails(
                f"the code now ends the workflow ({_end(completion)}) where the history "
                "goes on waiting",
                recorded="waiting",
                current=_end(completion),
            )
        if completion is None:
            return self.fails(
                f"the history ends the workflow ({_end(recorded)}), but the code now goes "
                "on waiting",
                recorded=_end(recorded),
                current="waiting",
            )
        if _same_end(recorded, completion):
            return self.ok()
        return self.fails(
            f"the workflow now ends {_end(completion)}; the history ended {_end(recorded)}",
            recorded=_end(recorded),
            current=_end(completion),
        )


def _same_end(recorded: ExecutionCompleted, now: CompleteWorkflow) -> bool:
    if recorded.status != now.status:
        return False
    if recorded.status == WorkflowStatus.FAILED:
        a, b = recorded.failure, now.failure
        return (a and (a.error_type, a.message)) == (b and (b.error_type, b.message))
    same: bool = serde.loads_lenient(recorded.result) == serde.loads_lenient(now.result)
    return same


def _end(end: ExecutionCompleted | CompleteWorkflow) -> str:
    if end.status == WorkflowStatus.FAILED and end.failure is not None:
        return f"FAILED with {end.failure.error_type}: {end.failure.message}"
    shown = end.result if end.result is None or len(end.result) <= 80 else end.result[:77] + "..."
    return f"{end.status.value} with output {shown}"


def _json_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    for given in paths:
        path = Path(given)
        if path.is_dir():
            yield from sorted(path.rglob("*.json"))
        else:
            yield path


def _reservoir(items: Iterator[Any], size: int, rng: random.Random) -> list[Any]:
    """A uniform random sample of ``size`` items, in one pass."""
    chosen: list[Any] = []
    for seen, item in enumerate(items):
        if seen < size:
            chosen.append(item)
        else:
            slot = rng.randint(0, seen)
            if slot < size:
                chosen[slot] = item
    return chosen

"""Wayline: durable workflows for Python that speak Dapr Workflow's APIs.

Authoring names follow ``dapr-ext-workflow``, so Dapr workflow code ports by
changing the import::

    import wayline

    runtime = wayline.WorkflowRuntime()          # sqlite:///wayline.db

    @runtime.activity
    def greet(ctx: wayline.WorkflowActivityContext, name: str) -> str:
        return f"Hello, {name}!"

    @runtime.workflow
    def hello(ctx: wayline.WorkflowContext, name: str):
        return (yield ctx.call_activity(greet, input=name))
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from wayline.client import (
        AsyncWorkflowClient,
        BulkResult,
        WorkflowClient,
        WorkflowFailedError,
        WorkflowPage,
        WorkflowState,
    )
    from wayline.core.activity import WorkflowActivityContext
    from wayline.core.asyncloop import NonDeterministicAwaitError
    from wayline.core.context import WorkflowContext
    from wayline.core.events import FailureDetails, HistoryEvent, WorkflowStatus
    from wayline.core.propagation import (
        PropagatedHistory,
        PropagationNotFoundError,
        PropagationScope,
    )
    from wayline.core.retry import RetryPolicy
    from wayline.core.task import (
        NonDeterminismError,
        NonRetryableError,
        Task,
        TaskFailedError,
        when_all,
        when_any,
    )
    from wayline.engine.clock import ManualClock
    from wayline.engine.retention import RetentionPolicy
    from wayline.engine.settings import EngineSettings
    from wayline.replay import Replayer, ReplayResult
    from wayline.runtime import WorkflowRuntime

    # dapr-ext-workflow spells these differently; the aliases let ported code run as is.
    DaprWorkflowContext = WorkflowContext
    DaprWorkflowClient = WorkflowClient

# Where each public name lives. They are imported on first use, not here: the
# ``wayline`` command imports this package, and its client commands must start in
# a blink without loading the engine, the store or the servers.
_LAZY: dict[str, tuple[str, str]] = {
    "AsyncWorkflowClient": ("wayline.client", "AsyncWorkflowClient"),
    "BulkResult": ("wayline.client", "BulkResult"),
    "WorkflowClient": ("wayline.client", "WorkflowClient"),
    "DaprWorkflowClient": ("wayline.client", "WorkflowClient"),
    "WorkflowFailedError": ("wayline.client", "WorkflowFailedError"),
    "WorkflowPage": ("wayline.client", "WorkflowPage"),
    "WorkflowState": ("wayline.client", "WorkflowState"),
    "WorkflowActivityContext": ("wayline.core.activity", "WorkflowActivityContext"),
    "WorkflowContext": ("wayline.core.context", "WorkflowContext"),
    "DaprWorkflowContext": ("wayline.core.context", "WorkflowContext"),
    "FailureDetails": ("wayline.core.events", "FailureDetails"),
    "HistoryEvent": ("wayline.core.events", "HistoryEvent"),
    "WorkflowStatus": ("wayline.core.events", "WorkflowStatus"),
    "PropagatedHistory": ("wayline.core.propagation", "PropagatedHistory"),
    "PropagationNotFoundError": ("wayline.core.propagation", "PropagationNotFoundError"),
    "PropagationScope": ("wayline.core.propagation", "PropagationScope"),
    "RetryPolicy": ("wayline.core.retry", "RetryPolicy"),
    "NonDeterminismError": ("wayline.core.task", "NonDeterminismError"),
    "NonDeterministicAwaitError": ("wayline.core.asyncloop", "NonDeterministicAwaitError"),
    "NonRetryableError": ("wayline.core.task", "NonRetryableError"),
    "Task": ("wayline.core.task", "Task"),
    "TaskFailedError": ("wayline.core.task", "TaskFailedError"),
    "when_all": ("wayline.core.task", "when_all"),
    "when_any": ("wayline.core.task", "when_any"),
    "ManualClock": ("wayline.engine.clock", "ManualClock"),
    "RetentionPolicy": ("wayline.engine.retention", "RetentionPolicy"),
    "EngineSettings": ("wayline.engine.settings", "EngineSettings"),
    "WorkflowRuntime": ("wayline.runtime", "WorkflowRuntime"),
    "Replayer": ("wayline.replay", "Replayer"),
    "ReplayResult": ("wayline.replay", "ReplayResult"),
}


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'wayline' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # the next lookup is an ordinary one
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


F = TypeVar("F", bound=Callable[..., Any])


def alternate_name(name: str) -> Callable[[F], F]:
    """Decorator giving a workflow or activity a registered name (``dapr-ext-workflow``)."""
    from wayline.core.registry import NAME_ATTRIBUTE

    def wrapper(fn: F) -> F:
        setattr(fn, NAME_ATTRIBUTE, name)
        return fn

    return wrapper


__version__ = "0.1.0"

__all__ = [
    "AsyncWorkflowClient",
    "BulkResult",
    "DaprWorkflowClient",
    "DaprWorkflowContext",
    "EngineSettings",
    "FailureDetails",
    "HistoryEvent",
    "ManualClock",
    "NonDeterminismError",
    "NonDeterministicAwaitError",
    "NonRetryableError",
    "PropagatedHistory",
    "PropagationNotFoundError",
    "PropagationScope",
    "ReplayResult",
    "Replayer",
    "RetentionPolicy",
    "RetryPolicy",
    "Task",
    "TaskFailedError",
    "WorkflowActivityContext",
    "WorkflowClient",
    "WorkflowContext",
    "WorkflowFailedError",
    "WorkflowPage",
    "WorkflowRuntime",
    "WorkflowState",
    "WorkflowStatus",
    "alternate_name",
    "when_all",
    "when_any",
]

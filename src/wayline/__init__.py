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

from collections.abc import Callable
from typing import Any, TypeVar

from wayline.client import (
    AsyncWorkflowClient,
    WorkflowClient,
    WorkflowFailedError,
    WorkflowPage,
    WorkflowState,
)
from wayline.core.activity import WorkflowActivityContext
from wayline.core.context import WorkflowContext
from wayline.core.events import FailureDetails, WorkflowStatus
from wayline.core.propagation import PropagatedHistory, PropagationNotFoundError, PropagationScope
from wayline.core.registry import NAME_ATTRIBUTE
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
from wayline.runtime import WorkflowRuntime

F = TypeVar("F", bound=Callable[..., Any])

# dapr-ext-workflow spells these differently; the aliases let ported code run as is.
DaprWorkflowContext = WorkflowContext
DaprWorkflowClient = WorkflowClient


def alternate_name(name: str) -> Callable[[F], F]:
    """Decorator giving a workflow or activity a registered name (``dapr-ext-workflow``)."""

    def wrapper(fn: F) -> F:
        setattr(fn, NAME_ATTRIBUTE, name)
        return fn

    return wrapper


__version__ = "0.1.0"

__all__ = [
    "AsyncWorkflowClient",
    "DaprWorkflowClient",
    "DaprWorkflowContext",
    "EngineSettings",
    "FailureDetails",
    "ManualClock",
    "NonDeterminismError",
    "NonRetryableError",
    "PropagatedHistory",
    "PropagationNotFoundError",
    "PropagationScope",
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

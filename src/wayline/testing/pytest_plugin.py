"""The ``workflow_env`` pytest fixture (registered as a pytest plugin by the package's
``pytest11`` entry point, so installing wayline makes it available).

``workflow_env(app, **options)`` starts a :class:`WorkflowTestEnvironment` (options
as its arguments) and shuts it down after the test; call it more than once for
several environments.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from wayline.core.registry import Registry
from wayline.runtime import WorkflowRuntime
from wayline.testing.env import WorkflowTestEnvironment


@pytest.fixture
def workflow_env() -> Iterator[Callable[..., WorkflowTestEnvironment]]:
    made: list[WorkflowTestEnvironment] = []

    def make(app: WorkflowRuntime | Registry, **options: Any) -> WorkflowTestEnvironment:
        env = WorkflowTestEnvironment(app, **options).start()
        made.append(env)
        return env

    yield make
    for env in reversed(made):
        env.close()

"""Testing workflows: a test environment with virtual time and activity fakes.

``WorkflowTestEnvironment`` runs your workflows on a real engine and a fresh store
(a SQLite file in a temporary folder), with a clock that only moves when the test
says so or when nothing could happen otherwise: while the test waits for an
instance to finish, whenever every instance is waiting on a timer, the clock
jumps to the next one, so a 30-day timer completes at once. Every turn is also
replayed from the stored history and compared (``always_replay``), so a test
catches a workflow that does not replay deterministically.

With pytest, the ``workflow_env`` fixture (``wayline.testing.pytest_plugin``,
loaded automatically when wayline is installed) makes one per test::

    def test_order(workflow_env):
        env = workflow_env(app.runtime, activities={"charge": lambda ctx, order: "ok"})
        iid = env.client.start_workflow(app.order, input={"item": "book"})
        state = env.wait_for_completion(iid)      # skips the order's 3-day timer
        assert state.output == {...}
"""

from wayline.testing.env import (
    AsyncWorkflowTestEnvironment,
    WorkflowStuckError,
    WorkflowTestEnvironment,
    WorkflowTurnError,
)

__all__ = [
    "AsyncWorkflowTestEnvironment",
    "WorkflowStuckError",
    "WorkflowTestEnvironment",
    "WorkflowTurnError",
]

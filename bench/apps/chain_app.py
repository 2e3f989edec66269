"""The benchmark's workflows as a ``wayline serve --app`` module (HTTP scenario).

``chain``: ``n`` sequential calls of ``inc`` (returns x + 1), the workload of
every scenario; ``fan``: ``n`` parallel calls joined with ``when_all``.
"""

from __future__ import annotations

from typing import Any

import wayline

runtime = wayline.WorkflowRuntime()


@runtime.activity(name="inc")
def inc(ctx: wayline.WorkflowActivityContext, x: int) -> int:
    return x + 1


@runtime.workflow(name="chain")
def chain(ctx: wayline.WorkflowContext, n: int) -> Any:
    x = 0
    for _ in range(n):
        x = yield ctx.call_activity(inc, input=x)
    return x


@runtime.workflow(name="fan")
def fan(ctx: wayline.WorkflowContext, n: int) -> Any:
    results = yield wayline.when_all([ctx.call_activity(inc, input=i) for i in range(n)])
    return sum(results)

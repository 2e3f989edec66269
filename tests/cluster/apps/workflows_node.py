"""A node that hosts only the ``relay`` workflow; its activity lives on another node."""

from typing import Any

import wayline

runtime = wayline.WorkflowRuntime()


@runtime.workflow(name="relay")
def relay(ctx: wayline.WorkflowContext, text: str) -> Any:
    ctx.set_custom_status("waiting for go")
    go = yield ctx.wait_for_external_event("go")
    shouted = yield ctx.call_activity("shout", input=f"{text} {go}")
    return {"shouted": shouted, "by": "workflows_node"}

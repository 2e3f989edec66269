"""A node that hosts only the ``shout`` activity (no workflows)."""

import wayline

runtime = wayline.WorkflowRuntime()


@runtime.activity(name="shout")
def shout(ctx: wayline.WorkflowActivityContext, text: str) -> str:
    return f"{text.upper()}! (ran on activities_node)"

"""``dapr.ext.workflow.aio``'s names: ``from wayline.aio import DaprWorkflowClient``."""

from wayline.client import AsyncWorkflowClient

DaprWorkflowClient = AsyncWorkflowClient

__all__ = ["DaprWorkflowClient"]

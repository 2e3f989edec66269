"""Observability adapters: logs, metrics and traces, outside the engine."""

"""Adapters that turn what the engine reports (``wayline.engine.observer``) into
metrics, traces and logs for the usual tools.

Each lives in its own module and is imported on demand: ``wayline.observability.
metrics.PrometheusMetrics`` needs ``prometheus_client``; importing this package
imports nothing.
"""

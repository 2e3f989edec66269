"""Adapters that turn what the engine reports (``wayline.engine.observer``) into logs,
metrics and traces for the usual tools; the engine imports none of them.

Each lives in its own module and is imported on demand (``metrics`` needs
``prometheus_client``, ``tracing`` the ``otel`` extra); importing this package
imports nothing.
"""

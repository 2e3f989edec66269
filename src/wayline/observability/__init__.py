"""Observability adapters outside the engine: log formats, Prometheus metrics and
OpenTelemetry traces, fed by what the engine reports (``engine.observer``); the engine
imports none of them."""

"""Adapters that turn what the engine reports (``engine.observer``) into metrics and
traces; the engine imports none of them."""

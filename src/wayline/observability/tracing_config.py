"""Whether ``wayline serve`` traces, from the standard ``OTEL_*`` variables.

Importable without OpenTelemetry: it says when tracing is asked for and, if the
``wayline[otel]`` extra is missing, says how to get it (one line, no traceback).

Tracing is on when ``OTEL_TRACES_EXPORTER`` names an exporter (``otlp`` or
``console``) or an OTLP endpoint is set (``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``), unless ``OTEL_SDK_DISABLED=true`` or
``OTEL_TRACES_EXPORTER=none``. Everything else (endpoint, headers, protocol,
sampler, resource attributes) is read by OpenTelemetry itself, as its
documentation describes. The service name is ``wayline`` unless
``OTEL_SERVICE_NAME`` (or ``service.name`` in ``OTEL_RESOURCE_ATTRIBUTES``) says.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

    from wayline.observability.tracing import Tracing

DEFAULT_SERVICE_NAME = "wayline"
_GRPC_EXPORTER = "opentelemetry.exporter.otlp.proto.grpc.trace_exporter"
_ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


class TracingConfigError(Exception):
    """Tracing is asked for but cannot start (the message says what to do)."""


def tracing_requested(environ: Mapping[str, str]) -> str | None:
    """Why the environment asks for traces (the variable that does), or None."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    exporters = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters == "none":
        return None
    if exporters:
        return f"OTEL_TRACES_EXPORTER={exporters}"
    for name in _ENDPOINTS:
        if environ.get(name, "").strip():
            return f"{name} is set"
    return None


def tracing_from_environment(
    environ: Mapping[str, str], *, make_global: bool = False
) -> tuple[Tracing, Callable[[], None]]:
    """A ``Tracing`` observer exporting as the environment says, and the function
    that flushes and stops its exporter at shutdown. ``make_global``: also make its
    provider OpenTelemetry's global one (a server's app code then traces into it).

    Raises:
        TracingConfigError: the ``wayline[otel]`` extra is missing, or an exporter or
            protocol is named that this installation cannot provide.
    """
    why = tracing_requested(environ)
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

        from wayline.observability.tracing import Tracing
    except ImportError as exc:
        raise TracingConfigError(
            f"tracing is on ({why or 'asked for'}) but OpenTelemetry is not installed "
            f"({exc.name or exc}): pip install 'wayline[otel]', or unset the OTEL_* "
            "variables (OTEL_TRACES_EXPORTER=none turns tracing off)"
        ) from None
    exporters = [
        name.strip()
        for name in environ.get("OTEL_TRACES_EXPORTER", "otlp").lower().split(",")
        if name.strip()
    ] or ["otlp"]
    chosen: list[SpanExporter] = []
    for name in exporters:
        if name == "console":
            chosen.append(ConsoleSpanExporter())
        elif name == "otlp":
            chosen.append(_otlp_exporter(environ))
        else:
            raise TracingConfigError(
                f"OTEL_TRACES_EXPORTER={name!r} is not supported by wayline serve; use "
                "otlp (to a collector) or console"
            )
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
    provider = TracerProvider(resource=resource)
    for exporter in chosen:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    if make_global:
        trace.set_tracer_provider(provider)
    return Tracing(provider), provider.shutdown


def _otlp_exporter(environ: Mapping[str, str]) -> SpanExporter:
    protocol = (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    try:
        if protocol == "grpc":  # not in the extra: used if installed
            module = importlib.import_module(_GRPC_EXPORTER)
            exporter: SpanExporter = module.OTLPSpanExporter()
            return exporter
        if protocol == "http/protobuf":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            return OTLPSpanExporter()
    except ImportError as exc:
        package = (
            "opentelemetry-exporter-otlp-proto-grpc"
            if protocol == "grpc"
            else "opentelemetry-exporter-otlp-proto-http"
        )
        raise TracingConfigError(
            f"OTLP over {protocol} needs {package} ({exc.name or exc}): pip install "
            f"{package}, or pip install 'wayline[otel]' for OTLP over http/protobuf"
        ) from None
    raise TracingConfigError(
        f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported; use http/protobuf "
        "(the default) or grpc"
    )

"""When ``wayline serve`` traces (``observability.tracing_config``): the standard
``OTEL_*`` rules, the default service name, and clear errors for what it cannot do."""

from __future__ import annotations

import pytest

from support.ci import unavailable
from wayline.observability.tracing_config import (
    TracingConfigError,
    tracing_from_environment,
    tracing_requested,
)


@pytest.mark.parametrize(
    ("environ", "why"),
    [
        ({}, None),
        ({"OTEL_SERVICE_NAME": "orders"}, None),  # names the service, exports nothing
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT is set"),
        (
            {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"},
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set",
        ),
        ({"OTEL_TRACES_EXPORTER": "console"}, "OTEL_TRACES_EXPORTER=console"),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}, None),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, None),
    ],
)
def test_when_tracing_is_on(environ: dict[str, str], why: str | None) -> None:
    assert tracing_requested(environ) == why


def test_the_service_name_is_wayline_unless_the_environment_names_one() -> None:
    try:
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError:
        unavailable("needs the wayline[otel] extra: pip install -e '.[dev]'")
    for environ, name in (
        ({"OTEL_TRACES_EXPORTER": "console"}, "wayline"),
        ({"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "orders"}, "orders"),
    ):
        with pytest.MonkeyPatch.context() as patch:
            patch.delenv("OTEL_SERVICE_NAME", raising=False)
            patch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
            for key, value in environ.items():
                patch.setenv(key, value)
            tracing, shutdown = tracing_from_environment(environ)
            try:
                provider = tracing._provider
                assert provider is not None
                assert provider.resource.attributes["service.name"] == name  # type: ignore[attr-defined]
            finally:
                shutdown()


def test_unsupported_exporters_and_protocols_are_refused_clearly() -> None:
    try:
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError:
        unavailable("needs the wayline[otel] extra: pip install -e '.[dev]'")
    with pytest.raises(TracingConfigError, match=r"OTEL_TRACES_EXPORTER=.zipkin.*otlp"):
        tracing_from_environment({"OTEL_TRACES_EXPORTER": "zipkin"})
    with pytest.raises(TracingConfigError, match=r"http/json.*http/protobuf"):
        tracing_from_environment(
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}
        )

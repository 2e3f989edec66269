"""Log formats (``wayline.observability.logging``): the JSON lines and their fields,
the text lines as they always were, the one redaction over both, and
``configure_logging`` for embedded runtimes."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import wayline
from support.wait import wait_until
from wayline.observability.logging import (
    FIELDS,
    JsonFormatter,
    RedactingFormatter,
    configure_logging,
    formatter,
    level_number,
)

RFC3339_MS_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _record(
    message: str = "hello %s",
    args: tuple[Any, ...] = ("world",),
    *,
    level: int = logging.INFO,
    exc_info: Any = None,
    **extra: Any,
) -> logging.LogRecord:
    record = logging.getLogger("wayline.test").makeRecord(
        "wayline.test", level, __file__, 1, message, args, exc_info, extra=extra
    )
    return record


def test_a_json_line_has_the_base_fields_and_the_record_s_known_ones_only() -> None:
    record = _record(
        instance_id="order-7",
        workflow_name="checkout",
        task_id=3,
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        password="not a field",
        custom="neither",
    )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert RFC3339_MS_UTC.match(entry.pop("time"))
    assert entry == {
        "level": "INFO",
        "logger": "wayline.test",
        "message": "hello world",
        "instance_id": "order-7",
        "workflow_name": "checkout",
        "task_id": 3,
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    }


def test_a_field_set_to_none_is_left_out_and_other_values_become_text() -> None:
    entry = json.loads(JsonFormatter().format(_record(workflow_name=None, status=Path("x"))))
    assert "workflow_name" not in entry
    assert entry["status"] == "x"
    assert set(entry) <= {"time", "level", "logger", "message", *FIELDS}


def test_the_time_is_the_record_s_in_utc_with_milliseconds() -> None:
    record = _record()
    record.created, record.msecs = 1_800_000_000.0421, 42.1
    assert json.loads(JsonFormatter().format(record))["time"] == "2027-01-15T08:00:00.042Z"


def test_secrets_are_masked_in_the_message_the_fields_and_the_traceback() -> None:
    token, password = "tok-3f9a1c", 'p"w\\d'  # JSON escapes must not hide a secret
    try:
        raise RuntimeError(f"cannot reach postgresql://app:{password}@db/x with {token}")
    except RuntimeError:
        exc_info = sys.exc_info()
    record = _record(
        "store %s said %s",
        (f"postgresql://app:{password}@db/x", f"password={password}"),
        level=logging.ERROR,
        exc_info=exc_info,
        instance_id=f"id-{token}",
    )
    line = JsonFormatter([token, password]).format(record)
    entry = json.loads(line)
    assert entry["message"] == "store postgresql://app:***@db/x said password=***"
    assert entry["instance_id"] == "id-***"
    assert entry["exception"].startswith("Traceback (most recent call last):")
    assert "RuntimeError: cannot reach postgresql://app:***@db/x with ***" in entry["exception"]
    for secret in (token, password):  # the decoded fields: JSON escapes a quote in the line
        assert secret not in line and not any(secret in str(v) for v in entry.values())

    text = RedactingFormatter(secrets=[token, password]).format(record)
    assert text.startswith("ERROR wayline.test: store postgresql://app:***@db/x said ")
    assert "Traceback" in text and token not in text and password not in text


def test_the_text_format_is_unchanged() -> None:
    record = _record(instance_id="order-7", workflow_name="checkout")
    assert formatter("text").format(record) == "INFO wayline.test: hello world"


def test_formats_and_levels_are_checked() -> None:
    with pytest.raises(ValueError, match="log format 'xml'"):
        formatter("xml")
    assert level_number("trace") == 5
    assert level_number("Warning") == logging.WARNING
    assert level_number(15) == 15
    with pytest.raises(ValueError, match="log level 'loud'"):
        level_number("loud")


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, with its handlers and level restored afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(False)


def test_configure_logging_installs_one_handler_and_leaves_others_alone(
    root_logger: logging.Logger,
) -> None:
    others = list(root_logger.handlers)
    first, second = io.StringIO(), io.StringIO()
    configure_logging("text", "DEBUG", stream=first)
    configure_logging("json", "WARNING", stream=second, secrets=["s3cret", None])
    ours = [h for h in root_logger.handlers if h not in others]
    assert len(ours) == 1 and root_logger.level == logging.WARNING
    assert [h for h in root_logger.handlers if h in others] == others

    logging.getLogger("app").info("not shown")
    logging.getLogger("app").warning("the s3cret is %s", "out", extra={"instance_id": "i-1"})
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("old API", DeprecationWarning, stacklevel=1)
    assert first.getvalue() == ""
    lines = [json.loads(line) for line in second.getvalue().splitlines()]
    assert [(e["logger"], e["level"]) for e in lines] == [
        ("app", "WARNING"),
        ("py.warnings", "WARNING"),
    ]
    assert lines[0]["message"] == "the *** is out" and lines[0]["instance_id"] == "i-1"
    assert "DeprecationWarning: old API" in lines[1]["message"]


def test_an_embedded_runtime_logs_json_lines_about_its_instances(
    root_logger: logging.Logger, tmp_path: Path
) -> None:
    stream = io.StringIO()
    configure_logging("json", "INFO", stream=stream)
    runtime = wayline.WorkflowRuntime(store=f"sqlite:///{tmp_path / 'wayline.db'}")

    @runtime.workflow(name="broken")
    def broken(ctx: wayline.WorkflowContext) -> Any:
        raise LookupError("no such customer")
        yield

    with runtime:
        client = runtime.client()
        client.start_workflow("broken", instance_id="b-1")
        client.wait_for_workflow_completion("b-1", timeout=10)
        client.purge_workflow("b-1")
        wait_until(lambda: "purged" in stream.getvalue(), what="the purge to be logged")

    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    about = [(e["level"], e["message"]) for e in entries if e.get("instance_id") == "b-1"]
    assert about == [
        ("INFO", "workflow instance 'b-1' (broken) started"),
        ("WARNING", "workflow instance 'b-1' (broken) failed: LookupError: no such customer"),
        ("INFO", "workflow instance 'b-1' (broken) purged"),
    ]
    assert all(e["workflow_name"] == "broken" for e in entries if "instance_id" in e)
    nodes = [e["message"] for e in entries if e["logger"] == "wayline.engine" and "node_id" in e]
    assert len(nodes) == 2
    assert " started: 1 workflows, 0 activities; store sqlite:///" in nodes[0]
    assert " stopped after " in nodes[1]

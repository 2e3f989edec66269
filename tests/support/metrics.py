"""Reading a Prometheus scrape the way a checker would: the text parser of
``prometheus_client`` plus the raw lines, against Dapr's workflow metrics as
``docs/notes/dapr-observability-sources.md`` (table 1.2) records them."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

#: Dapr's nine workflow families (1.16+): type and label names, from table 1.2.
DAPR_FAMILIES: dict[str, tuple[str, frozenset[str]]] = {
    "dapr_runtime_workflow_operation_count": (
        "counter",
        frozenset({"app_id", "namespace", "operation", "status"}),
    ),
    "dapr_runtime_workflow_operation_latency": (
        "histogram",
        frozenset({"app_id", "namespace", "operation", "status"}),
    ),
    "dapr_runtime_workflow_execution_count": (
        "counter",
        frozenset({"app_id", "namespace", "workflow_name", "status"}),
    ),
    "dapr_runtime_workflow_execution_latency": (
        "histogram",
        frozenset({"app_id", "namespace", "workflow_name", "status"}),
    ),
    "dapr_runtime_workflow_scheduling_latency": (
        "histogram",
        frozenset({"app_id", "namespace", "workflow_name"}),
    ),
    "dapr_runtime_workflow_activity_operation_count": (
        "counter",
        frozenset({"app_id", "namespace", "activity_name", "status"}),
    ),
    "dapr_runtime_workflow_activity_operation_latency": (
        "histogram",
        frozenset({"app_id", "namespace", "activity_name", "status"}),
    ),
    "dapr_runtime_workflow_activity_execution_count": (
        "counter",
        frozenset({"app_id", "namespace", "activity_name", "status"}),
    ),
    "dapr_runtime_workflow_activity_execution_latency": (
        "histogram",
        frozenset({"app_id", "namespace", "activity_name", "status"}),
    ),
}

#: Dapr's latency buckets (ms) as daprd writes them, then +Inf.
DAPR_BUCKETS = [
    *(str(b) for b in (1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 30, 40, 50, 65, 80, 100, 130, 160)),
    *(str(b) for b in (200, 250, 300, 400, 500, 650, 800, 1000, 2000, 5000, 10000, 20000)),
    "50000",
    "100000",
    "+Inf",
]

OPERATIONS = {"create_workflow", "get_workflow", "add_event", "purge_workflow"}
#: The status values Dapr 1.17 records in each family (by the family's middle part).
STATUSES = {
    "operation": {"success", "failed"},
    "execution": {"success", "failed", "recoverable"},
    "activity_operation": {"success", "recoverable"},
    "activity_execution": {"success", "failed", "recoverable"},
}


class Scrape:
    """One scrape: the parsed families and the raw text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.families = {f.name: f for f in text_string_to_metric_families(text)}

    def type_of(self, name: str) -> str:
        return str(self.families[name].type)

    def value(self, sample: str, **labels: str) -> float:
        """The value of the one sample named ``sample`` whose labels include ``labels``
        (0 if there is none)."""
        found = [
            s.value
            for family in self.families.values()
            for s in family.samples
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
        ]
        assert len(found) <= 1, f"{sample} {labels}: {len(found)} samples"
        return float(found[0]) if found else 0.0

    def raw_value(self, line_start: str) -> float:
        """The value on the raw line that starts with ``line_start`` (name and labels)."""
        lines = [ln for ln in self.text.splitlines() if ln.startswith(line_start)]
        assert len(lines) == 1, (line_start, lines)
        return float(lines[0].rsplit(" ", 1)[1])

    def samples(self, family: str) -> list[Any]:
        return list(self.families[family].samples)


def check_dapr_exposition(scrape: Scrape, *, app_id: str, namespace: str = "") -> None:
    """Dapr's nine families with Dapr's names, types, label sets and buckets; no
    ``_total`` or ``_created`` series of theirs in the raw text."""
    for name, (kind, labels) in DAPR_FAMILIES.items():
        assert scrape.type_of(name) == kind, name
        assert f"# TYPE {name} {kind}\n" in scrape.text, name
        for sample in scrape.samples(name):
            got = set(sample.labels) - {"le"}
            assert got == labels, (name, sample)
            assert sample.labels["app_id"] == app_id
            assert sample.labels["namespace"] == namespace
            if "operation" in labels:
                assert sample.labels["operation"] in OPERATIONS
            if "status" in labels:
                middle = name.removeprefix("dapr_runtime_workflow_").rsplit("_", 1)[0]
                assert sample.labels["status"] in STATUSES[middle], (name, sample)
        if kind == "histogram":
            by_series: dict[tuple[tuple[str, str], ...], list[str]] = {}
            for sample in scrape.samples(name):
                if sample.name.endswith("_bucket"):
                    key = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
                    by_series.setdefault(key, []).append(sample.labels["le"])
            for bounds in by_series.values():
                assert bounds == DAPR_BUCKETS, (name, bounds)
    for line in scrape.text.splitlines():
        if line.startswith("dapr_"):
            series = line.split("{")[0].split(" ")[0]
            assert not series.endswith(("_total", "_created")), line
        if line.startswith("dapr_") and "_bucket{" in line:
            assert 'le="' in line

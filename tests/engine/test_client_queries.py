"""The client's listing options the dashboard uses: orders, id prefix, counts, names."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from wayline import WorkflowClient
from wayline.engine.clock import ManualClock
from wayline.store.types import InstanceSort


def test_sort_prefix_counts_and_names(tmp_path: Path) -> None:
    clock = ManualClock()
    with WorkflowClient(f"sqlite:///{tmp_path / 'c.db'}", clock=clock) as client:
        for iid, name in [("b-1", "beta"), ("a-2", "alpha"), ("a-1", "alpha")]:
            client.start_workflow(name, instance_id=iid)
            clock.advance(timedelta(seconds=1))

        by_id = client.list_workflows(sort="id", descending=False).workflows
        assert [s.instance_id for s in by_id] == ["a-1", "a-2", "b-1"]
        by_name = client.list_workflows(sort=InstanceSort.NAME, page_size=2)
        assert [s.instance_id for s in by_name.workflows] == ["b-1", "a-1"]
        rest = client.list_workflows(
            sort="name", page_size=2, continuation_token=by_name.continuation_token
        )
        assert [s.instance_id for s in rest.workflows] == ["a-2"]
        prefixed = client.list_workflows(instance_id_prefix="a-").workflows
        assert [s.instance_id for s in prefixed] == ["a-1", "a-2"]
        assert client.count_workflows(instance_id_prefix="a-") == 2
        assert client.count_workflows_by_status(name="alpha") == {"PENDING": 2}
        assert client.workflow_names() == ["alpha", "beta"]
        assert client.workflow_durations("alpha") == []
        with pytest.raises(ValueError, match="unknown sort 'size'"):
            client.list_workflows(sort="size")

"""Multi-app workflows through real dapr-ext-workflow 1.18.3 apps: two ``wayline serve
--app-id`` sidecars on one store, each with its own SDK app, call each other's
activities and child workflows as Dapr's cross-app calls do."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from grpc_support import SDK_DIR, GrpcServer

from support.wait import wait_until


@pytest.fixture
def sidecars(tmp_path: Path) -> Iterator[dict[str, GrpcServer]]:
    store = f"sqlite:///{tmp_path / 'shared.db'}"
    made: dict[str, GrpcServer] = {}
    try:
        for app_id in ("checkout", "billing"):
            home = tmp_path / app_id
            home.mkdir()
            server = GrpcServer(home / "wayline.db", store=store, app_id=app_id, apps=())
            made[app_id] = server.start()
        yield made
    finally:
        exits = {app_id: server.stop() for app_id, server in made.items()}
        for app_id, server in made.items():
            assert exits[app_id] == 0, server.output()[-3000:]


def test_sdk_apps_call_activities_and_children_in_each_other(
    sidecars: dict[str, GrpcServer], dapr_ext_python: Path
) -> None:
    billing = _worker(dapr_ext_python, sidecars["billing"])
    try:
        output = sidecars["checkout"].run_sdk(dapr_ext_python, "multi_app.py", "checkout")
    finally:
        billing.kill()
        billing.communicate()
    assert output["charged"] == "billing charged 7"
    assert output["settled"] == "settled after billing charged 7"
    refund_error, ghost_error = output["errors"]
    assert "refund" in refund_error
    assert "app 'ghost' is not running" in ghost_error

    checkout = sidecars["checkout"]
    views = {
        iid: checkout.instance(iid).json() for iid in ("multi-checkout", "multi-checkout-settle")
    }
    assert views["multi-checkout"]["appID"] == "checkout"
    assert views["multi-checkout-settle"]["appID"] == "billing"
    history = httpx.get(
        f"{checkout.url}/wayline/v1/instances/multi-checkout/history", timeout=10
    ).json()
    scheduled = [e for e in history["events"] if e["kind"] == "TaskScheduled"]
    assert scheduled[0]["router"] == {"source_app_id": "checkout", "target_app_id": "billing"}
    created = next(e for e in history["events"] if e["kind"] == "ChildWorkflowCreated")
    assert created["router"] == {"source_app_id": "checkout", "target_app_id": "billing"}


def _worker(python: Path, server: GrpcServer) -> subprocess.Popen[str]:
    """The billing SDK app, connected to ``server``, once it is ready."""
    worker = subprocess.Popen(
        [str(python), str(SDK_DIR / "multi_app.py"), "billing"],
        env=server.sdk_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert worker.stdout is not None
    assert json.loads(worker.stdout.readline()) == "ready"
    return worker


def test_each_sidecar_runs_only_its_apps_instances(
    sidecars: dict[str, GrpcServer], dapr_ext_python: Path
) -> None:
    """An instance started through billing's sidecar is not run by a worker that has
    its code but is connected to checkout's sidecar; billing's own worker runs it."""
    billing, checkout = sidecars["billing"], sidecars["checkout"]
    elsewhere = _worker(dapr_ext_python, checkout)
    try:
        started = httpx.post(
            f"{billing.url}/v1.0/workflows/dapr/settle/start?instanceID=only-billing",
            json=1,
            timeout=10,
        )
        assert started.status_code == 202
        time.sleep(1.0)  # checkout's worker had every chance to take it
        view = billing.instance("only-billing").json()
        assert (view["appID"], view["runtimeStatus"]) == ("billing", "PENDING")
        own = _worker(dapr_ext_python, billing)
        try:
            wait_until(
                lambda: billing.instance("only-billing").json()["runtimeStatus"] == "COMPLETED",
                30,
                "billing's worker to run it",
            )
        finally:
            own.kill()
            own.communicate()
    finally:
        elsewhere.kill()
        elsewhere.communicate()
    assert billing.instance("only-billing").json()["output"] == (
        '"settled after billing charged 1"'
    )

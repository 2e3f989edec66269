"""The order-processing workflow of the Dapr Workflow docs, on Wayline.

Check inventory, ask for approval of large orders (an external event), take the
payment, update inventory, notify. Run it embedded::

    python examples/order_processing.py

The workflow code is the Dapr docs' code with only the import changed
(``import wayline as wf`` instead of ``import dapr.ext.workflow as wf``).
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

import wayline as wf

wfr = wf.WorkflowRuntime()

# The docs keep inventory in a Dapr state store; the demo keeps it in memory.
_inventory = {"Paperclips": {"per_item_cost": 5, "quantity": 100}}
_inventory_lock = threading.Lock()


@dataclass
class OrderPayload:
    item_name: str
    total_cost: float
    quantity: int


class InsufficientInventoryError(Exception):
    pass


@wfr.workflow(name="order_processing_workflow")
def order_processing_workflow(ctx: wf.DaprWorkflowContext, order: dict):
    """Process an order: inventory check, approval over 5000, payment, inventory update."""
    order_id = ctx.instance_id
    yield ctx.call_activity(
        notify_activity,
        input=f"Received order {order_id} for {order['quantity']} {order['item_name']} "
        f"at ${order['total_cost']}!",
    )
    in_stock = yield ctx.call_activity(verify_inventory_activity, input=order)
    if not in_stock:
        yield ctx.call_activity(
            notify_activity, input=f"Insufficient inventory for {order['item_name']}!"
        )
        return {"processed": False, "reason": "insufficient inventory"}

    if order["total_cost"] > 5000:
        yield ctx.call_activity(request_approval_activity, input=order)
        ctx.set_custom_status("waiting-for-approval")
        approval = ctx.wait_for_external_event("approval_event")
        timeout = ctx.create_timer(timedelta(minutes=10))
        winner = yield wf.when_any([approval, timeout])
        if winner == timeout:
            yield ctx.call_activity(
                notify_activity, input=f"Order {order_id} has been cancelled due to timeout!"
            )
            return {"processed": False, "reason": "approval timed out"}
        if not approval.get_result().get("approved"):
            yield ctx.call_activity(notify_activity, input=f"Order {order_id} was rejected.")
            return {"processed": False, "reason": "rejected"}
        ctx.set_custom_status("approved")

    yield ctx.call_activity(
        process_payment_activity,
        input={
            "request_id": order_id,
            "item_being_purchased": order["item_name"],
            "amount": order["total_cost"],
            "quantity": order["quantity"],
        },
        retry_policy=wf.RetryPolicy(
            first_retry_interval=timedelta(seconds=1), max_number_of_attempts=3
        ),
    )
    try:
        yield ctx.call_activity(update_inventory_activity, input=order)
    except wf.TaskFailedError:
        yield ctx.call_activity(
            notify_activity, input=f"Order {order_id} failed: inventory changed meanwhile."
        )
        return {"processed": False, "reason": "insufficient inventory"}
    yield ctx.call_activity(notify_activity, input=f"Order {order_id} has completed!")
    return {"processed": True}


@wfr.activity(name="notify_activity")
def notify_activity(ctx: wf.WorkflowActivityContext, message: str) -> None:
    print(f"[notify] {message}", flush=True)


@wfr.activity(name="verify_inventory_activity")
def verify_inventory_activity(ctx: wf.WorkflowActivityContext, order: dict) -> bool:
    with _inventory_lock:
        item = _inventory.get(order["item_name"])
        return item is not None and item["quantity"] >= order["quantity"]


@wfr.activity(name="request_approval_activity")
def request_approval_activity(ctx: wf.WorkflowActivityContext, order: dict) -> None:
    print(f"[approval] order {ctx.workflow_id} needs approval (${order['total_cost']})", flush=True)


@wfr.activity(name="process_payment_activity")
def process_payment_activity(ctx: wf.WorkflowActivityContext, payment: dict) -> None:
    print(f"[payment] {payment['request_id']}: charged ${payment['amount']}", flush=True)


@wfr.activity(name="update_inventory_activity")
def update_inventory_activity(ctx: wf.WorkflowActivityContext, order: dict) -> None:
    with _inventory_lock:
        item = _inventory[order["item_name"]]
        if item["quantity"] < order["quantity"]:
            raise InsufficientInventoryError(f"not enough {order['item_name']}")
        item["quantity"] -= order["quantity"]


def main() -> int:
    """Run two orders embedded: a small one, and a large one that needs approval."""
    with wfr:
        client = wfr.client()
        small = client.start_workflow(
            order_processing_workflow,
            input={"item_name": "Paperclips", "total_cost": 99.95, "quantity": 1},
        )
        large = client.start_workflow(
            order_processing_workflow,
            input={"item_name": "Paperclips", "total_cost": 9999.0, "quantity": 10},
        )
        for iid in (small, large):
            client.wait_for_workflow_start(iid, timeout=10)
        # Approve the large order once it waits for approval.
        deadline = time.monotonic() + 10
        while client.get_workflow(large).custom_status != "waiting-for-approval":
            if time.monotonic() > deadline:
                return 1
            time.sleep(0.05)
        client.raise_event(large, "approval_event", {"approved": True})
        for iid in (small, large):
            state = client.wait_for_workflow_completion(iid, timeout=30)
            print(f"{iid}: {state.runtime_status} {state.serialized_output}", flush=True)
            if state.runtime_status != "COMPLETED":
                return 1
        for iid in (small, large):
            client.purge_workflow(iid)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Typed exceptions raised by Wayline's public API.

Every error message names the thing that went wrong and what to do next. The
HTTP and gRPC layers map these classes onto Dapr's error codes, so each class
carries the Dapr ``error_code`` it corresponds to.
"""

from __future__ import annotations


class WaylineError(Exception):
    """Base class of every error Wayline raises on purpose."""

    error_code = "ERR_WAYLINE"


class InvalidInstanceIdError(WaylineError, ValueError):
    """An instance id is empty, too long or contains characters Dapr rejects."""

    error_code = "ERR_INSTANCE_ID_INVALID"

    def __init__(self, message: str, *, error_code: str | None = None) -> None:
        super().__init__(message)
        if error_code is not None:
            self.error_code = error_code


class InvalidAppIdError(WaylineError, ValueError):
    """An app id is empty or contains characters Dapr rejects."""

    error_code = "ERR_WORKFLOW_APP_ID_INVALID"


class WorkflowNameMissingError(WaylineError, ValueError):
    """A workflow was started without a name."""

    error_code = "ERR_WORKFLOW_NAME_MISSING"


class EventNameMissingError(WaylineError, ValueError):
    """An event was raised without a name."""

    error_code = "ERR_WORKFLOW_EVENT_NAME_MISSING"


class InstanceNotFoundError(WaylineError, LookupError):
    """No workflow instance has the given id (it never existed or was purged)."""

    error_code = "ERR_INSTANCE_ID_NOT_FOUND"

    def __init__(self, instance_id: str) -> None:
        super().__init__(f"unable to find workflow with the provided instance ID: {instance_id}")
        self.instance_id = instance_id


class InstanceAlreadyExistsError(WaylineError):
    """Starting an instance id whose previous run is still active."""

    error_code = "ERR_START_WORKFLOW"

    def __init__(self, instance_id: str) -> None:
        super().__init__(
            f"an active workflow with ID '{instance_id}' already exists; wait for it to "
            "finish, terminate it, or start with another instance ID"
        )
        self.instance_id = instance_id


class InstanceNotTerminalError(WaylineError):
    """Purging an instance (or a child of it) that has not finished."""

    error_code = "ERR_PURGE_WORKFLOW"

    def __init__(self, instance_id: str, status: str) -> None:
        super().__init__(
            f"workflow instance '{instance_id}' is {status}; only COMPLETED, FAILED or "
            "TERMINATED instances can be purged (terminate it first)"
        )
        self.instance_id = instance_id
        self.status = status


class InvalidStateError(WaylineError):
    """An operation that the instance's current status does not allow."""

    error_code = "ERR_INVALID_STATE"


class InvalidRerunError(WaylineError, ValueError):
    """A rerun request that does not fit its source instance (nothing changed)."""

    error_code = "ERR_RERUN_WORKFLOW"


class InvalidArgumentError(WaylineError, ValueError):
    """An argument out of range or malformed: a time no UTC datetime can hold, a
    continuation token this store never returned."""

    error_code = "ERR_MALFORMED_REQUEST"


class PayloadTooLargeError(WaylineError, ValueError):
    """A serialized payload exceeds the configured size limit."""

    error_code = "ERR_PAYLOAD_TOO_LARGE"


class SerializationError(WaylineError, TypeError):
    """A value cannot be converted to or from its serialized (JSON) form."""

    error_code = "ERR_MALFORMED_REQUEST"


class PayloadTypeError(SerializationError):
    """A payload does not fit the type its function annotates (``order: Order``); the
    message names the field, the expected type and what came. Failing a task, it is
    not retried: the same payload would not fit again."""


class WorkflowNotRegisteredError(WaylineError, LookupError):
    """A workflow or activity name that nothing has registered."""

    error_code = "ERR_WORKFLOW_NOT_REGISTERED"


class LeaseLostError(WaylineError):
    """A turn or task commit whose lease was taken over by another node (fencing)."""

    error_code = "ERR_LEASE_LOST"


class InstanceChangedError(LeaseLostError):
    """An unclaimed turn (the step's fast path) found its instance changed since the
    state it ran on: another turn committed, the instance is leased or not RUNNING,
    or a task it consumed was already completed. Nothing was written."""


class StoreError(WaylineError):
    """The store URL or database is unusable."""

    error_code = "ERR_STORE"


class StoreUnavailableError(StoreError):
    """The store cannot be read or written right now: a full disk, a read-only or
    deleted database file, a PostgreSQL server restarting or a connection cut.
    Nothing the failed call tried to write was acknowledged; retry once the store is
    back (``/wayline/v1/readyz`` says when)."""

    error_code = "ERR_STORE_UNAVAILABLE"

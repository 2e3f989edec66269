"""The OpenAPI 3.1 document of Wayline's own API (``/wayline/v1``)."""

from __future__ import annotations

from typing import Any

from wayline.api.http.bodies import MAX_BULK_IDS
from wayline.client import WorkflowStatus

_STATUSES = [status.value for status in WorkflowStatus]

_ERROR = {
    "type": "object",
    "required": ["errorCode", "message"],
    "properties": {"errorCode": {"type": "string"}, "message": {"type": "string"}},
}

_INSTANCE = {
    "type": "object",
    "required": ["instanceID", "workflowName", "runtimeStatus", "createdAt", "lastUpdatedAt"],
    "properties": {
        "instanceID": {"type": "string"},
        "workflowName": {"type": "string"},
        "runtimeStatus": {"type": "string", "enum": _STATUSES},
        "createdAt": {"type": "string", "format": "date-time"},
        "lastUpdatedAt": {"type": "string", "format": "date-time"},
        "completedAt": {"type": "string", "format": "date-time"},
        "scheduledStartAt": {"type": "string", "format": "date-time"},
        "parentInstanceID": {"type": "string"},
        "appID": {"type": "string", "description": "the app whose nodes run it"},
        "generation": {
            "type": "integer",
            "minimum": 1,
            "description": "1, plus one per continue-as-new (the history is this one's)",
        },
        "input": {"type": "string", "description": "serialized input, verbatim"},
        "output": {"type": "string"},
        "customStatus": {"type": "string"},
        "failure": {
            "type": "object",
            "properties": {
                "errorType": {"type": "string"},
                "message": {"type": "string"},
                "stackTrace": {"type": ["string", "null"]},
            },
        },
    },
}

_FILTER_PARAMS: list[dict[str, Any]] = [
    {
        "name": "status",
        "in": "query",
        "style": "form",
        "explode": True,
        "description": "runtime statuses to include (repeat, or comma-separate)",
        "schema": {"type": "array", "items": {"type": "string", "enum": _STATUSES}},
    },
    {"name": "name", "in": "query", "description": "workflow name", "schema": {"type": "string"}},
    {"name": "createdFrom", "in": "query", "schema": {"type": "string", "format": "date-time"}},
    {"name": "createdTo", "in": "query", "schema": {"type": "string", "format": "date-time"}},
]

_LIST_ONLY_PARAMS: list[dict[str, Any]] = [
    {"name": "completedFrom", "in": "query", "schema": {"type": "string", "format": "date-time"}},
    {"name": "completedTo", "in": "query", "schema": {"type": "string", "format": "date-time"}},
    {"name": "parentInstanceID", "in": "query", "schema": {"type": "string"}},
    {
        "name": "pageSize",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
    },
    {"name": "continuationToken", "in": "query", "schema": {"type": "string"}},
]

_ID_PARAM = {"name": "instance_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def openapi_document() -> dict[str, Any]:
    """The document, built fresh (callers may mutate it)."""
    instance_ref = {"$ref": "#/components/schemas/Instance"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Wayline API",
            "version": "1",
            "description": "Listing, history and bulk operations for Wayline workflow "
            "instances. The Dapr workflow API is served alongside under /v1.0*/workflows.",
        },
        "paths": {
            "/wayline/v1/healthz": {
                "get": {"summary": "Liveness", "responses": {"200": _json({"type": "object"})}}
            },
            "/wayline/v1/readyz": {
                "get": {
                    "summary": "Readiness: engine running, store writable",
                    "responses": {
                        "200": _json({"type": "object"}),
                        "503": _json({"type": "object"}, "not ready"),
                    },
                }
            },
            "/wayline/v1/instances": {
                "get": {
                    "summary": "List instances, newest first, with filters and paging",
                    "parameters": _FILTER_PARAMS + _LIST_ONLY_PARAMS,
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["instances"],
                                "properties": {
                                    "instances": {"type": "array", "items": instance_ref},
                                    "continuationToken": {"type": "string"},
                                },
                            }
                        ),
                        "400": _error("bad filter or paging parameter"),
                    },
                }
            },
            "/wayline/v1/instances/count": {
                "get": {
                    "summary": "Count instances matching the filters",
                    "parameters": _FILTER_PARAMS,
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["count"],
                                "properties": {"count": {"type": "integer"}},
                            }
                        ),
                        "400": _error("bad filter"),
                    },
                }
            },
            "/wayline/v1/instances/{instance_id}": {
                "get": {
                    "summary": "One instance",
                    "parameters": [_ID_PARAM],
                    "responses": {"200": _json(instance_ref), "404": _error("unknown instance")},
                }
            },
            "/wayline/v1/instances/{instance_id}/history": {
                "get": {
                    "summary": "The instance's history events with timestamps and payloads",
                    "parameters": [_ID_PARAM],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["events"],
                                "properties": {
                                    "events": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["kind", "timestamp", "event_id"],
                                            "properties": {
                                                "kind": {"type": "string"},
                                                "timestamp": {"type": "string"},
                                                "event_id": {"type": "integer"},
                                            },
                                        },
                                    }
                                },
                            }
                        ),
                        "404": _error("unknown instance"),
                    },
                }
            },
            "/wayline/v1/instances/{instance_id}/purge": {
                "post": {
                    "summary": "Delete an instance and its history (and its children's)",
                    "parameters": [
                        _ID_PARAM,
                        {
                            "name": "recursive",
                            "in": "query",
                            "schema": {"type": "boolean", "default": True},
                        },
                        {
                            "name": "force",
                            "in": "query",
                            "description": "also delete unfinished instances",
                            "schema": {"type": "boolean", "default": False},
                        },
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["deletedInstanceCount"],
                                "properties": {"deletedInstanceCount": {"type": "integer"}},
                            }
                        ),
                        "400": _error("a flag is neither true nor false"),
                        "404": _error("unknown instance"),
                        "500": _error("not finished (ERR_PURGE_WORKFLOW); pass force=true"),
                    },
                }
            },
            "/wayline/v1/instances/bulk/{operation}": {
                "post": {
                    "summary": "Terminate, pause, resume or purge every instance matching "
                    "filters, or the instances named by instanceIDs",
                    "parameters": [
                        {
                            "name": "operation",
                            "in": "path",
                            "required": True,
                            "schema": {
                                "type": "string",
                                "enum": ["terminate", "pause", "resume", "purge"],
                            },
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "description": "instanceIDs or at least one filter "
                                    "(not both); force only with purge",
                                    "minProperties": 1,
                                    "additionalProperties": False,
                                    "properties": {
                                        "status": {
                                            "type": "array",
                                            "minItems": 1,
                                            "items": {"type": "string", "enum": _STATUSES},
                                        },
                                        "name": {"type": "string", "minLength": 1},
                                        "createdFrom": {"type": "string", "format": "date-time"},
                                        "createdTo": {"type": "string", "format": "date-time"},
                                        "completedFrom": {"type": "string", "format": "date-time"},
                                        "completedTo": {"type": "string", "format": "date-time"},
                                        "parentInstanceID": {"type": "string", "minLength": 1},
                                        "instanceIDs": {
                                            "type": "array",
                                            "minItems": 1,
                                            "maxItems": MAX_BULK_IDS,
                                            "items": {"type": "string", "minLength": 1},
                                        },
                                        "force": {"type": "boolean"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["operation", "affected", "failed"],
                                "properties": {
                                    "operation": {"type": "string"},
                                    "affected": {"type": "integer"},
                                    "failed": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "properties": {
                                                "instanceID": {"type": "string"},
                                                "message": {"type": "string"},
                                            },
                                        },
                                    },
                                },
                            }
                        ),
                        "400": _error("no filter, or a bad one"),
                        "404": _error("unknown operation"),
                    },
                }
            },
        },
        "components": {"schemas": {"Error": _ERROR, "Instance": _INSTANCE}},
    }

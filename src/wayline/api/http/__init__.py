"""The HTTP API: Dapr's workflow routes, Wayline's own routes, health."""

from wayline.api.http.app import create_app

__all__ = ["create_app"]

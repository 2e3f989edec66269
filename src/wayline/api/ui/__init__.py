"""The web dashboard served by ``wayline serve`` at ``/ui/`` (docs/dashboard.md)."""

from wayline.api.ui.app import Dashboard, dashboard_routes
from wayline.api.ui.security import is_ui_path

__all__ = ["Dashboard", "dashboard_routes", "is_ui_path"]

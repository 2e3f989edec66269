"""The dashboard's sign-in, cross-site protections and response headers.

With an API token set, ``/ui/login`` takes it once and sets a cookie holding an HMAC
of it (never the token itself), valid for ``/ui`` only: the JSON APIs keep
requiring the ``dapr-api-token`` header, so a browser's cookie can never be spent
on them by another site. Every state-changing request is a POST carrying a CSRF
token bound to the session and coming from this origin.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request

SESSION_COOKIE = "wayline_ui"
#: The dashboard's prefix: the cookie's path, and what the API guard leaves to it.
UI_PREFIX = "/ui"

#: Scripts only from the package's own file; nothing framed; forms post only here.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


def is_ui_path(path: str) -> bool:
    """Paths the dashboard answers (and authenticates) itself."""
    return path in ("/", UI_PREFIX) or path.startswith(UI_PREFIX + "/")


def _same(given: str, expected: str) -> bool:
    """Constant-time equality of two strings as bytes: any text a browser sends (a
    cookie or form value need not be ASCII) compares, none raises."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


class Sessions:
    """Session and CSRF values derived from the API token (or, without one, from a
    random key of this process: sessions then only tie forms to the browser)."""

    def __init__(self, api_token: str | None) -> None:
        self.api_token = api_token
        if api_token:
            self._key = hashlib.sha256(b"wayline-ui-key\0" + api_token.encode()).digest()
        else:
            self._key = secrets.token_bytes(32)

    def _mac(self, purpose: str, value: str = "") -> str:
        message = f"{purpose}\0{value}".encode("utf-8", "surrogatepass")
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def token_matches(self, given: str) -> bool:
        return bool(self.api_token) and _same(given, self.api_token or "")

    def signed_in_value(self) -> str:
        """The cookie value of a signed-in browser: ``s.<mac>``."""
        return "s." + self._mac("session")

    def anonymous_value(self) -> str:
        """A cookie value for a browser without a token to sign in with."""
        nonce = secrets.token_urlsafe(16)
        return f"a.{nonce}.{self._mac('anonymous', nonce)}"

    def valid(self, value: str) -> bool:
        """A cookie we issued (a signed-in one when a token is set)."""
        if value.startswith("s.") and self.api_token:
            return _same(value, self.signed_in_value())
        if value.startswith("a.") and not self.api_token:
            _, _, rest = value.partition(".")
            nonce, _, mac = rest.partition(".")
            return _same(mac, self._mac("anonymous", nonce))
        return False

    def authenticated(self, request: Request) -> bool:
        if not self.api_token:
            return True
        if self.token_matches(request.headers.get("dapr-api-token", "")):
            return True
        return self.valid(request.cookies.get(SESSION_COOKIE, ""))

    def csrf_token(self, session: str) -> str:
        return self._mac("csrf", session)

    def csrf_ok(self, request: Request, given: str) -> bool:
        session = request.cookies.get(SESSION_COOKIE, "")
        if not session or not self.valid(session) or not given:
            return False
        return _same(given, self.csrf_token(session))


def same_origin(request: Request) -> bool:
    """The POST comes from a page of this server (Origin, else Referer, must match)."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return False
    parts = urlsplit(origin)
    host = request.headers.get("host", "")
    return parts.scheme in ("http", "https") and parts.netloc == host

"""A thin HTTP(S) client for the server's Dapr and Wayline routes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from wayline.cli.errors import CliError, redact
from wayline.cli.options import DEFAULT_URL

if TYPE_CHECKING:
    import http.client
    import ssl


class Api:
    """A thin HTTP(S) client for the server's Dapr and Wayline routes (``http.client``:
    a full HTTP library costs more to import than a whole command takes to run)."""

    def __init__(self, url: str, api_token: str | None, ca_file: str | None = None) -> None:
        self._shown = redact(url.rstrip("/"), [api_token])
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
            raise CliError(
                f"server URL {self._shown!r} is not an http:// or https:// URL such as "
                f"{DEFAULT_URL}; fix --url or WAYLINE_URL"
            )
        self._tls = parts.scheme == "https"
        self._host = parts.hostname
        self._port = port or (443 if self._tls else 80)
        self._prefix = parts.path.rstrip("/")
        self._headers = {"dapr-api-token": api_token} if api_token else {}
        self._context: ssl.SSLContext | None = None
        if self._tls:
            import ssl

            try:
                self._context = ssl.create_default_context(cafile=ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise CliError(
                    f"--ca-file {ca_file!r}: cannot load CA certificates from it ({exc}); "
                    "give a PEM file"
                ) from None
        self._conn: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        import http.client

        if self._tls:
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=60.0, context=self._context
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=60.0)

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
    ) -> Any:
        import http.client
        import ssl

        target = self._prefix + path
        if params:
            target += ("&" if "?" in target else "?") + urlencode(params, doseq=True)
        headers = dict(self._headers)
        if json_body is not None:
            content = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            reused = self._conn is not None
            conn = self._conn = self._conn or self._connect()
            try:
                conn.request(method, target, body=content or None, headers=headers)
                response = conn.getresponse()
                data = response.read()
                break
            except ssl.SSLCertVerificationError as exc:
                raise CliError(
                    f"cannot trust the server at {self._shown}: {exc.verify_message}; give its "
                    "CA certificate with --ca-file (or WAYLINE_CA_FILE, SSL_CERT_FILE)"
                ) from None
            except ssl.SSLError as exc:
                raise CliError(
                    f"TLS with the server at {self._shown} failed ({exc.reason}); use http:// "
                    "if the server runs without --tls-cert"
                ) from None
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self._conn = None
                # a kept-alive connection the server has closed meanwhile: reconnect once
                stale = isinstance(
                    exc, http.client.RemoteDisconnected | ConnectionResetError | BrokenPipeError
                )
                if reused and stale and attempt == 1:
                    continue
                reason = str(exc) or type(exc).__name__
                raise CliError(
                    f"cannot reach the server at {self._shown}: {reason}; is `wayline serve` "
                    "running there? (set --url or WAYLINE_URL)"
                ) from None
        if response.status >= 400:
            try:
                body = json.loads(data)
                message = f"{body.get('errorCode', 'ERROR')}: {body.get('message', '')}"
            except (ValueError, AttributeError):
                message = data.decode(errors="replace").strip() or response.reason
            raise CliError(f"{message} (HTTP {response.status})")
        if not data:
            return {}
        return json.loads(data)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

"""Dapr's gRPC surfaces: durabletask ``TaskHubSidecarService`` and the runtime workflow RPCs.

Translation only (protobuf <-> ``WorkflowClient`` calls), on a ``grpc.aio`` server
that shares the engine's event loop.
"""

from __future__ import annotations

import grpc

from wayline.api.grpc.auth import ApiTokenInterceptor
from wayline.api.grpc.dapr_runtime import DaprRuntimeWorkflowService
from wayline.api.grpc.taskhub import TaskHubService
from wayline.client import WorkflowClient
from wayline.engine.remote import WorkerHub

__all__ = ["DEFAULT_GRPC_PORT", "GrpcServer"]

DEFAULT_GRPC_PORT = 50001
# Dapr clients send up to the grpc default receive size; payload limits are checked
# by the client layer with Wayline's own error message.
_OPTIONS = [
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    # The Dapr SDK pings every 30 s; allow it without GOAWAY (durabletask-protocol.md §1).
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
]


class GrpcServer:
    """A ``grpc.aio`` server with both services over one ``WorkflowClient``.

    Args:
        client: the management client every management RPC translates to.
        hub: where the worker RPCs (``GetWorkItems``, ``Complete*Task``) take work
            from and hand answers to; the engine running the store's work holds it.
        host, port: where to listen (port 0 picks a free one; see ``port`` after start).
        api_token: when set, every call must carry it as ``dapr-api-token`` metadata.
        tls: ``(certificate chain PEM, private key PEM)`` to serve over TLS; None: plaintext.
    """

    def __init__(
        self,
        client: WorkflowClient,
        hub: WorkerHub,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_GRPC_PORT,
        api_token: str | None = None,
        tls: tuple[bytes, bytes] | None = None,
    ) -> None:
        self.host = host
        self._tls = tls
        self.port = port
        self._taskhub = TaskHubService(client, hub)
        interceptors = [ApiTokenInterceptor(api_token)] if api_token else []
        self._server = grpc.aio.server(interceptors=interceptors, options=_OPTIONS)
        self._server.add_generic_rpc_handlers(
            (self._taskhub.handler(), DaprRuntimeWorkflowService(client).handler())
        )

    async def start(self) -> int:
        """Bind and start serving; returns the bound port."""
        address = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        try:
            if self._tls is None:
                bound = self._server.add_insecure_port(address)
            else:
                chain, key = self._tls
                credentials = grpc.ssl_server_credentials([(key, chain)])
                bound = self._server.add_secure_port(address, credentials)
        except RuntimeError as exc:
            raise OSError(
                f"cannot listen for gRPC on {address} ({exc}); use --grpc-port to pick another"
            ) from exc
        if bound == 0:
            raise OSError(f"cannot listen for gRPC on {address}; use --grpc-port to pick another")
        self.port = bound
        await self._server.start()
        return bound

    async def stop(self, grace: float = 5.0) -> None:
        """Stop accepting calls; in-flight calls get ``grace`` seconds to finish."""
        await self._server.stop(grace)
        self._taskhub.close()

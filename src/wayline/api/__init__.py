"""The network surfaces: Dapr's HTTP API and Wayline's own (``http``), the gRPC APIs (``grpc``)."""

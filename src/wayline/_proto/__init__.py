"""Generated protobuf messages (``scripts/gen_protos.sh``); used only by ``wayline.api.grpc``.

``dt``: durabletask (dapr/durabletask-protobuf@7d7391e) as package ``wayline.dt.v1``;
``daprrt``: the Dapr runtime workflow messages as ``wayline.daprrt.v1``. Own package
and file names, so they load next to the Dapr SDKs' copies (spec §10).
"""

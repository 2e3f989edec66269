#!/usr/bin/env bash
# Regenerate the committed protobuf modules under src/wayline/_proto/ from the .proto sources.
#
#   pip install -e '.[codegen]'     # grpcio-tools 1.75.x: protoc for protobuf 6.31, the same
#   scripts/gen_protos.sh           # generation dapr 1.18.3 ships, so any protobuf >=6.31,<8 works
#
# Messages only (--python_out/--pyi_out): the services are registered by path string in
# wayline.api.grpc so they answer on the paths the Dapr SDKs call (durabletask-protocol.md §10).
set -euo pipefail
PYTHON="${PYTHON:-python}"
cd "$(dirname "$0")/../src"
"$PYTHON" - <<'PY'
import importlib.metadata as md, sys
v = md.version("grpcio-tools")
if not v.startswith("1.75."):
    sys.exit(f"grpcio-tools {v} found; use 1.75.x (pip install -e '.[codegen]') so the gencode "
             "targets protobuf 6.31 like the dapr SDK's")
PY
rm -f wayline/_proto/*/*_pb2.py wayline/_proto/*/*_pb2.pyi
"$PYTHON" -m grpc_tools.protoc -I . --python_out=. --pyi_out=. \
    wayline/_proto/dt/*.proto wayline/_proto/daprrt/*.proto
echo "generated:" wayline/_proto/*/*_pb2.py

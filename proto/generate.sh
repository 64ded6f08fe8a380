#!/usr/bin/env bash
# Regenerate the committed Python stubs from proto/kms/v1/kms.proto.
set -euo pipefail
cd "$(dirname "$0")/.."
out=gateway/grpc_api/gen
mkdir -p "$out"
python -m grpc_tools.protoc -Iproto --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" proto/kms/v1/kms.proto
# grpc_tools writes absolute imports (`from kms.v1 import kms_pb2`); make them package-relative.
sed -i 's/^from kms\.v1 import kms_pb2/from gateway.grpc_api.gen.kms.v1 import kms_pb2/' "$out/kms/v1/kms_pb2_grpc.py"
touch "$out/__init__.py" "$out/kms/__init__.py" "$out/kms/v1/__init__.py"

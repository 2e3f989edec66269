"""``wayline serve --tls-cert/--tls-key``: HTTPS and gRPC over TLS on the same ports
(issue 11, item 12), with certificates made here by the ``openssl`` command line.

Checked as clients use it: httpx and a grpc secure channel trusting the test CA, the
``wayline`` CLI on an https URL (``--ca-file``, ``WAYLINE_CA_FILE``, ``SSL_CERT_FILE``),
and an unmodified Dapr SDK app whose worker stream and client both go over TLS.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest
from google.protobuf import empty_pb2

from support.server import Server, free_port

from .conftest import CLI_APP
from .test_cli import WAYLINE

TASKHUB_HELLO = "/TaskHubSidecarService/Hello"


@dataclass
class Certs:
    ca: Path
    cert: Path
    key: Path
    other_key: Path  # a valid key that does not belong to ``cert``
    encrypted_key: Path  # ``key`` under a passphrase


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    if shutil.which("openssl") is None:
        pytest.fail("the TLS tests make their certificates with the openssl command line")
    tmp = tmp_path_factory.mktemp("tls")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl(
        "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=Wayline test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=tmp,
    )  # fmt: skip
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost",
            cwd=tmp)  # fmt: skip
    (tmp / "ext.cnf").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
    )
    openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf",
        cwd=tmp,
    )  # fmt: skip
    openssl("pkey", "-in", "server.key", "-aes256", "-passout", "pass:hunter22",
            "-out", "encrypted.key", cwd=tmp)  # fmt: skip
    return Certs(
        tmp / "ca.pem",
        tmp / "server.pem",
        tmp / "server.key",
        tmp / "ca.key",
        tmp / "encrypted.key",
    )


def ca_context(certs: Certs) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certs.ca))


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory, certs: Certs) -> Iterator[Server]:
    server = Server(
        tmp_path_factory.mktemp("tls-server") / "wayline.db",
        apps=[CLI_APP],
        with_grpc=True,
        extra_args=["--log-level", "info"],
        env={"WAYLINE_TLS_CERT": str(certs.cert), "WAYLINE_TLS_KEY": str(certs.key)},  # env works
        tls_ca=certs.ca,
    )
    try:
        yield server.start()
    finally:
        assert server.stop() == 0, server.output()


def test_https_and_grpc_over_tls(tls_server: Server, certs: Certs) -> None:
    assert f"on https://127.0.0.1:{tls_server.port}" in tls_server.output()
    assert f"grpc port {tls_server.grpc_port} (TLS)" in tls_server.output()
    with httpx.Client(base_url=tls_server.url, verify=ca_context(certs), timeout=10) as http:
        started = http.post("/v1.0/workflows/dapr/cli_steps/start?instanceID=tls-1", content="3")
        assert started.status_code == 202, started.text
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{tls_server.url}/v1.0/healthz")  # the system CAs do not know ours
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{tls_server.port}/v1.0/healthz", timeout=5)

    target = f"127.0.0.1:{tls_server.grpc_port}"
    credentials = grpc.ssl_channel_credentials(root_certificates=certs.ca.read_bytes())
    hello = (TASKHUB_HELLO, empty_pb2.Empty.SerializeToString, empty_pb2.Empty.FromString)
    with grpc.secure_channel(target, credentials) as channel:
        assert channel.unary_unary(*hello)(empty_pb2.Empty(), timeout=10) == empty_pb2.Empty()
    with grpc.insecure_channel(target) as channel, pytest.raises(grpc.RpcError) as refused:
        channel.unary_unary(*hello)(empty_pb2.Empty(), timeout=5)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DAPR_", "WAYLINE_"))}
    base.pop("SSL_CERT_FILE", None)
    return subprocess.run(
        [WAYLINE, *args], env={**base, **env}, capture_output=True, text=True, timeout=60
    )


def test_the_cli_over_https(tls_server: Server, certs: Certs) -> None:
    url, ca = tls_server.url, str(certs.ca)
    localhost = f"https://localhost:{tls_server.port}"
    for result in (
        cli("start", "cli_steps", "--instance-id", "tls-cli", "--input", "4", "--url", url,
            "--ca-file", ca),
        cli("list", "--url", localhost, "--ca-file", ca),
        cli("list", "-o", "json", WAYLINE_URL=url, WAYLINE_CA_FILE=ca),
        cli("list", "-o", "json", WAYLINE_URL=url, SSL_CERT_FILE=ca),
    ):  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "tls-cli" in result.stdout
    untrusted = cli("list", "--url", url)
    assert untrusted.returncode == 1 and len(untrusted.stderr.splitlines()) == 1
    assert "cannot trust the server" in untrusted.stderr and "--ca-file" in untrusted.stderr
    missing = cli("list", "--url", url, "--ca-file", str(certs.ca.with_name("nope.pem")))
    assert missing.returncode == 1 and "--ca-file" in missing.stderr
    assert len(missing.stderr.splitlines()) == 1
    plain = cli("list", "--url", f"http://127.0.0.1:{tls_server.port}")
    assert plain.returncode == 1 and len(plain.stderr.splitlines()) == 1, plain.stderr


def test_a_dapr_sdk_app_over_tls(tls_server: Server, certs: Certs) -> None:
    """An unmodified dapr-ext-workflow app: its worker stream (remote activities and
    workflow turns) and its client both on the TLS gRPC port."""
    grpc_tests = Path(__file__).resolve().parents[1] / "grpc"
    if str(grpc_tests) not in sys.path:
        sys.path.insert(0, str(grpc_tests))
    from grpc_support import DAPR_EXT_118, SDK_DIR, sdk_python

    python = sdk_python("dapr-ext-workflow-1.18.3", DAPR_EXT_118)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAPR_", "WAYLINE_"))}
    env.pop("PYTHONPATH", None)
    env.update(
        DAPR_GRPC_ENDPOINT=f"127.0.0.1:{tls_server.grpc_port}?tls=true",
        GRPC_DEFAULT_SSL_ROOTS_FILE_PATH=str(certs.ca),  # how grpc clients trust a CA
        DAPR_RUNTIME_HOST="127.0.0.1",
        WORKER_READY_TIMEOUT="30",
    )
    worker = subprocess.Popen(
        [str(python), str(SDK_DIR / "worker_app.py")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready", worker.stderr
        script = (
            "import json; from dapr.ext.workflow import DaprWorkflowClient\n"
            "c = DaprWorkflowClient()\n"
            "i = c.schedule_new_workflow('remote_greet', input='ada', instance_id='tls-sdk')\n"
            "s = c.wait_for_workflow_completion(i, timeout_in_seconds=60)\n"
            "print(json.dumps([s.runtime_status.name, s.serialized_output]))\n"
        )
        client = subprocess.run(
            [str(python), "-c", script], env=env, capture_output=True, text=True, timeout=120
        )
        assert client.returncode == 0, client.stderr[-3000:]
        assert client.stdout.strip().splitlines()[-1] == '["COMPLETED", "\\"Hello, ada!\\""]'
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    shown = cli("get", "tls-sdk", "--url", tls_server.url, "--ca-file", str(certs.ca))
    assert shown.returncode == 0 and "COMPLETED" in shown.stdout, shown.stderr


def test_a_certificate_or_key_that_cannot_be_loaded(tmp_path: Path, certs: Certs) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    cases = [
        ((tmp_path / "missing.pem", certs.key), ("--tls-cert", "missing.pem", "cannot read")),
        ((certs.cert, tmp_path / "missing.key"), ("--tls-key", "missing.key", "cannot read")),
        ((garbage, certs.key), ("--tls-cert", "cannot load")),
        ((certs.cert, garbage), ("--tls-key", "cannot load")),
        ((certs.cert, certs.other_key), ("cannot load", "belongs to the certificate")),
        ((certs.cert, certs.encrypted_key), ("--tls-key", "encrypted", "unencrypted")),
    ]
    for (cert, key), needles in cases:
        started = time.monotonic()
        result = cli(
            "serve", "--tls-cert", str(cert), "--tls-key", str(key),
            "--port", str(free_port()), "--grpc-port", "0",
            "--store", f"sqlite:///{tmp_path / 'x.db'}",
        )  # fmt: skip
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and len(lines) == 1, result.stderr
        assert lines[0].startswith("error: ")
        for needle in needles:
            assert needle in lines[0], lines[0]
        assert "hunter22" not in result.stderr
        assert time.monotonic() - started < 30  # never waits for a passphrase on a terminal
    assert not (tmp_path / "x.db").exists()

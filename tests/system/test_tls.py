"""TLS on both listeners and client-certificate authentication, against real `kmsgw serve` processes.

A throwaway CA (tests/support/tls.py) signs the server certificate (127.0.0.1, localhost) and the
client certificates; a second CA signs a certificate the gateway must refuse. Clients: httpx over
https, grpc with ``ssl_channel_credentials``, the official SDK with a CA file, and a raw ``ssl``
socket pinned to one TLS version.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest

from gateway.app import config as config_mod
from gateway.app import tls
from gateway.core.auth import POLICY_RECHECK_SECONDS
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.gen.kms.v1 import kms_pb2_grpc as pb_grpc
from tests.support.gateway import kms_code, new_project_id
from tests.support.rest import sdk_home
from tests.support.serve import ServeProcess, cli, start_serve
from tests.support.tls import (
    CertificateAuthority,
    Issued,
    permissive_server,
    tls_probe,
    write_config,
    write_private,
)


@dataclass
class Pki:
    ca: CertificateAuthority
    server: Issued
    alice: Issued  # bound to a credential
    stranger: Issued  # signed by the CA, never bound
    rogue: Issued  # signed by another CA


@dataclass
class Gw:
    proc: ServeProcess
    project_id: str
    creds: dict
    pki: Pki

    @property
    def rest(self) -> str:
        return f"https://127.0.0.1:{self.proc.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.proc.grpc_port}"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca = CertificateAuthority(folder / "ca")
    rogue_ca = CertificateAuthority(folder / "rogue", "rogue CA")
    return Pki(ca, ca.issue("server", server=True), ca.issue("alice"), ca.issue("stranger"), rogue_ca.issue("rogue"))


def _start(tmp_path_factory: pytest.TempPathFactory, pki: Pki, client_auth: str, workers: int) -> Gw:
    data_dir = tmp_path_factory.mktemp(f"tls-{client_auth}") / "var"
    data_dir.mkdir()
    cfg = write_config(
        data_dir.parent / "kmsgw.toml",
        pki.server,
        client_ca=pki.ca.path if client_auth != "none" else None,
        client_auth=client_auth,
        workers=workers,
    )
    proc = start_serve(data_dir, "--config", str(cfg), timeout=120)
    project_id = new_project_id()
    creds = cli(data_dir, "credentials", "create", "--project-id", project_id)
    bound = cli(data_dir, "certificates", "bind", "--access-key", creds["access_key"], "--cert", str(pki.alice.cert))
    assert bound["fingerprint"] == tls.fingerprint(pki.alice.der())
    assert bound["project_id"] == project_id and bound["subject"] == "CN=alice"
    return Gw(proc, project_id, creds, pki)


@pytest.fixture(scope="module")
def mtls(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[Gw]:
    """client_auth = "required", two workers (each builds its own TLS contexts)."""
    gw = _start(tmp_path_factory, pki, "required", workers=2)
    yield gw
    assert gw.proc.terminate() == 0


@pytest.fixture(scope="module")
def optional(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[Gw]:
    gw = _start(tmp_path_factory, pki, "optional", workers=1)
    yield gw
    assert gw.proc.terminate() == 0


# -- clients ------------------------------------------------------------------------------------
def https(gw: Gw, client: Issued | None = None) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=str(gw.pki.ca.path))
    if client is not None:
        ctx.load_cert_chain(str(client.cert), str(client.key))
    return httpx.Client(base_url=gw.rest, verify=ctx, timeout=30, trust_env=False)


def rest_call(
    gw: Gw, op: str, body: dict, *, client: Issued | None = None, token: str | None = None, project: str = ""
) -> httpx.Response:
    headers = {"X-Auth-Token": token} if token else {}
    with https(gw, client) as http:
        return http.post(f"/v1.0/{project or gw.project_id}/kms{op}", json=body, headers=headers)


def grpc_stub(gw: Gw, client: Issued | None = None) -> tuple[grpc.Channel, pb_grpc.KeyManagementServiceStub]:
    creds = grpc.ssl_channel_credentials(
        root_certificates=gw.pki.ca.path.read_bytes(),
        private_key=client.key.read_bytes() if client else None,
        certificate_chain=client.cert.read_bytes() if client else None,
    )
    channel = grpc.secure_channel(gw.grpc_target, creds)
    return channel, pb_grpc.KeyManagementServiceStub(channel)


def grpc_error(gw: Gw, client: Issued | None, metadata: tuple = ()) -> grpc.RpcError:
    channel, stub = grpc_stub(gw, client)
    with channel, pytest.raises(grpc.RpcError) as info:
        stub.GenerateRandom(pb.GenerateRandomRequest(random_data_length=64), metadata=metadata, timeout=10)
    return info.value


def token_for(gw: Gw, project_id: str) -> str:
    return cli(gw.proc.data_dir, "token", "create", "--project-id", project_id)["token"]


def refused_version(port: int, gw: Gw, client: Issued | None, *, alpn: list[str]) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # ssl warns that TLS 1.1 is deprecated: the point
        with pytest.raises(ssl.SSLError) as info:
            tls_probe(port, ssl.TLSVersion.TLSv1_1, gw.pki.ca.path, client, alpn=alpn)
    return str(info.value)


# -- client_auth = "required" ---------------------------------------------------------------------
def test_healthz_over_tls(mtls: Gw) -> None:
    with https(mtls, mtls.pki.alice) as http:
        resp = http.get("/healthz")
    assert resp.status_code == 200, resp.text
    assert resp.http_version == "HTTP/1.1"


def test_bound_certificate_authenticates_rest_and_grpc_without_token(mtls: Gw) -> None:
    alice = mtls.pki.alice
    resp = rest_call(mtls, "/create-key", {"key_alias": f"mtls-{uuid.uuid4().hex[:8]}"}, client=alice)
    assert resp.status_code == 200, resp.text
    key_id = resp.json()["key_info"]["key_id"]
    channel, stub = grpc_stub(mtls, alice)
    with channel:
        info = stub.DescribeKey(pb.KeyIdRequest(key_id=key_id), timeout=30).key_info
        assert info.key_id == key_id  # same credential, same project, over the other transport
        dk = stub.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id), timeout=30)
        assert len(dk.plain_text) == 32
    back = rest_call(mtls, "/decrypt-datakey", _decrypt_body(key_id, dk), client=alice)
    assert back.status_code == 200, back.text
    assert bytes.fromhex(back.json()["data_key"]) == dk.plain_text


def _decrypt_body(key_id: str, dk: pb.CreateDataKeyResponse) -> dict:
    return {"key_id": key_id, "cipher_text": dk.cipher_text.hex(), "datakey_cipher_length": "32"}


def test_no_client_certificate_fails_the_handshake(mtls: Gw) -> None:
    with pytest.raises(httpx.TransportError):
        rest_call(mtls, "/gen-random", {"random_data_length": "64"}, token=token_for(mtls, mtls.project_id))
    err = grpc_error(mtls, None, (("x-auth-token", token_for(mtls, mtls.project_id)),))
    assert err.code() == grpc.StatusCode.UNAVAILABLE


def test_certificate_of_another_ca_fails_the_handshake(mtls: Gw) -> None:
    with pytest.raises(httpx.TransportError):
        rest_call(mtls, "/gen-random", {"random_data_length": "64"}, client=mtls.pki.rogue)
    assert grpc_error(mtls, mtls.pki.rogue).code() == grpc.StatusCode.UNAVAILABLE


def test_unbound_certificate_is_token_missing(mtls: Gw) -> None:
    resp = rest_call(mtls, "/gen-random", {"random_data_length": "64"}, client=mtls.pki.stranger)
    assert resp.status_code == 403
    assert resp.json()["error"]["error_code"] == "KMS.0301"
    err = grpc_error(mtls, mtls.pki.stranger)
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED and kms_code(err) == "KMS.0301"


def test_explicit_token_wins_over_the_certificate(mtls: Gw) -> None:
    other = new_project_id()
    token = token_for(mtls, other)
    ok = rest_call(mtls, "/gen-random", {"random_data_length": "64"}, client=mtls.pki.alice, token=token, project=other)
    assert ok.status_code == 200, ok.text
    # The token's project, not the certificate's: alice's own project is now someone else's.
    mismatch = rest_call(mtls, "/gen-random", {"random_data_length": "64"}, client=mtls.pki.alice, token=token)
    assert mismatch.status_code == 403 and mismatch.json()["error"]["error_code"] != "KMS.0301"
    bad = grpc_error(mtls, mtls.pki.alice, (("x-auth-token", "kmsgw1.not-a-token"),))
    assert bad.code() == grpc.StatusCode.UNAUTHENTICATED and kms_code(bad) != "KMS.0301"  # TOKEN_INVALID


def test_plaintext_clients_fail_on_tls_ports(mtls: Gw) -> None:
    with httpx.Client(timeout=10, trust_env=False) as http, pytest.raises(httpx.TransportError):
        http.get(f"http://127.0.0.1:{mtls.proc.http_port}/healthz")
    with grpc.insecure_channel(mtls.grpc_target) as channel:
        stub = pb_grpc.KeyManagementServiceStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.GenerateRandom(pb.GenerateRandomRequest(random_data_length=64), timeout=10)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize("port_of", ["rest", "grpc"])
def test_tls_1_1_is_refused_and_1_2_accepted(mtls: Gw, port_of: str) -> None:
    port = mtls.proc.http_port if port_of == "rest" else mtls.proc.grpc_port
    alpn = ["http/1.1"] if port_of == "rest" else ["h2"]
    # The probe allows TLS 1.1 ciphers at security level 0: the refusal is the server's alert.
    # gRPC answers a protocol_version alert; asyncio's TLS transport (REST) closes without flushing its alert.
    refusal = refused_version(port, mtls, mtls.pki.alice, alpn=alpn).upper()
    assert any(why in refusal for why in ("PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL", "UNEXPECTED_EOF")), refusal
    assert tls_probe(port, ssl.TLSVersion.TLSv1_2, mtls.pki.ca.path, mtls.pki.alice, alpn=alpn) == "TLSv1.2"


def test_the_probe_really_speaks_tls_1_1(pki: Pki) -> None:
    """Without this, a refused TLS 1.1 handshake could be this client's own OpenSSL policy."""
    with warnings.catch_warnings(), permissive_server(pki.server) as port:
        warnings.simplefilter("ignore", DeprecationWarning)
        assert tls_probe(port, ssl.TLSVersion.TLSv1_1, pki.ca.path) == "TLSv1.1"


def test_official_sdk_over_https(mtls: Gw, tmp_path: Path) -> None:
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.http.http_config import HttpConfig
    from huaweicloudsdkkms.v2 import KmsClient
    from huaweicloudsdkkms.v2 import model as m

    config = HttpConfig.get_default_config()
    config.timeout = (10, 60)
    config.ssl_ca_cert = str(mtls.pki.ca.path)
    config.cert_file, config.key_file = str(mtls.pki.alice.cert), str(mtls.pki.alice.key)
    creds = mtls.creds
    with sdk_home(str(tmp_path)):
        client = (
            KmsClient.new_builder()
            .with_http_config(config)
            .with_credentials(BasicCredentials(creds["access_key"], creds["secret_key"], creds["project_id"]))
            .with_endpoint(mtls.rest)
            .build()
        )
    alias = f"sdk-tls-{uuid.uuid4().hex[:8]}"
    key = client.create_key(m.CreateKeyRequest(body=m.CreateKeyRequestBody(key_alias=alias))).key_info
    described = client.list_key_detail(m.ListKeyDetailRequest(body=m.OperateKeyRequestBody(key_id=key.key_id)))
    assert described.key_info.key_alias == alias


def test_unbind_takes_effect_on_a_running_server(mtls: Gw, tmp_path: Path) -> None:
    bob = mtls.pki.ca.issue(f"bob-{uuid.uuid4().hex[:6]}")
    creds = cli(mtls.proc.data_dir, "credentials", "create", "--project-id", new_project_id())
    bound = cli(
        mtls.proc.data_dir, "certificates", "bind", "--access-key", creds["access_key"], "--cert", str(bob.cert)
    )
    listed = cli(mtls.proc.data_dir, "certificates", "list", "--access-key", creds["access_key"])["bindings"]
    assert [b["fingerprint"] for b in listed] == [bound["fingerprint"]]
    body = {"random_data_length": "64"}
    assert rest_call(mtls, "/gen-random", body, client=bob, project=creds["project_id"]).status_code == 200
    colon_form = ":".join(bound["fingerprint"][i : i + 2] for i in range(0, 64, 2)).upper()
    assert cli(mtls.proc.data_dir, "certificates", "unbind", "--fingerprint", colon_form)["unbound"] is True
    deadline = time.monotonic() + POLICY_RECHECK_SECONDS + 10
    while True:  # both workers must stop honouring it within the re-check bound
        answers = [rest_call(mtls, "/gen-random", body, client=bob, project=creds["project_id"]) for _ in range(4)]
        codes = {resp.status_code for resp in answers}
        if codes == {403}:
            break
        assert time.monotonic() < deadline, codes
        time.sleep(0.5)


# -- client_auth = "optional" ---------------------------------------------------------------------
def test_optional_mode_rest_with_and_without_certificate(optional: Gw) -> None:
    token = token_for(optional, optional.project_id)
    assert rest_call(optional, "/gen-random", {"random_data_length": "64"}, token=token).status_code == 200
    by_cert = rest_call(optional, "/gen-random", {"random_data_length": "64"}, client=optional.pki.alice)
    assert by_cert.status_code == 200, by_cert.text
    missing = rest_call(optional, "/gen-random", {"random_data_length": "64"})
    assert missing.status_code == 403 and missing.json()["error"]["error_code"] == "KMS.0301"
    with pytest.raises(httpx.TransportError):  # a certificate it cannot verify is still refused
        rest_call(optional, "/gen-random", {"random_data_length": "64"}, client=optional.pki.rogue)


def test_optional_mode_grpc_uses_tokens(optional: Gw) -> None:
    """grpcio can only not ask for a certificate or require one: in optional mode it does not ask."""
    token = token_for(optional, optional.project_id)
    channel, stub = grpc_stub(optional)
    with channel:
        resp = stub.GenerateRandom(
            pb.GenerateRandomRequest(random_data_length=64), metadata=(("x-auth-token", token),), timeout=30
        )
    assert len(resp.random_data) == 8
    err = grpc_error(optional, optional.pki.alice)
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED and kms_code(err) == "KMS.0301"


# -- configuration refused at start ---------------------------------------------------------------
def test_key_file_readable_by_others_refuses_to_start(pki: Pki, tmp_path: Path) -> None:
    key = tmp_path / "server.key"
    write_private(key, pki.server.key.read_bytes())
    key.chmod(0o644)
    cfg = write_config(tmp_path / "kmsgw.toml", Issued(pki.server.cert, key))
    out = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--config", str(cfg), "--data-dir", str(tmp_path / "var")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "chmod 600" in out.stderr and str(key) in out.stderr
    assert not (tmp_path / "var").exists()  # refused before touching the data dir


def _tls_cfg(pki: Pki, **kw: str) -> config_mod.TlsConfig:
    fields = {"cert_file": str(pki.server.cert), "key_file": str(pki.server.key)} | kw
    return config_mod.TlsConfig(**fields)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"client_auth": "sometimes"}, "client_auth must be one of"),
        ({"client_auth": "required"}, "needs client_ca_file"),
        ({"key_file": ""}, "needs both cert_file and key_file"),
        ({"cert_file": "/nonexistent/server.crt"}, "cannot read cert_file"),
        ({"cert_file": "", "key_file": "", "client_auth": "required"}, "need cert_file and key_file"),
        ({"cert_file": "", "key_file": "", "client_ca_file": "/etc/ca.crt"}, "need cert_file and key_file"),
    ],
)
def test_bad_tls_sections_are_refused(pki: Pki, fields: dict, message: str) -> None:
    with pytest.raises(tls.TlsConfigError, match=message):
        tls.load(_tls_cfg(pki, **fields))


def test_key_that_does_not_match_the_certificate_is_refused(pki: Pki) -> None:
    with pytest.raises(tls.TlsConfigError, match="cannot use cert_file"):
        tls.load(_tls_cfg(pki, key_file=str(pki.alice.key)))


def test_tls_section_from_toml_resolves_relative_paths(pki: Pki, tmp_path: Path) -> None:
    toml = '[tls]\ncert_file = "certs/s.crt"\nkey_file = "certs/s.key"\nclient_auth = "optional"\n'
    (tmp_path / "k.toml").write_text(toml)
    cfg = config_mod.load(str(tmp_path / "k.toml"))
    assert cfg.tls.cert_file == str(tmp_path / "certs/s.crt") and cfg.tls.client_auth == "optional"
    assert cfg.tls.enabled and not config_mod.Config().tls.enabled


def test_server_context_is_tls12_minimum_with_aead_ciphers(pki: Pki) -> None:
    material = tls.load(_tls_cfg(pki, client_auth="required", client_ca_file=str(pki.ca.path)))
    assert material is not None
    ctx = tls.rest_context(material)
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2 and ctx.verify_mode == ssl.CERT_REQUIRED
    tls12 = [c for c in ctx.get_ciphers() if c["protocol"] == "TLSv1.2"]
    assert tls12 and all(c["aead"] and c["kea"] == "kx-ecdhe" for c in tls12)


# -- the CLI's refusals ---------------------------------------------------------------------------
def test_bind_refuses_unknown_access_key_and_rebinding(mtls: Gw) -> None:
    data_dir = mtls.proc.data_dir
    env_cmd = [sys.executable, "-m", "gateway", "certificates"]

    env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}  # the data dir's own, as cli() does

    def run(*args: str) -> subprocess.CompletedProcess:
        cmd = [*env_cmd, *args, "--data-dir", str(data_dir)]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)

    unknown = run("bind", "--access-key", "NOSUCHKEY", "--cert", str(mtls.pki.stranger.cert))
    assert unknown.returncode == 2 and "unknown access key" in unknown.stderr
    other = cli(data_dir, "credentials", "create", "--project-id", new_project_id())
    again = run("bind", "--access-key", other["access_key"], "--cert", str(mtls.pki.alice.cert))
    assert again.returncode == 2 and mtls.creds["access_key"] in again.stderr
    alice = str(mtls.pki.alice.cert)
    same = cli(data_dir, "certificates", "bind", "--access-key", mtls.creds["access_key"], "--cert", alice)
    assert same["access_key"] == mtls.creds["access_key"]  # binding again to the same credential is a no-op
    nothing = run("unbind", "--fingerprint", "00" * 32)
    assert nothing.returncode == 2 and "is bound" in nothing.stderr


def test_silent_client_is_cut_off_at_the_tls_handshake_deadline(optional: Gw):
    """A client that connects and never sends a ClientHello holds its descriptor only until the
    handshake deadline (TLS_HANDSHAKE_TIMEOUT_S), not asyncio's default 60 s."""
    import socket
    import time

    from gateway.app.server import TLS_HANDSHAKE_TIMEOUT_S

    with socket.create_connection(("127.0.0.1", optional.proc.http_port), timeout=60) as sock:
        start = time.monotonic()
        assert sock.recv(1) == b""  # closed by the server, nothing sent
        waited = time.monotonic() - start
    assert TLS_HANDSHAKE_TIMEOUT_S - 1 <= waited < TLS_HANDSHAKE_TIMEOUT_S + 15

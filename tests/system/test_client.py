"""gateway.client.KmsClient against a real gateway: every call, batches, errors, retries, TLS.

The in-process ``gateway`` fixture serves most tests; retries use real `kmsgw serve` processes
(one not yet up, one restarted on the same port); TLS runs the real KMS servicer on a TLS port
of the same runtime.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
import os
import re
import threading
import time
import uuid
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.client import Backoff, KmsClient, KmsClientError
from gateway.client.retry import retryable
from tests.support.gateway import Gateway, new_project_id
from tests.support.kms import free_port
from tests.support.serve import cli, start_serve

CTX = {"app": "client-tests"}
FAST = Backoff(base=0.05, cap=0.5)


def alias() -> str:
    return f"c-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def client(gateway: Gateway):
    with KmsClient(gateway.grpc_target, token=gateway.token(), timeout=30, retries=2, backoff=FAST) as c:
        yield c


@pytest.fixture
def key(client: KmsClient) -> str:
    return client.create_key(alias()).key_id


def expect(status: grpc.StatusCode, code: str, fn, *args, **kw) -> KmsClientError:
    with pytest.raises(KmsClientError) as info:
        fn(*args, **kw)
    err = info.value
    assert (err.status, err.code) == (status, code), err
    assert err.message and str(err).startswith(code)
    return err


# -- key lifecycle ------------------------------------------------------------------------
def test_key_lifecycle(client):
    info = client.create_key(alias(), description="orders")
    assert (info.key_state, info.key_spec, info.key_description) == (2, "AES_256", "orders")
    assert client.describe_key(info.key_id) == info
    assert client.disable_key(info.key_id).key_state == 3
    assert client.enable_key(info.key_id).key_state == 2
    scheduled = client.schedule_key_deletion(info.key_id, 7)
    assert (scheduled.key_id, scheduled.key_state) == (info.key_id, 4)
    assert client.describe_key(info.key_id).scheduled_deletion_date > 0
    cancelled = client.cancel_key_deletion(info.key_id)
    assert (cancelled.key_id, cancelled.key_state) == (info.key_id, 3)


def test_list_keys_pages(client):
    made = {client.create_key(alias()).key_id for _ in range(5)}
    page = client.list_keys(limit=2)
    assert page.truncated and page.next_marker and len(page.key_details) == 2 and page.total == 5
    listed = [k.key_id for k in client.iter_keys(page_size=2)]
    assert sorted(listed) == sorted(made)
    client.disable_key(listed[0])
    assert [k.key_id for k in client.iter_keys(key_state=3)] == [listed[0]]
    assert client.get_user_instances() == 5
    quotas = {q.type: q for q in client.get_user_quotas().resources}
    assert quotas["CMK"].used == 5


# -- random, data keys, data ---------------------------------------------------------------
def test_generate_random(client):
    assert len(client.generate_random(256).random_data) == 32
    expect(grpc.StatusCode.INVALID_ARGUMENT, "KMS.1801", client.generate_random, 12)


def test_data_keys(client, key):
    dk = client.create_data_key(key, context=CTX)
    assert dk.key_id == key and len(dk.plain_text) == 32 and dk.cipher_text
    out = client.decrypt_data_key(key, dk.cipher_text, context=CTX)
    assert out.data_key == dk.plain_text and out.datakey_digest == hashlib.sha256(dk.plain_text).digest()
    expect(grpc.StatusCode.INVALID_ARGUMENT, "KMS.2201", client.decrypt_data_key, key, dk.cipher_text, context={})

    bare = client.create_data_key_without_plaintext(key, bits=512)
    assert (
        bare.plain_text == b""
        and client.decrypt_data_key(key, bare.cipher_text, datakey_length=64).datakey_length == 64
    )

    own = os.urandom(32)
    wrapped = client.encrypt_data_key(key, own, context=CTX)
    assert wrapped.datakey_length == 32
    assert client.decrypt_data_key(key, wrapped.cipher_text, context=CTX).data_key == own


def test_data(client, key):
    ct = client.encrypt_data(key, b"hello gateway", context=CTX)
    assert ct.key_id == key
    assert client.decrypt_data(ct.cipher_text, context=CTX).plain_text == b"hello gateway"
    assert client.decrypt_data(ct.cipher_text, context=CTX, key_id=key).key_id == key
    expect(grpc.StatusCode.INVALID_ARGUMENT, "KMS.0308", client.decrypt_data, ct.cipher_text[:-1], context=CTX)


def test_batches(client, key):
    made = client.batch_create_data_keys(key, 5, context=CTX)
    assert made.key_id == key and len(made.results) == 5
    assert all(len(r.plain_text) == 32 and not r.HasField("error") for r in made.results)
    bare = client.batch_create_data_keys(key, 3, without_plaintext=True)
    assert [r.plain_text for r in bare.results] == [b""] * 3

    own = [os.urandom(32) for _ in range(3)]
    wrapped = client.batch_encrypt_data_keys(key, own, context=CTX)
    cts = [r.cipher_text for r in wrapped.results]
    cts.insert(1, b"\x00" * 80)  # one bad item: its own error, the others succeed
    out = client.batch_decrypt_data_keys(key, cts, context=CTX)
    assert [r.data_key for r in out.results if not r.HasField("error")] == own
    assert out.results[1].HasField("error") and out.results[1].error.error_code.startswith("KMS.")
    back = client.batch_decrypt_data_keys(key, [r.cipher_text for r in made.results], context=CTX)
    assert [r.data_key for r in back.results] == [r.plain_text for r in made.results]


def test_generic_call_reaches_other_rpcs(client, key):
    from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb

    status = client.call("GetKeyRotationStatus", pb.KeyIdRequest(key_id=key))
    assert status.key_id == key and not status.key_rotation_enabled


# -- errors ------------------------------------------------------------------------------
def test_errors_carry_status_and_kms_code(gateway, client, key):
    expect(grpc.StatusCode.NOT_FOUND, "KMS.0207", client.describe_key, str(uuid.uuid4()))
    expect(grpc.StatusCode.INVALID_ARGUMENT, "KMS.0205", client.describe_key, "not-a-key-id")
    name = alias()
    client.create_key(name)
    expect(grpc.StatusCode.INVALID_ARGUMENT, "KMS.1104", client.create_key, name)
    expect(grpc.StatusCode.FAILED_PRECONDITION, "KMS.1201", client.enable_key, key)  # not disabled
    client.disable_key(key)
    expect(grpc.StatusCode.FAILED_PRECONDITION, "KMS.0209", client.create_data_key, key)
    with KmsClient(gateway.grpc_target, retries=0) as anonymous:
        expect(grpc.StatusCode.UNAUTHENTICATED, "KMS.0301", anonymous.describe_key, key)
    with KmsClient(gateway.grpc_target, token="not-a-token", retries=0) as forged:
        expect(grpc.StatusCode.UNAUTHENTICATED, "KMS.0302", forged.describe_key, key)


def test_token_file_must_be_private(gateway, tmp_path):
    path = tmp_path / "token"
    token = gateway.token()
    path.write_text(token + "\n")
    path.chmod(0o644)
    with pytest.raises(ValueError, match="chmod 600"):
        KmsClient(gateway.grpc_target, token_file=path)
    path.chmod(0o600)
    with KmsClient(gateway.grpc_target, token_file=path) as c:
        assert c.get_user_instances() == 0
    assert token not in repr(c)


# -- retries -------------------------------------------------------------------------------
def test_retry_policy():
    unavailable, deadline = grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED
    assert retryable("CreateKey", unavailable) and retryable("DescribeKey", unavailable)
    assert retryable("DecryptDataKey", deadline) and retryable("ListKeys", deadline)
    assert not retryable("CreateKey", deadline) and not retryable("CreateDataKey", deadline)
    assert not retryable("DescribeKey", grpc.StatusCode.INTERNAL)
    delays = [Backoff(base=0.1, cap=1.0).delay(n) for n in range(8)]
    assert all(0.05 <= d <= 1.0 for d in delays) and delays[-1] >= 0.5


def test_unreachable_gives_up_after_retries():
    with KmsClient(f"127.0.0.1:{free_port()}", token="t", retries=2, backoff=FAST, timeout=5) as c:
        with pytest.raises(KmsClientError) as info:
            c.describe_key(str(uuid.uuid4()))
    assert info.value.status == grpc.StatusCode.UNAVAILABLE and info.value.unreachable and not info.value.code
    assert c.retried == 2


def test_retries_until_server_is_up_and_across_restart(tmp_path: Path):
    data_dir = tmp_path / "var"
    token = cli(data_dir, "token", "create", "--project-id", new_project_id())["token"]
    port = free_port()
    listen = ("--grpc-listen", f"127.0.0.1:{port}", "--workers", "1")
    client = KmsClient(f"127.0.0.1:{port}", token=token, retries=120, backoff=Backoff(base=0.1, cap=0.5), timeout=10)
    result: dict = {}

    def create() -> None:
        try:
            result["key"] = client.create_key(alias())
        except Exception as exc:
            result["error"] = exc

    # A server not yet up: the call waits through UNAVAILABLE until it is.
    caller = threading.Thread(target=create)
    caller.start()
    time.sleep(1.0)
    srv = start_serve(data_dir, *listen)
    try:
        caller.join(60)
        assert "error" not in result, result
        key_id = result["key"].key_id
        assert client.retried > 0

        # Restart on the same port while another thread keeps calling: no call fails.
        stop, errors, done = threading.Event(), [], []

        def loop() -> None:
            while not stop.is_set():
                try:
                    done.append((time.monotonic(), client.describe_key(key_id).key_id))
                except Exception as exc:
                    errors.append(exc)

        worker = threading.Thread(target=loop)
        worker.start()
        retried_before = client.retried
        time.sleep(0.3)
        assert srv.terminate() == 0
        down_at = time.monotonic()
        time.sleep(0.5)
        srv = start_serve(data_dir, *listen)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sum(t > down_at for t, _ in done) < 5:
            time.sleep(0.1)
        stop.set()
        worker.join(30)
        assert not errors, errors
        assert sum(t > down_at for t, _ in done) >= 5 and client.retried > retried_before
        assert {k for _, k in done} == {key_id}
    finally:
        client.close()
        srv.terminate()


# -- TLS -------------------------------------------------------------------------------------
def _cert(subject: str, key, issuer=None, issuer_key=None, *, ca: bool = False, server: bool = False):
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


def _pem(obj) -> bytes:
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM)
    return obj.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("test CA", ca_key, ca=True)
    files: dict[str, Path] = {}
    for name, obj in {"ca.pem": ca}.items():
        files[name] = d / name
        files[name].write_bytes(_pem(obj))
    for who, server in (("server", True), ("client", False)):
        k = ec.generate_private_key(ec.SECP256R1())
        files[f"{who}.pem"] = d / f"{who}.pem"
        files[f"{who}.pem"].write_bytes(_pem(_cert(who, k, ca, ca_key, server=server)))
        files[f"{who}.key"] = d / f"{who}.key"
        files[f"{who}.key"].write_bytes(_pem(k))
        files[f"{who}.key"].chmod(0o600)
    return files


@pytest.fixture
def tls_target(gateway: Gateway, pki, request):
    """The real KMS servicer of the session's runtime on a TLS port (mTLS when parametrized so)."""
    from gateway.grpc_api.server import add_kms_service
    from gateway.grpc_api.servicer import KmsServicer

    mutual = getattr(request, "param", False)

    async def start():
        server = grpc.aio.server()
        add_kms_service(KmsServicer(gateway.rt.services), server)
        creds = grpc.ssl_server_credentials(
            [(pki["server.key"].read_bytes(), pki["server.pem"].read_bytes())],
            root_certificates=pki["ca.pem"].read_bytes() if mutual else None,
            require_client_auth=mutual,
        )
        port = server.add_secure_port("127.0.0.1:0", creds)
        await server.start()
        return server, port

    server, port = gateway.call(start())
    yield f"127.0.0.1:{port}"
    gateway.call(server.stop(0))


def test_tls(gateway, pki, tls_target):
    token = gateway.token()
    with KmsClient(tls_target, token=token, ca_file=pki["ca.pem"]) as c:
        assert len(c.generate_random(64).random_data) == 8
    with KmsClient(f"localhost:{tls_target.rsplit(':', 1)[1]}", token=token, ca_file=pki["ca.pem"]) as c:
        assert c.get_user_instances() == 0
    with KmsClient(tls_target, token=token, retries=0, timeout=5) as plain:  # plaintext to a TLS port
        with pytest.raises(KmsClientError) as info:
            plain.get_user_instances()
        assert info.value.unreachable


@pytest.mark.parametrize("tls_target", [True], indirect=True)
def test_mutual_tls(gateway, pki, tls_target):
    token = gateway.token()
    with KmsClient(
        tls_target, token=token, ca_file=pki["ca.pem"], cert_file=pki["client.pem"], key_file=pki["client.key"]
    ) as c:
        assert len(c.generate_random(64).random_data) == 8
    with KmsClient(tls_target, token=token, ca_file=pki["ca.pem"], retries=0, timeout=5) as no_cert:
        with pytest.raises(KmsClientError) as info:
            no_cert.get_user_instances()
        assert info.value.status == grpc.StatusCode.UNAVAILABLE
    with pytest.raises(ValueError, match="both"):
        KmsClient(tls_target, ca_file=pki["ca.pem"], cert_file=pki["client.pem"])


# -- docs/client.md ----------------------------------------------------------------------------
def test_docs_envelope_example_runs_as_written(gateway, tmp_path, monkeypatch, capsys):
    doc = (Path(__file__).resolve().parents[2] / "docs" / "client.md").read_text()
    example = re.findall(r"```python\n(.*?)```", doc, re.S)[0]
    token = gateway.token()
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    with KmsClient(gateway.grpc_target, token=token) as c:
        key_id = c.create_key(alias()).key_id
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KMSGW_TARGET", gateway.grpc_target)
    monkeypatch.setenv("KMSGW_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("KEY_ID", key_id)
    exec(compile(example, "docs/client.md", "exec"), {"__name__": "__main__"})
    assert capsys.readouterr().out == "quarterly numbers\n"
    stored = json.loads((tmp_path / "report.txt.key").read_text())
    assert stored["key_id"] == key_id and stored["context"] == {"file": "report.txt"}

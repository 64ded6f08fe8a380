"""The wire itself: SigV4 refusals as AWS names them, unknown targets, the server's own shape checks
(botocore validates before sending, so these requests are signed by hand), the error document."""

from __future__ import annotations

import datetime
import json
from typing import Any
from unittest import mock

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.aws.conftest import AwsGateway


def signed(
    gw: AwsGateway,
    cred: dict[str, Any],
    target: str,
    body: bytes,
    *,
    service: str = "kms",
    region: str = "us-east-1",
    when: datetime.datetime | None = None,
) -> httpx.Response:
    request = AWSRequest(
        "POST",
        gw.endpoint + "/",
        data=body,
        headers={"X-Amz-Target": f"TrentService.{target}", "Content-Type": "application/x-amz-json-1.1"},
    )
    signer = SigV4Auth(Credentials(cred["AccessKeyId"], cred["SecretAccessKey"]), service, region)
    if when is None:
        signer.add_auth(request)
    else:  # a request signed at another time (botocore reads the time through get_current_datetime)
        with mock.patch("botocore.auth.get_current_datetime", lambda: when.replace(tzinfo=None)):
            signer.add_auth(request)
    return httpx.post(request.url, content=body, headers=dict(request.headers.items()), timeout=30)


def test_authentication_failures(aws_gateway: AwsGateway, admin: dict[str, Any]) -> None:
    unknown = {"AccessKeyId": "AKIANOBODY", "SecretAccessKey": "x"}
    with_wrong_secret = {**admin, "SecretAccessKey": "wrong"}
    for cred, name in ((unknown, "UnrecognizedClientException"), (with_wrong_secret, "InvalidSignatureException")):
        try:
            aws_gateway.client(cred).list_keys()
        except ClientError as exc:
            assert (exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"]) == (name, 400)
        else:
            raise AssertionError(name)
    old = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=6)
    resp = signed(aws_gateway, admin, "ListKeys", b"{}", when=old)
    assert (resp.status_code, resp.json()["__type"]) == (400, "InvalidSignatureException")
    assert "expired" in resp.json()["message"]
    recent = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=4)
    assert signed(aws_gateway, admin, "ListKeys", b"{}", when=recent).status_code == 200
    resp = signed(aws_gateway, admin, "ListKeys", b"{}", service="s3")
    assert resp.json()["__type"] == "InvalidSignatureException"
    resp = httpx.post(aws_gateway.endpoint + "/", headers={"X-Amz-Target": "TrentService.ListKeys"}, content=b"{}")
    assert (resp.status_code, resp.json()["__type"]) == (400, "MissingAuthenticationTokenException")
    half = {"X-Amz-Target": "TrentService.ListKeys", "Authorization": "AWS4-HMAC-SHA256 Credential=AKIA/x"}
    resp = httpx.post(aws_gateway.endpoint + "/", headers=half, content=b"{}")
    assert (resp.status_code, resp.json()["__type"]) == (400, "IncompleteSignatureException")


def test_unknown_targets_and_bodies(aws_gateway: AwsGateway, admin: dict[str, Any]) -> None:
    resp = signed(aws_gateway, admin, "ConnectCustomKeyStore", b"{}")
    assert (resp.status_code, resp.json()["__type"]) == (400, "UnknownOperationException")
    assert resp.headers["content-type"] == "application/x-amz-json-1.1"
    for body in (b"not json", b"[1]", b'{"NumberOfBytes": "ten"}'):
        resp = signed(aws_gateway, admin, "GenerateRandom", body)
        assert (resp.status_code, resp.json()["__type"]) == (400, "SerializationException"), body
    resp = signed(aws_gateway, admin, "GenerateRandom", json.dumps({"NumberOfBytes": 1025}).encode())
    assert (resp.status_code, resp.json()["__type"]) == (400, "ValidationException")
    assert "less than or equal to 1024" in resp.json()["message"]
    for size in (0, 1025):  # a data key is 1 to 1024 bytes
        body = json.dumps({"KeyId": "alias/any", "NumberOfBytes": size}).encode()
        resp = signed(aws_gateway, admin, "GenerateDataKey", body)
        assert (resp.status_code, resp.json()["__type"]) == (400, "ValidationException"), size
    resp = signed(aws_gateway, admin, "Encrypt", json.dumps({"Plaintext": "eA=="}).encode())
    assert resp.json()["__type"] == "ValidationException" and "'keyId'" in resp.json()["message"]
    resp = signed(aws_gateway, admin, "CreateKey", json.dumps({"KeySpec": "HMAC_256"}).encode())
    assert resp.json()["__type"] == "UnsupportedOperationException"
    resp = signed(aws_gateway, admin, "GenerateRandom", json.dumps({"NumberOfBytes": 8}).encode())
    assert resp.status_code == 200 and resp.headers["x-amzn-requestid"]


def test_a_body_over_one_mib_is_refused(aws_gateway: AwsGateway, admin: dict[str, Any]) -> None:
    """Declared over the limit: ValidationException before the body is read (nor its signature checked)."""
    body = json.dumps({"NumberOfBytes": 8, "Padding": "p" * (1 << 20)}).encode()
    resp = signed(aws_gateway, admin, "GenerateRandom", body)
    assert (resp.status_code, resp.json()["__type"]) == (400, "ValidationException")
    assert "exceeds 1048576 bytes" in resp.json()["message"]


def test_dry_run(kms: Any, key: dict[str, Any]) -> None:
    try:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", DryRun=True)
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "DryRunOperationException"
    else:
        raise AssertionError("DryRun answered")


def test_the_rest_api_is_untouched(aws_gateway: AwsGateway) -> None:
    resp = httpx.post(aws_gateway.endpoint + "/v1.0/p/kms/create-key", json={})
    assert "error" in resp.json()  # the REST envelope, not the AWS one


def test_not_served_without_aws(tmp_path: Any) -> None:
    from tests.support.serve import start_serve

    srv = start_serve(tmp_path / "var", "--workers", "1")
    try:
        resp = httpx.post(f"http://127.0.0.1:{srv.http_port}/", headers={"X-Amz-Target": "TrentService.ListKeys"})
        assert "__type" not in resp.text
    finally:
        assert srv.terminate() == 0

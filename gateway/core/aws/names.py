"""AWS names over gateway keys: accounts, regions, key ARNs, aliases, and the account -> project map.

Namespaces: an AWS account is one gateway project (``aws-<account>`` unless ``kmsgw aws credentials
create --project-id`` names another), so its keys are that project's keys on the REST and gRPC APIs
too. A key also belongs to the region it was created in (the scope region of the SigV4 credential
that made it): the AWS API sees it only through that region; a key id or ARN of another region is
NotFoundException, as on AWS. Aliases are per account and region, as on AWS.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from gateway.core.aws.errors import AwsError, AwsName, not_found
from gateway.core.validate import KEY_ID_RE

ACCOUNT_RE = re.compile(r"^\d{12}$")
REGION_RE = re.compile(r"^[a-z]{2}(-[a-z0-9]+){1,3}$")
ALIAS_PREFIX = "alias/"
RESERVED_ALIAS_PREFIX = "alias/aws/"
ALIAS_NAME_RE = re.compile(r"^alias/[a-zA-Z0-9/_-]+$")
KEY_ARN_RE = re.compile(r"^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):key/(.+)$")
ALIAS_ARN_RE = re.compile(r"^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):(alias/.+)$")


def default_project(account_id: str) -> str:
    """The gateway project of an account whose credentials named none."""
    return f"aws-{account_id}"


def check_account(account_id: str) -> str:
    if not ACCOUNT_RE.fullmatch(account_id):
        raise ValueError("an AWS account id is 12 digits")
    return account_id


def key_arn(region: str, account_id: str, key_id: str) -> str:
    return f"arn:aws:kms:{region}:{account_id}:key/{key_id}"


def alias_arn(region: str, account_id: str, alias_name: str) -> str:
    return f"arn:aws:kms:{region}:{account_id}:{alias_name}"


def root_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:root"


def user_arn(account_id: str, user_name: str) -> str:
    return f"arn:aws:iam::{account_id}:user/{user_name}"


@dataclass(frozen=True)
class KeyRef:
    """What a request's KeyId names: a key id or an alias, in one account and region."""

    account_id: str
    region: str
    key_id: str = ""  # a key id (UUID), or
    alias_name: str = ""  # an alias name (alias/...)


@functools.lru_cache(maxsize=4096)  # pure, and every request names its key: the regexes run once per name
def parse_key_ref(value: str, account_id: str, region: str, *, aliases: bool = True) -> KeyRef:
    """A KeyId as AWS accepts it: key id, key ARN, alias name or alias ARN (``aliases`` False: the
    first two only, as TargetKeyId and a grant's KeyId take). An ARN names its own account and
    region; the caller's are the default."""
    m = KEY_ARN_RE.fullmatch(value)
    if m:
        region_of, account_of, key_id = m.groups()
        return KeyRef(account_of, region_of, key_id=_key_id(key_id, value))
    if value.startswith(ALIAS_PREFIX) or ALIAS_ARN_RE.fullmatch(value):
        if not aliases:
            raise AwsError(AwsName.VALIDATION, f"Invalid keyId {value}: an alias is not accepted here.")
        m = ALIAS_ARN_RE.fullmatch(value)
        if m:
            return KeyRef(m.group(2), m.group(1), alias_name=m.group(3))
        return KeyRef(account_id, region, alias_name=value)
    if value.startswith("arn:"):
        raise AwsError(AwsName.INVALID_ARN, f"Invalid arn {value}")
    return KeyRef(account_id, region, key_id=_key_id(value, value))


def _key_id(key_id: str, shown: str) -> str:
    if not KEY_ID_RE.fullmatch(key_id):
        raise not_found(f"Invalid keyId '{shown}'")
    return key_id


def check_alias_name(alias_name: str, *, creating: bool = False) -> str:
    if not alias_name.startswith(ALIAS_PREFIX) or not ALIAS_NAME_RE.fullmatch(alias_name):
        raise AwsError(AwsName.VALIDATION, "Alias must start with the prefix \"alias/\" and contain only "
                       "letters, digits, /, _ and -.")  # fmt: skip
    if creating and alias_name.startswith(RESERVED_ALIAS_PREFIX):
        raise AwsError(AwsName.INVALID_ALIAS_NAME, "Alias must not begin with 'alias/aws/': it is reserved.")
    return alias_name

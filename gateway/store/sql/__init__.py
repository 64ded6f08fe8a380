"""The metadata store's SQL, written once for SQLite and PostgreSQL, one module per aggregate.

``SqlStore`` is the whole ``MetadataStore`` (gateway/core/ports/store.py) minus the primitives,
which each adapter adds (gateway/store/sqlite.py, gateway/store/postgres.py). Each module holds
the methods of one Protocol of the contract, over the primitives of base.py:

    keys.py          KeyStore          keys
    versions.py      KeyVersionStore   key_versions, key_rotation
    principals.py    PrincipalStore    projects, credentials, auth_tokens
    certificates.py  CertificateStore  certificate_bindings
    grants.py        GrantStore        grants
    tags.py          TagStore          key_tags
    imports.py       ImportStore       import_parameters, imported_material
    recovery.py      RecoveryStore     in-flight rows, orphan_objects
    leases.py        LeaseStore        leases
    xks.py           XksStore          xks_keystores, xks_credentials, xks_keys
    aws.py           AwsStore          aws_accounts, aws_credentials, aws_keys, aws_aliases, aws_grants, aws_rotations

Where a new method goes: declare it on the Protocol of its aggregate in
gateway/core/ports/store.py, write it in that aggregate's module here (a method that writes
several tables belongs to the aggregate whose Protocol declares it), and test it in
tests/store/test_store.py, which runs on both databases. A new aggregate gets a Protocol, a
module and a base class of ``SqlStore`` below. mypy checks that each adapter is a MetadataStore.
"""

from __future__ import annotations

from gateway.store.sql.aws import AwsSql
from gateway.store.sql.base import IntegrityError, SqlPrimitives
from gateway.store.sql.certificates import CertificateSql
from gateway.store.sql.grants import GrantSql
from gateway.store.sql.imports import ImportSql
from gateway.store.sql.keys import KeySql
from gateway.store.sql.leases import LeaseSql
from gateway.store.sql.principals import PrincipalSql
from gateway.store.sql.recovery import RecoverySql
from gateway.store.sql.tags import TagSql
from gateway.store.sql.versions import KeyVersionSql
from gateway.store.sql.xks import XksSql

__all__ = ["IntegrityError", "SqlStore"]


class SqlStore(
    KeySql,
    KeyVersionSql,
    PrincipalSql,
    CertificateSql,
    GrantSql,
    TagSql,
    ImportSql,
    RecoverySql,
    LeaseSql,
    XksSql,
    AwsSql,
    SqlPrimitives,
):
    """Every aggregate's SQL on one object; an adapter subclasses it and implements the primitives."""

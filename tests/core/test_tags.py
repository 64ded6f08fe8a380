"""Key tags and queries by tag (docs/lifecycle.md) over gRPC against the session gateway."""

from __future__ import annotations

import uuid

import grpc
import pytest

from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from tests.support.kms import INVALID, NOT_FOUND, caller_for, default_key, expect_error

PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED


def new_key(kms, alias: str | None = None) -> str:
    return kms.CreateKey(pb.CreateKeyRequest(key_alias=alias or f"t-{uuid.uuid4().hex[:12]}")).key_info.key_id


def tags_of(kms, key_id: str) -> dict[str, str]:
    out = kms.ListKeyTags(pb.KeyIdRequest(key_id=key_id))
    assert out.existTagsNum == len(out.tags)
    return {t.key: t.value for t in out.tags}


def add(kms, key_id: str, key: str, value: str) -> None:
    kms.CreateKeyTag(pb.CreateKeyTagRequest(key_id=key_id, tag=pb.TagItem(key=key, value=value)))


def batch(kms, key_id: str, action: str, items: list[tuple[str, str]]) -> None:
    tags = [pb.TagItem(key=k, value=v) for k, v in items]
    kms.BatchKeyTags(pb.BatchKeyTagsRequest(key_id=key_id, action=action, tags=tags))


def test_add_replace_list_delete(kms, key_id):
    assert tags_of(kms, key_id) == {}
    add(kms, key_id, "env", "prod")
    add(kms, key_id, "owner", "")  # a value may be empty
    add(kms, key_id, "env", "staging")  # same key: the value is replaced
    assert tags_of(kms, key_id) == {"env": "staging", "owner": ""}
    kms.DeleteKeyTag(pb.DeleteKeyTagRequest(key_id=key_id, key="env"))
    assert tags_of(kms, key_id) == {"owner": ""}
    kms.DeleteKeyTag(pb.DeleteKeyTagRequest(key_id=key_id, key="env"))  # already gone: a no-op
    assert tags_of(kms, key_id) == {"owner": ""}


def test_batch_create_and_delete(kms, key_id):
    batch(kms, key_id, "create", [("a", "1"), ("b", "2"), ("c", "3")])
    assert tags_of(kms, key_id) == {"a": "1", "b": "2", "c": "3"}
    # Delete by key; with a value only when it matches; empty value means any value.
    batch(kms, key_id, "delete", [("a", ""), ("b", "nope"), ("c", "3"), ("zz", "")])
    assert tags_of(kms, key_id) == {"b": "2"}


def test_unicode_limits_are_characters_not_bytes(kms, key_id):
    key36, value43 = "密" * 36, "钥" * 43
    add(kms, key_id, key36, value43)
    assert tags_of(kms, key_id) == {key36: value43}
    expect_error(INVALID, "KMS.0411", _add_call(kms, key_id), pb.TagItem(key="密" * 37, value="v"))
    expect_error(INVALID, "KMS.0410", _add_call(kms, key_id), pb.TagItem(key="k", value="钥" * 44))


def _add_call(kms, key_id):
    return lambda tag: kms.CreateKeyTag(pb.CreateKeyTagRequest(key_id=key_id, tag=tag))


@pytest.mark.parametrize(
    ("key", "value", "code"),
    [
        ("", "v", "KMS.0411"),  # empty key: length 1..36
        ("k" * 37, "v", "KMS.0411"),
        ("k", "v" * 44, "KMS.0410"),
        ("a\x00b", "v", "KMS.0406"),
        ("a\x1fb", "v", "KMS.0406"),
        ("tab\tkey", "v", "KMS.0406"),
        ("k", "line\nbreak", "KMS.0405"),
        *[(f"a{c}b", "v", "KMS.0406") for c in "*<>\\="],
        *[("k", f"a{c}b", "KMS.0405") for c in "*<>\\="],
    ],
)
def test_each_tag_rule_has_its_code(kms, key_id, key, value, code):
    expect_error(INVALID, code, _add_call(kms, key_id), pb.TagItem(key=key, value=value))
    batch_req = pb.BatchKeyTagsRequest(key_id=key_id, action="create", tags=[pb.TagItem(key=key, value=value)])
    expect_error(INVALID, code, kms.BatchKeyTags, batch_req)
    assert tags_of(kms, key_id) == {}


def test_boundaries_are_accepted(kms, key_id):
    add(kms, key_id, "k" * 36, "v" * 43)
    add(kms, key_id, "$-_.:/@ !&", "AAaa00-99 ~")
    assert tags_of(kms, key_id) == {"k" * 36: "v" * 43, "$-_.:/@ !&": "AAaa00-99 ~"}


def test_list_and_count_limits(kms, key_id):
    expect_error(INVALID, "KMS.0401", kms.BatchKeyTags, pb.BatchKeyTagsRequest(key_id=key_id, action="create"))
    expect_error(
        INVALID,
        "KMS.0404",
        kms.BatchKeyTags,
        pb.BatchKeyTagsRequest(key_id=key_id, action="upsert", tags=[pb.TagItem(key="a", value="b")]),
    )
    dup = [pb.TagItem(key="a", value="1"), pb.TagItem(key="a", value="2")]
    expect_error(
        INVALID, "KMS.0412", kms.BatchKeyTags, pb.BatchKeyTagsRequest(key_id=key_id, action="create", tags=dup)
    )
    eleven = [pb.TagItem(key=f"k{i}", value="v") for i in range(11)]
    expect_error(
        INVALID, "KMS.0407", kms.BatchKeyTags, pb.BatchKeyTagsRequest(key_id=key_id, action="create", tags=eleven)
    )
    expect_error(INVALID, "KMS.0204", kms.CreateKeyTag, pb.CreateKeyTagRequest(key_id=key_id))
    # At most 10 tags a key, whichever way they arrive; the failing call changes nothing.
    batch(kms, key_id, "create", [(f"k{i}", "v") for i in range(9)])
    add(kms, key_id, "k9", "v")
    expect_error(EXHAUSTED, "KMS.0409", _add_call(kms, key_id), pb.TagItem(key="k10", value="v"))
    add(kms, key_id, "k9", "replaced")  # replacing an existing tag is not an eleventh
    expect_error(
        EXHAUSTED,
        "KMS.0409",
        kms.BatchKeyTags,
        pb.BatchKeyTagsRequest(
            key_id=key_id, action="create", tags=[pb.TagItem(key="k0", value="x"), pb.TagItem(key="new", value="x")]
        ),
    )
    tags = tags_of(kms, key_id)
    assert len(tags) == 10 and tags["k0"] == "v" and tags["k9"] == "replaced"


def test_who_may_tag(gateway, project, kms, key_id):
    project_id, _ = project
    other = gateway.stub(gateway.token(uuid.uuid4().hex))
    for call, req in [
        (other.CreateKeyTag, pb.CreateKeyTagRequest(key_id=key_id, tag=pb.TagItem(key="a", value="b"))),
        (other.ListKeyTags, pb.KeyIdRequest(key_id=key_id)),
        (other.DeleteKeyTag, pb.DeleteKeyTagRequest(key_id=key_id, key="a")),
    ]:
        expect_error(NOT_FOUND, "KMS.0207", call, req)
    expect_error(INVALID, "KMS.0205", kms.ListKeyTags, pb.KeyIdRequest(key_id="bad"))

    token = gateway.token(project_id)
    dk = default_key(gateway, token, f"svc{uuid.uuid4().hex[:6]}/default")
    expect_error(INVALID, "KMS.0211", _add_call(kms, dk), pb.TagItem(key="a", value="b"))
    assert tags_of(kms, dk) == {}

    add(kms, key_id, "keep", "me")
    kms.ScheduleKeyDeletion(pb.ScheduleKeyDeletionRequest(key_id=key_id, pending_days=7))
    expect_error(PRECONDITION, "KMS.0210", _add_call(kms, key_id), pb.TagItem(key="a", value="b"))
    assert tags_of(kms, key_id) == {"keep": "me"}  # reads still work


def test_project_tags(gateway, kms):
    a, b, c = new_key(kms), new_key(kms), new_key(kms)
    add(kms, a, "env", "prod")
    add(kms, b, "env", "dev")
    add(kms, c, "env", "prod")
    add(kms, c, "team", "blue")
    out = kms.ListProjectTags(pb.Empty())
    assert {t.key: list(t.values) for t in out.tags} == {"env": ["dev", "prod"], "team": ["blue"]}
    # Another project sees only its own.
    other = gateway.stub(gateway.token(uuid.uuid4().hex))
    assert list(other.ListProjectTags(pb.Empty()).tags) == []


@pytest.fixture
def fleet(kms):
    """20 keys: env alternates prod/dev, tier cycles a/b/c, every fifth has team=blue."""
    keys = []
    for i in range(20):
        key_id = new_key(kms, alias=f"fleet-{i:02d}-{'web' if i % 2 else 'db'}")
        items = [("env", "prod" if i % 2 == 0 else "dev"), ("tier", "abc"[i % 3])]
        if i % 5 == 0:
            items.append(("team", "blue"))
        batch(kms, key_id, "create", items)
        keys.append(key_id)
    return keys


def query(kms, action="filter", tags=None, matches=None, **kw) -> pb.ListResourceInstancesResponse:
    return kms.ListResourceInstances(
        pb.ListResourceInstancesRequest(
            action=action,
            tags=[pb.Tag(key=k, values=v) for k, v in (tags or {}).items()],
            matches=[pb.TagItem(key=k, value=v) for k, v in (matches or {}).items()],
            **kw,
        )
    )


def test_filter_and_count_by_tags(kms, fleet):
    def ids(**kw) -> list[str]:
        return [r.resource_id for r in query(kms, limit=1000, **kw).resources]

    assert ids() == fleet  # no filter: every key, oldest first
    assert query(kms, "count").total_count == 20
    prod = [k for i, k in enumerate(fleet) if i % 2 == 0]
    assert ids(tags={"env": ["prod"]}) == prod
    assert query(kms, "count", tags={"env": ["prod"]}).total_count == 10
    # AND across tag keys, OR across one key's values, no values: any value.
    assert ids(tags={"env": ["prod"], "tier": ["a"]}) == [k for i, k in enumerate(fleet) if i % 6 == 0]
    assert ids(tags={"tier": ["a", "b"]}) == [k for i, k in enumerate(fleet) if i % 3 != 2]
    assert ids(tags={"team": []}) == [k for i, k in enumerate(fleet) if i % 5 == 0]
    assert ids(tags={"env": ["prod"], "team": ["blue"]}) == [fleet[0], fleet[10]]
    assert ids(tags={"env": ["nope"]}) == []
    assert query(kms, "count", tags={"nokey": []}).total_count == 0
    # matches: resource_name (the alias) contains the value.
    assert ids(matches={"resource_name": "-web"}) == [k for i, k in enumerate(fleet) if i % 2]
    assert ids(tags={"tier": ["c"]}, matches={"resource_name": "-web"}) == [fleet[5], fleet[11], fleet[17]]
    assert query(kms, "count", matches={"resource_name": "fleet-1"}).total_count == 10


def test_filter_response_shape_and_paging(kms, fleet):
    first = query(kms, tags={"env": ["dev"]}, limit=3)
    assert first.total_count == 10 and len(first.resources) == 3
    item = first.resources[0]
    assert item.resource_id == fleet[1] == item.resource_detail.key_id
    assert item.resource_name == item.resource_detail.key_alias == "fleet-01-web"
    assert item.resource_detail.key_state == 2
    assert {t.key: t.value for t in item.tags} == {"env": "dev", "tier": "b"}
    pages = [
        r.resource_id
        for off in range(0, 10, 3)
        for r in query(kms, tags={"env": ["dev"]}, limit=3, offset=off).resources
    ]
    assert pages == [k for i, k in enumerate(fleet) if i % 2]
    assert len(query(kms).resources) == 10  # default limit
    assert query(kms, offset=100).resources == [] and query(kms, offset=100).total_count == 20
    count = query(kms, "count", tags={"env": ["dev"]})
    assert (count.total_count, len(count.resources)) == (10, 0)


def test_query_validation(kms):
    def bad(code: str, *args, **kw) -> None:
        expect_error(INVALID, code, lambda _: query(kms, *args, **kw), None)

    bad("KMS.0404", "list")
    bad("KMS.0404", "")
    bad("KMS.1601", limit=1001)
    bad("KMS.1601", limit=-1)
    bad("KMS.0417", offset=-1)
    bad("KMS.0403", matches={"key_alias": "x"})
    bad("KMS.0402", matches={"resource_name": ""})
    bad("KMS.0402", matches={"resource_name": "x" * 256})
    bad("KMS.0402", matches={"resource_name": "a\x00b"})  # NUL: PostgreSQL refuses it in any text parameter
    dup = pb.ListResourceInstancesRequest(
        action="filter",
        matches=[pb.TagItem(key="resource_name", value="a"), pb.TagItem(key="resource_name", value="b")],
    )
    expect_error(INVALID, "KMS.0415", kms.ListResourceInstances, dup)
    bad("KMS.0413", tags={"env": [f"v{i}" for i in range(11)]})
    bad("KMS.0412", tags={"env": ["a", "a"]})
    bad("KMS.0411", tags={"k" * 37: []})
    bad("KMS.0406", tags={"a=b": []})
    bad("KMS.0405", tags={"env": ["a*"]})
    bad("KMS.0410", tags={"env": ["v" * 44]})
    bad("KMS.0407", tags={f"k{i}": [] for i in range(11)})
    bad("KMS.0206", sequence="x")


def test_query_is_scoped_to_the_project(gateway, kms, fleet):
    other = gateway.stub(gateway.token(uuid.uuid4().hex))
    assert other.ListResourceInstances(pb.ListResourceInstancesRequest(action="count")).total_count == 0


def test_tags_die_with_their_key(gateway, project, kms, key_id, clock):
    add(kms, key_id, "env", "gone")
    kms.ScheduleKeyDeletion(pb.ScheduleKeyDeletionRequest(key_id=key_id, pending_days=7))
    clock.advance(8 * 86400)
    assert key_id in gateway.call(gateway.rt.kms.delete_due_keys())
    clock.reset()
    caller = caller_for(gateway, gateway.token(project[0]))
    assert gateway.rt.kms.list_project_tags(caller) == {}
    assert gateway.rt.store.key_tags(key_id) == {}

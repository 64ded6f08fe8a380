"""Request ids (gateway/pipeline/request_ids.py): unique in a process, across processes and restarts,
in a forked child too, drawn without a system call per request, and shaped as before."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid

from gateway.pipeline import request_ids
from gateway.pipeline.request_ids import new_request_id, new_uuid_shaped_request_id
from tests.support.gateway import new_project_id
from tests.support.rest import Rest

HEX32 = re.compile(r"[0-9a-f]{32}")
DRAW = "from gateway.pipeline.request_ids import new_request_id as f; print(f())"


def test_ids_of_one_process_never_repeat_and_keep_their_shape() -> None:
    ids = [new_request_id() for _ in range(100_000)]
    assert len(set(ids)) == len(ids)
    assert all(HEX32.fullmatch(i) for i in ids)
    shaped = new_uuid_shaped_request_id()
    assert str(uuid.UUID(shaped)) == shaped and uuid.UUID(shaped).version == 4


def test_each_process_and_each_restart_draws_its_own_prefix() -> None:
    mine = new_request_id()[:20]
    others = [
        subprocess.run([sys.executable, "-c", DRAW], check=True, capture_output=True, text=True).stdout.strip()
        for _ in range(2)
    ]
    prefixes = {mine, *(o[:20] for o in others)}
    assert len(prefixes) == 3
    assert all(o.endswith("0" * 11 + "1") for o in others)  # a fresh process counts from 1


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    parent_prefix = request_ids._prefix
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one id down the pipe, then out without running pytest's teardown
        try:
            os.write(write, new_request_id().encode())
        finally:
            os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert HEX32.fullmatch(child) and not child.startswith(parent_prefix)


def test_rest_answers_carry_distinct_generated_ids(gateway) -> None:
    project_id = new_project_id()
    rest = Rest(gateway.rest_url, project_id, token=gateway.token(project_id))
    try:
        answers = [rest.call("/gen-random", {"random_data_length": "32"}) for _ in range(5)]
        assert all(a.status_code == 200 for a in answers)
        ids = {a.headers["x-request-id"] for a in answers}
    finally:
        rest.close()
    assert len(ids) == 5 and all(HEX32.fullmatch(i) for i in ids)

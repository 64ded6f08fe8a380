"""Several `kmsgw serve` nodes on one PostgreSQL database and one SoftHSM2 token (one data dir).

A :class:`Nodes` is what an operator runs: one config file naming the store, N nodes each on its
own ephemeral ports, the CLI pointed at the same config. Every helper talks to the nodes the way a
client would (gRPC stubs, REST with a token or AK/SK); the database is read directly only to check
what the nodes did (migrations, leases) or to move a deletion date into the past.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import psycopg

from tests.support.gateway import KmsClient, kms_code
from tests.support.node import run_cli, stub
from tests.support.rest import Rest
from tests.support.serve import ServeProcess, start_serve


def write_config(path: Path, store: str, **gateway: object) -> Path:
    """A TOML config whose [gateway] table names the shared store (and any other option)."""
    lines = ["[gateway]", f"store = {json.dumps(store)}"] + [f"{k} = {json.dumps(v)}" for k, v in gateway.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class Nodes:
    """Gateway nodes sharing ``data_dir`` (the token) and ``pg_url`` (the metadata) through ``config``."""

    data_dir: Path
    pg_url: str
    config: Path
    nodes: dict[str, ServeProcess] = field(default_factory=dict)
    workers: dict[str, int] = field(default_factory=dict)
    _channels: list[grpc.Channel] = field(default_factory=list)
    _rests: list[Rest] = field(default_factory=list)

    def start(self, name: str, workers: int = 1, timeout: float = 180) -> ServeProcess:
        node = start_serve(self.data_dir, "--config", str(self.config), "--workers", str(workers), timeout=timeout)
        self.nodes[name], self.workers[name] = node, workers
        return node

    def __getitem__(self, name: str) -> ServeProcess:
        return self.nodes[name]

    def alive(self, name: str) -> bool:
        return name in self.nodes and self.nodes[name].proc.poll() is None

    def kill(self, name: str) -> None:
        """SIGKILL: no drain, no lease release, whatever was in flight is cut off."""
        node = self.nodes[name]
        os.kill(node.proc.pid, signal.SIGKILL)
        node.proc.wait(30)

    def cli(self, *args: str) -> dict:
        return run_cli(self.data_dir, *args, "--config", str(self.config))

    def token(self, project_id: str, *extra: str) -> str:
        return str(self.cli("token", "create", "--project-id", project_id, *extra)["token"])

    def stub(self, name: str, token: str) -> KmsClient:
        return stub(self.nodes[name].grpc_port, token, self._channels)

    def rest(self, name: str, project_id: str, **auth: Any) -> Rest:
        client = Rest(f"http://127.0.0.1:{self.nodes[name].http_port}", project_id, **auth)
        self._rests.append(client)
        return client

    def verify_audit(self) -> None:
        """`kmsgw audit verify` of the data dir's one audit file, which every node appends to."""
        env = dict(os.environ)
        env.pop("SOFTHSM2_CONF", None)
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "gateway",
                "audit",
                "verify",
                "--config",
                str(self.config),
                "--data-dir",
                str(self.data_dir),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=180,
        )
        assert out.returncode == 0, out.stdout + out.stderr

    def log_lines(self) -> list[dict]:
        return [rec for node in self.nodes.values() for rec in list(node.log_lines)]

    def sql(self, query: str, args: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.pg_url, autocommit=True) as conn:
            cur = conn.execute(query, args)
            return cur.fetchall() if cur.description else []

    def close(self) -> None:
        for ch in self._channels:
            ch.close()
        for client in self._rests:
            client.close()
        for node in self.nodes.values():
            if node.proc.poll() is None:
                node.proc.terminate()
        for node in self.nodes.values():
            try:
                node.proc.wait(60)
            except Exception:
                node.proc.kill()


def refused_code(call: Callable[[], Any]) -> str | None:
    """None when ``call`` succeeds, else the KMS code of the gRPC error it raised."""
    try:
        call()
    except grpc.RpcError as exc:
        return kms_code(exc) or str(exc.code())
    return None


def seconds_until(condition: Callable[[], bool], timeout: float, what: str, poll_s: float = 0.005) -> float:
    """Poll ``condition`` from now (the first try is immediate) and return how long it took to hold."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout:.1f} s: {what}")
        time.sleep(poll_s)
    return time.monotonic() - start

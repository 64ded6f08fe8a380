"""A client of a dev gateway's control surface (gateway/app/devmode/control.py): JSON over loopback HTTP.

Standard library only (http.client) and one kept-alive connection: minting a project for every test
must cost a millisecond or two, and the plugin must not import an HTTP library before it is used.
"""

from __future__ import annotations

import http.client
import json
import threading
from typing import Any
from urllib.parse import urlsplit


class ControlError(RuntimeError):
    """The control surface refused a call (its ``error`` text) or could not be reached."""


class ControlClient:
    def __init__(self, url: str, token: str, timeout: float = 60.0) -> None:
        parts = urlsplit(url)
        self.url = url
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._token = token
        self._timeout = timeout
        self._local = threading.local()  # one connection per thread (a test may call from several)

    def __repr__(self) -> str:
        return f"ControlClient({self.url!r})"  # never the token

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        return conn

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"}
        for attempt in (1, 2):  # a kept-alive connection the server closed meanwhile: one fresh try
            conn = self._connection()
            try:
                conn.request(method, path, body=payload, headers=headers)
                response = conn.getresponse()
                raw = response.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError) as exc:
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise ControlError(f"control surface {self.url} unreachable: {exc}") from None
        answer = json.loads(raw or b"null")
        if response.status != 200:
            message = answer.get("error") if isinstance(answer, dict) else raw.decode(errors="replace")
            raise ControlError(f"{method} {path}: {response.status} {message}")
        return answer

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.call("POST", path, body or {})

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

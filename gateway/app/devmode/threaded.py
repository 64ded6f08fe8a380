"""A dev gateway on a thread of this process: the pytest plugin's in-process mode.

Why a thread with its own event loop: the test process stays synchronous, the gateway's loop and
HSM executor answer while a test blocks on a gRPC call. One per process: python-pkcs11 initializes
the PKCS#11 library once, and SoftHSM2 reads its configuration (``SOFTHSM2_CONF``) once.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from gateway.app.devmode.runner import DevGateway, DevOptions

_RUNNING: list[ThreadedDevGateway] = []


class ThreadedDevGateway:
    def __init__(self, options: DevOptions, timeout: float = 60.0) -> None:
        if _RUNNING:
            raise RuntimeError("one in-process gateway per process (python-pkcs11 and SoftHSM2 initialize once)")
        self.gateway = DevGateway(options)
        self.gateway.open()
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="kmsgw-dev", daemon=True)
        self._thread.start()
        _RUNNING.append(self)
        if not self._ready.wait(timeout) or self._error is not None:
            self.stop()
            raise RuntimeError(f"the in-process gateway did not start: {self._error!r}")

    @property
    def info(self) -> dict[str, Any]:
        return self.gateway.info

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.gateway.serve(self._stop, lambda _info: self._ready.set()))
        except BaseException as exc:
            self._error = exc
        finally:
            self._ready.set()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(30)
        self.gateway.close()
        if not self._loop.is_closed() and not self._thread.is_alive():
            self._loop.close()
        if self in _RUNNING:
            _RUNNING.remove(self)

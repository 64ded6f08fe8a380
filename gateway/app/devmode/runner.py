"""A dev or test gateway: `kmsgw dev`, the pytest plugin's child process, its in-process mode.

The same gateway as `kmsgw serve` — the same runtime, listeners, pipeline, store and token — with
what a test needs and a deployment must not have: a clock that moves (:class:`OffsetClock`), an HSM
fault switch (faults.py), fixed ids and credentials from a seed file (test mode), the control
surface (control.py) on a third loopback listener, a throwaway data dir removed on exit, and
test-friendly limits. It listens on loopback only; a container image may bind all addresses, and
only when it really runs in a container (its network namespace is then the boundary).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import logging
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn

from gateway.app import config as config_mod
from gateway.app.config import Config
from gateway.app.devmode import control
from gateway.app.devmode.context import DevContext
from gateway.app.devmode.errors import DevModeRefused
from gateway.app.devmode.extensions import EXTENSIONS
from gateway.app.devmode.faults import FaultableExecutor
from gateway.app.runtime import Runtime
from gateway.app.server import bind, run
from gateway.core.clock import OffsetClock, SystemClock
from gateway.core.ports.hsm import key_label
from gateway.secret_files import write_secret
from gateway.testing import envfile

if TYPE_CHECKING:
    from gateway.app.devmode.seed import Seed

log = logging.getLogger(__name__)

# Where the file leaves a setting at its embedded default, a dev gateway uses these instead.
DEV_DEFAULTS: dict[str, Any] = {"cmk_quota": 100_000, "drain_seconds": 0.25, "sweep_interval_s": 60.0}


@dataclass
class DevOptions:
    data_dir: Path | None = None  # None: a fresh temp dir, removed when the gateway stops
    made_dir: Path | None = None  # a temp dir the caller made for this gateway: removed when it stops
    config_file: str | None = None
    seed: Path | None = None
    host: str = "127.0.0.1"
    grpc_port: int = 0
    rest_port: int = 0
    control_port: int = 0
    dev_project: bool = True  # mint a project with a token and an AK/SK pair once serving
    project_id: str | None = None
    env_file: Path | None = None  # write the endpoint variables here (removed on exit)
    watch_pid: int | None = None  # stop when this process is gone (a test runner killed with -9)
    container: bool = False  # allow a non-loopback host: the image's dev mode
    hsm_module: str | None = None  # a real HSM test partition instead of a throwaway SoftHSM2 token
    token_label: str | None = None
    pin_file: str | None = None
    control_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))


def in_container() -> bool:
    """True inside a Docker/Podman/Kubernetes container (their marker files, variables or cgroup names)."""
    if Path("/.dockerenv").exists() or Path("/run/.containerenv").exists():
        return True
    if os.environ.get("container") or os.environ.get("KUBERNETES_SERVICE_HOST"):
        return True
    try:
        cgroup = Path("/proc/1/cgroup").read_text()
    except OSError:
        return False
    return any(word in cgroup for word in ("docker", "kubepods", "containerd", "libpod"))


def check_listen_host(host: str, container: bool, *, detect: Callable[[], bool] = in_container) -> None:
    """Loopback only, unless the image's dev mode runs inside a container."""
    if host == "localhost":
        return
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise DevModeRefused(f"--host must be an IP address, got {host!r}") from None
    if address.is_loopback:
        return
    if not container:
        raise DevModeRefused(
            f"a dev gateway listens on loopback only ({host} is not): its control surface moves the clock "
            "and breaks the HSM; use `kmsgw serve` for a deployment (inside a container image: --container)"
        )
    if not detect():
        raise DevModeRefused("--container: this process does not run inside a container")


def _listen(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::"):  # noqa: S104 - a container's all-addresses bind, reported as loopback
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


class _QuietUvicorn(uvicorn.Server):
    """uvicorn without its own signal handlers: the dev gateway stops its listeners together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class DevGateway:
    """Open, serve, close: one dev gateway on one event loop."""

    def __init__(self, options: DevOptions) -> None:
        self.options = options
        self.seed: Seed | None = None
        self._made_dir: Path | None = options.made_dir
        self._wrote_env: Path | None = None
        self.rt: Runtime | None = None
        self.ctx: DevContext | None = None
        self.info: dict[str, Any] = {}

    # -- life cycle ---------------------------------------------------------------------------
    def open(self) -> None:
        """Check the options and the seed, then make the data dir and open the runtime in test mode."""
        opts = self.options
        try:
            check_listen_host(opts.host, opts.container)
            if opts.seed is not None:
                from gateway.app.devmode.seed import load as load_seed  # pydantic models: only when seeding

                self.seed = load_seed(opts.seed)  # SeedError before anything is made
        except BaseException:
            self._remove_made()
            raise
        data_dir = opts.data_dir
        if data_dir is None:
            self._made_dir = Path(tempfile.mkdtemp(prefix="kmsgw-dev-"))
            data_dir = self._made_dir / "var"
        cfg = self.config(data_dir)
        clock = OffsetClock()
        try:
            rt = Runtime.open(cfg, clock, test_mode=True, executor_type=FaultableExecutor)
        except BaseException:
            self._remove_made()
            raise
        # AK/SK signatures carry the caller's wall-clock time: their window stays on wall time while
        # the clock of keys and tokens travels, so an SDK keeps working after kms_clock.advance().
        rt.services = dataclasses.replace(rt.services, clock=SystemClock())
        self.rt = rt
        self.ctx = DevContext(rt, clock, opts.control_token)

    def config(self, data_dir: Path) -> Config:
        opts = self.options
        cfg = config_mod.load(
            opts.config_file,
            data_dir=str(data_dir),
            grpc_listen=_listen(opts.host, opts.grpc_port),
            rest_listen=_listen(opts.host, opts.rest_port),
        )
        embedded = Config()
        for name, value in DEV_DEFAULTS.items():
            if getattr(cfg, name) == getattr(embedded, name):
                setattr(cfg, name, value)
        if opts.hsm_module:
            cfg.hsm.module = opts.hsm_module
        if opts.token_label:
            cfg.hsm.token_label = opts.token_label
        if opts.pin_file:
            cfg.hsm.pin_file = opts.pin_file
        return cfg

    async def serve(self, stop: asyncio.Event, on_ready: Callable[[dict[str, Any]], None] | None = None) -> None:
        """Seed, serve the gateway and the control surface until ``stop``; ``on_ready(info)`` once serving."""
        rt, ctx, opts = self.rt, self.ctx, self.options
        assert rt is not None and ctx is not None, "open() first"
        await rt.auth.setup()
        if self.seed is not None:
            from gateway.app.devmode.seeder import apply_seed

            made = await apply_seed(rt, self.seed, str(opts.seed))
            log.info("seeded", extra=made)
        control_sock = bind(_listen(opts.host, opts.control_port))
        ports: dict[str, int] = {}
        serving = asyncio.Event()

        def gateway_ready(grpc_port: int, rest_port: int) -> None:
            ports.update(grpc=grpc_port, rest=rest_port)
            serving.set()

        gateway = asyncio.create_task(run(rt, on_ready=gateway_ready, stop=stop, sweep=False))
        # The control listener starts beside the gateway's own (nobody knows its port before the ready line).
        server = _QuietUvicorn(uvicorn.Config(control.build(ctx), lifespan="off", log_config=None, access_log=False))
        control_task = asyncio.create_task(server.serve(sockets=[control_sock]))
        waiting = asyncio.create_task(serving.wait())
        await asyncio.wait({gateway, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if not serving.is_set():
            waiting.cancel()
            server.should_exit = True
            await asyncio.gather(control_task, return_exceptions=True)
            await gateway  # raises why the listeners could not start
            return
        while not server.started and not control_task.done():
            await asyncio.sleep(0.005)
        host = _url_host(opts.host)
        ctx.endpoints.update(
            grpc_target=f"{host}:{ports['grpc']}",
            rest_url=f"http://{host}:{ports['rest']}",
            control_url=f"http://{host}:{control_sock.getsockname()[1]}",
        )

        async def stop_control() -> None:  # with the gateway's listeners, not after them
            await stop.wait()
            server.should_exit = True

        background = [asyncio.create_task(ctx.sweep_forever(rt.config.sweep_interval_s))]
        background.append(asyncio.create_task(stop_control()))
        if opts.watch_pid is not None:
            background.append(asyncio.create_task(_watch_pid(opts.watch_pid, stop)))
        try:
            self.info = await self._ready_info(rt, ctx)
            if on_ready is not None:
                on_ready(self.info)
            await gateway
        finally:
            for task in background:
                task.cancel()
            server.should_exit = True
            await asyncio.gather(control_task, *background, return_exceptions=True)
            if not rt.config.managed_softhsm and opts.data_dir is None:
                await self._destroy_own_objects(rt)

    def close(self) -> None:
        """Close the runtime, then remove what this gateway made (its temp data dir, its env file)."""
        if self.rt is not None:
            self.rt.close()
            self.rt = None
        if self._wrote_env is not None:
            self._wrote_env.unlink(missing_ok=True)
            self._wrote_env = None
        self._remove_made()

    # -- helpers ------------------------------------------------------------------------------
    async def _ready_info(self, rt: Runtime, ctx: DevContext) -> dict[str, Any]:
        opts = self.options
        info: dict[str, Any] = {
            **ctx.endpoints,
            "control_token": ctx.control_token,
            "pid": os.getpid(),
            "data_dir": str(rt.config.data_dir),
        }
        if opts.dev_project:
            project = await ctx.new_project(opts.project_id)
            token_file = rt.config.data_dir / "dev-token"
            write_secret(token_file, str(project["token"]))
            info.update(project, token_file=str(token_file))
        extra: dict[str, str] = {}
        for extension in EXTENSIONS:
            extra.update(extension.env(ctx))
            info.update(extension.ready(ctx))
        if opts.env_file is not None:
            envfile.write(opts.env_file, envfile.render(info, extra))
            self._wrote_env = opts.env_file
            info["env_file"] = str(opts.env_file.resolve())
        info["env"] = extra
        return info

    async def _destroy_own_objects(self, rt: Runtime) -> None:
        """On a real HSM partition with a throwaway store: destroy the key objects this run made."""
        labels = [key_label(k, v) for k in rt.store.all_key_ids() for v in rt.store.key_versions(k) or [1]]
        if labels:
            try:
                await rt.kms.hsm.destroy(labels)
            except Exception:
                log.exception("could not destroy this run's key objects on the HSM partition")

    def _remove_made(self) -> None:
        if self._made_dir is not None:
            shutil.rmtree(self._made_dir, ignore_errors=True)
            self._made_dir = None


async def _watch_pid(pid: int, stop: asyncio.Event) -> None:
    """Set ``stop`` when process ``pid`` exits (a pidfd where the kernel has them, else a slow poll)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        stop.set()
        return
    except (AttributeError, OSError):
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                stop.set()
                return
            except PermissionError:
                pass
            await asyncio.sleep(0.5)
    loop = asyncio.get_running_loop()
    gone = asyncio.Event()
    loop.add_reader(fd, gone.set)
    try:
        await gone.wait()
        stop.set()
    finally:
        loop.remove_reader(fd)
        os.close(fd)

"""`kmsgw dev`: a throwaway gateway for local development and for test suites in any language.

It makes a token and a store in a temp dir (or uses ``--data-dir``), loads ``--seed``, mints a dev
project, serves gRPC, REST and the dev control surface on loopback, prints the endpoint variables
and writes them to ``.kmsgw-dev.env``, then prints one ``kmsgw dev: ready {json}`` line (what
testcontainers and the pytest plugin wait for). Ctrl-C or SIGTERM removes everything it made.
docs/testing-with-kmsgw.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from gateway.commands._common import fail


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dev", help="a throwaway dev/test gateway on loopback, with a control surface")
    p.add_argument("--data-dir", type=Path, help="keep state here (default: a temp dir removed on exit)")
    p.add_argument("--config", help="TOML file, as for serve (dev defaults fill what it leaves at the default)")
    p.add_argument("--seed", type=Path, help="seed file: projects, credentials, keys (docs/testing-with-kmsgw.md)")
    p.add_argument("--host", default="127.0.0.1", help="listen address (loopback; see --container)")
    p.add_argument("--grpc-port", type=int, default=0, help="default: an ephemeral port")
    p.add_argument("--rest-port", type=int, default=0, help="default: an ephemeral port")
    p.add_argument("--control-port", type=int, default=0, help="default: an ephemeral port")
    p.add_argument("--project-id", help="the dev project's id (default: a random one)")
    p.add_argument("--no-project", action="store_true", help="mint no dev project (the pytest plugin's child)")
    p.add_argument("--env-file", type=Path, default=Path(".kmsgw-dev.env"), help="default: ./.kmsgw-dev.env")
    p.add_argument("--no-env-file", action="store_true", help="print the variables only")
    p.add_argument("--watch-pid", type=int, help="stop when this process exits (a killed test runner)")
    p.add_argument("--container", action="store_true", help="inside a container image: allow a non-loopback --host")
    p.add_argument("--module", help="PKCS#11 module of a real HSM test partition (instead of SoftHSM2)")
    p.add_argument("--token-label", help="its token label")
    p.add_argument("--pin-file", help="a 0600 file holding its user PIN")
    p.add_argument("--log-level", default="WARNING")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Until the event loop takes SIGTERM and SIGINT over, they end the process through the finally
    # below, so even a gateway stopped while it starts leaves nothing behind.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _stop_starting)
    made_dir, early = _early_token(args)  # SoftHSM2's token initializes while Python imports the app
    gateway = None
    try:
        from gateway.app.devmode.errors import DevModeRefused, SeedError
        from gateway.app.devmode.runner import DevGateway, DevOptions
        from gateway.telemetry import logs

        logs.setup(args.log_level)
        if early is not None:
            early.join()
        gateway = DevGateway(_options(args, made_dir, DevOptions))
        try:
            gateway.open()
        except (SeedError, DevModeRefused) as exc:
            return fail(str(exc).replace("\n", "\nkmsgw: "))
        try:
            return asyncio.run(_serve(gateway))
        except SeedError as exc:  # a seed entry the token or the core refused
            return fail(str(exc))
    except _Stopped:
        return 0
    finally:
        if early is not None:
            early.join(30)
        if gateway is not None:
            gateway.close()
        elif made_dir is not None:
            shutil.rmtree(made_dir, ignore_errors=True)
        print("kmsgw dev: stopped; removed what it made", file=sys.stderr, flush=True)


class _Stopped(BaseException):
    """SIGTERM or SIGINT while the gateway was still starting."""


def _stop_starting(_signum: int, _frame: object) -> None:
    raise _Stopped


def _options(args: argparse.Namespace, made_dir: Path | None, options: Any) -> Any:
    return options(
        data_dir=args.data_dir or (made_dir / "var" if made_dir else None),
        made_dir=made_dir,
        config_file=args.config,
        seed=args.seed,
        host=args.host,
        grpc_port=args.grpc_port,
        rest_port=args.rest_port,
        control_port=args.control_port,
        dev_project=not args.no_project,
        project_id=args.project_id,
        env_file=None if args.no_env_file else args.env_file,
        watch_pid=args.watch_pid,
        container=args.container,
        hsm_module=args.module,
        token_label=args.token_label,
        pin_file=args.pin_file,
    )


def _early_token(args: argparse.Namespace) -> tuple[Path | None, threading.Thread | None]:
    """Start making the throwaway SoftHSM2 token on a thread (softhsm2-util runs as a child process);
    not with a config file or an HSM module, which may name another token. Failures surface later,
    when the runtime opens the token itself."""
    made_dir = None if args.data_dir is not None else Path(tempfile.mkdtemp(prefix="kmsgw-dev-"))
    if args.config or args.module:
        return made_dir, None
    data_dir = args.data_dir or (made_dir / "var" if made_dir else None)
    assert data_dir is not None

    def make() -> None:
        from gateway.hsm.softhsm import ensure_softhsm

        with contextlib.suppress(Exception):
            ensure_softhsm(data_dir)

    thread = threading.Thread(target=make, name="kmsgw-dev-token", daemon=True)
    thread.start()
    return made_dir, thread


async def _serve(gateway: Any) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await gateway.serve(stop, _announce)
    return 0


def _announce(info: dict[str, Any]) -> None:
    from gateway.testing import envfile

    text = envfile.render(info, info.get("env"))
    sys.stdout.write("".join(line + "\n" for line in text.splitlines()[1:]))
    ready = {k: v for k, v in info.items() if k != "env"} | dict(info.get("env") or {})
    sys.stdout.write(envfile.ready_line(ready) + "\n")
    sys.stdout.flush()

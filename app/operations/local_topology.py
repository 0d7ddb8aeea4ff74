"""The scaled topology as local processes, without containers: ``make scale-up`` / ``scale-down``.

``python -m app.operations.local_topology up`` starts, under ``--root`` (default
``.aftercare/scale``): a PostgreSQL cluster (Debian's ``initdb``/``pg_ctl``; ``--sqlite`` uses
SQLite instead), a Chroma server (``chroma run``, shipped by the chromadb package), one
``aftercare worker`` (ingestion and the one scheduler) and ``aftercare serve --workers 2`` (web
workers), waits until ``/readyz`` answers 200, records the process ids in ``topology.json`` and
prints the environment ``aftercare ask --server`` needs. ``down`` stops them in reverse order.

The same helpers start the engines for the tests and ``benchmarks/scale.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

READY_TIMEOUT_S = 600.0
POSTGRES_USER = "postgres"  # Debian's; initdb refuses to run as root


class TopologyError(RuntimeError):
    """A part of the topology did not start."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def chroma_executable() -> str | None:
    """The ``chroma`` command beside this interpreter, or on the PATH."""
    beside = Path(sys.executable).parent / "chroma"
    return str(beside) if beside.exists() else shutil.which("chroma")


def aftercare_command() -> list[str]:
    """``aftercare`` run by this interpreter (works from a checkout and an install)."""
    return [
        sys.executable,
        "-c",
        "import sys; from app.operations.cli import main; sys.exit(main())",
    ]


def wait_until(url: str, timeout_s: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Poll ``url`` until it answers 200; fail early when ``process`` exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise TopologyError(f"{url}: the process exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise TopologyError(f"{url} did not answer 200 within {timeout_s:.0f} s")


def start_chroma(path: Path, port: int, log: Path | None = None) -> subprocess.Popen[bytes]:
    """A Chroma server on loopback, persisting under ``path``; returns once it answers."""
    executable = chroma_executable()
    if executable is None:
        raise TopologyError("the `chroma` command is missing (it comes with the chromadb package)")
    path.mkdir(parents=True, exist_ok=True)
    out = log.open("ab") if log is not None else subprocess.DEVNULL
    process = subprocess.Popen(
        [executable, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_until(f"http://127.0.0.1:{port}/api/v2/heartbeat", 60, process)
    return process


def stop(process: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    """SIGTERM, then SIGKILL if it does not exit in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _as_postgres(command: Sequence[str]) -> list[str]:
    if os.geteuid() != 0:
        return list(command)
    return ["runuser", "-u", POSTGRES_USER, "--", *command]


def postgres_binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    raise TopologyError(f"PostgreSQL's `{name}` is missing (apt-get install postgresql)")


def start_postgres(directory: Path, port: int) -> str:
    """A PostgreSQL cluster of its own in ``directory`` on loopback ``port`` (created on first
    use, database ``aftercare``); returns its SQLAlchemy URL. As root, the cluster runs as the
    ``postgres`` user, who must be able to reach ``directory``."""
    try:
        return _start_postgres(directory, port)
    except subprocess.CalledProcessError as exc:
        said = (exc.stderr or b"").decode(errors="replace").strip()
        raise TopologyError(f"PostgreSQL did not start in {directory}: {said}") from exc


def _start_postgres(directory: Path, port: int) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(directory, POSTGRES_USER)
    data = directory / "data"
    if not (data / "PG_VERSION").exists():
        initdb = [postgres_binary("initdb"), "-D", str(data), "-U", "aftercare", "--auth=trust"]
        subprocess.run(
            _as_postgres([*initdb, "-E", "UTF8"]),
            check=True,
            capture_output=True,
        )
    subprocess.run(
        _as_postgres(
            [
                postgres_binary("pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(directory / "postgres.log"),
                "-o",
                f"-p {port} -k {directory} -c listen_addresses=127.0.0.1",
                "-w",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    create = subprocess.run(
        _as_postgres(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "aftercare",
                "-d",
                "postgres",
                "-c",
                "CREATE DATABASE aftercare",
            ]
        ),
        capture_output=True,
        text=True,
    )
    if create.returncode != 0 and "already exists" not in create.stderr:
        raise TopologyError(f"cannot create the database: {create.stderr.strip()}")
    return f"postgresql+psycopg://aftercare@127.0.0.1:{port}/aftercare"


def stop_postgres(directory: Path) -> None:
    subprocess.run(
        _as_postgres(
            [postgres_binary("pg_ctl"), "-D", str(directory / "data"), "-m", "fast", "stop"]
        ),
        capture_output=True,
    )


@dataclass
class Topology:
    """What ``up`` started, as recorded in ``topology.json``."""

    base_url: str
    env: dict[str, str]
    pids: dict[str, int]
    postgres_dir: str | None


def role_env(
    root: Path, database_url: str | None, chroma_port: int, extra: Mapping[str, str] = {}
) -> dict[str, str]:
    """The environment every process of one deployment shares."""
    env = {
        "AFTERCARE_DATA_DIR": str(root / "data"),
        "AFTERCARE_INGESTION__CHROMA_HOST": "127.0.0.1",
        "AFTERCARE_INGESTION__CHROMA_PORT": str(chroma_port),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
        **extra,
    }
    if database_url:
        env["AFTERCARE_DATABASE_URL"] = database_url
    return env


def spawn(
    args: Sequence[str], env: Mapping[str, str], log: Path | None = None
) -> subprocess.Popen[bytes]:
    """An ``aftercare`` subcommand in a process group of its own."""
    out = log.open("ab") if log is not None else subprocess.DEVNULL
    return subprocess.Popen(
        [*aftercare_command(), *args],
        env={**os.environ, **env},
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_for_scheduler(
    env: Mapping[str, str], process: subprocess.Popen[bytes], timeout_s: float = READY_TIMEOUT_S
) -> None:
    """Until the worker holds the scheduler lock: its tables exist, so web workers starting
    next never race it to create them."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise TopologyError(f"the worker exited with {process.returncode}")
        status = subprocess.run(
            [*aftercare_command(), "worker", "--status"],
            env={**os.environ, **env},
            capture_output=True,
        )
        if status.returncode == 0:
            return
        time.sleep(1.0)
    raise TopologyError(f"the worker did not take the scheduler lock within {timeout_s:.0f} s")


def up(root: Path, port: int, web_workers: int, sqlite: bool) -> Topology:
    root = root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    pids: dict[str, int] = {}
    postgres_dir = None
    database_url = None
    if not sqlite:
        postgres_dir = root / "postgres"
        database_url = start_postgres(postgres_dir, free_port())
    chroma_port = free_port()
    chroma = start_chroma(root / "chroma", chroma_port, root / "chroma.log")
    pids["chroma"] = chroma.pid
    env = role_env(root, database_url, chroma_port)
    # Migrated once, before any process starts: each refuses an unmigrated database.
    subprocess.run(
        [*aftercare_command(), "db", "upgrade"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        timeout=300,
    )
    worker = spawn(["worker"], {**env, "AFTERCARE_ROLE": "worker"}, root / "worker.log")
    pids["worker"] = worker.pid
    wait_for_scheduler(env, worker)
    web = spawn(
        ["serve", "--port", str(port), "--workers", str(web_workers)],
        {**env, "AFTERCARE_ROLE": "web"},
        root / "web.log",
    )
    pids["web"] = web.pid
    base = f"http://127.0.0.1:{port}"
    topology = Topology(base, env, pids, str(postgres_dir) if postgres_dir else None)
    (root / "topology.json").write_text(json.dumps(topology.__dict__, indent=2))
    wait_until(base + "/readyz", READY_TIMEOUT_S, web)
    return topology


def down(root: Path) -> None:
    state = root / "topology.json"
    if not state.exists():
        print(f"nothing recorded in {state}", file=sys.stderr)
        return
    recorded = json.loads(state.read_text())
    for name in ("web", "worker", "chroma"):
        pid = recorded["pids"].get(name)
        if pid is None:
            continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
    if recorded.get("postgres_dir"):
        stop_postgres(Path(recorded["postgres_dir"]))
    state.unlink()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.operations.local_topology")
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("--root", type=Path, default=Path(".aftercare/scale"))
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    args = parser.parse_args(argv)
    if args.action == "down":
        down(args.root)
        return 0
    try:
        topology = up(args.root, args.port, args.web_workers, args.sqlite)
    except (TopologyError, subprocess.CalledProcessError) as exc:
        print(f"scale-up failed: {exc} (logs in {args.root}; `make scale-down` stops the rest)")
        return 1
    print(f"Aftercare is up on {topology.base_url}: {args.web_workers} web workers, 1 worker,")
    print(
        "a Chroma server"
        + (" and PostgreSQL" if topology.postgres_dir else "")
        + f"; logs in {args.root}."
    )
    print(f'Ask it: aftercare ask --server {topology.base_url} --json "when can I drive?"')
    print("Stop it: make scale-down")
    return 0


if __name__ == "__main__":
    sys.exit(main())

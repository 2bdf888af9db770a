"""A throwaway PostgreSQL cluster for the tests, started from the server binaries.

Used by the test fixtures, and by ``.ci/run`` as a script:

    python tests/services/postgres.py start DIR   # prints the URL of the running server
    python tests/services/postgres.py stop DIR

The server refuses to run as root, so as root the cluster runs as the ``postgres`` user.
It listens on 127.0.0.1 only, with fsync off: its data is thrown away.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PORT_FILE = "port"


class Unavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise Unavailable("no initdb found: install the PostgreSQL server (postgresql-15)")


def _as_owner(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(base: Path, password: str | None = None) -> str:
    """Create and start a cluster in ``base``; return a SQLAlchemy URL for it. With a
    ``password``, every login over TCP must give its password (scram-sha-256), and the
    superuser's is ``password``; without, logins are trusted."""
    bindir = _bindir()
    data, sockets = base / "data", base / "sockets"
    sockets.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        for path in (base, sockets):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    run = {"check": True, "stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "cwd": base}
    subprocess.run(
        _as_owner(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                *_authentication(base, password),
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ]
        ),
        **run,
    )
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        _as_owner(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(base / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ]
        ),
        **run,
    )
    (base / PORT_FILE).write_text(str(port))
    return url(port, password=password)


def _authentication(base: Path, password: str | None) -> list[str]:
    if password is None:
        return ["-A", "trust"]
    secret = base / "superuser-password"
    secret.write_text(password)
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(secret, owner.pw_uid, owner.pw_gid)
    return ["--auth-host=scram-sha-256", "--auth-local=trust", f"--pwfile={secret}"]


def url(port: int, database: str = "postgres", password: str | None = None) -> str:
    login = "postgres" if password is None else f"postgres:{password}"
    return f"postgresql+psycopg://{login}@127.0.0.1:{port}/{database}"


@contextmanager
def given_or_throwaway(env: str = "STAGEKEEPER_TEST_POSTGRES_URL") -> Iterator[str]:
    """The server ``$env`` names, else a throwaway cluster for the duration: its URL."""
    given = os.environ.get(env)
    if given:
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="stagekeeper-pg-") as folder:
        try:
            yield start(Path(folder))
        finally:
            stop(Path(folder))


def create_database(server: str, prefix: str) -> str:
    """A new, empty database on the server at ``server``: its URL."""
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    given = make_url(server)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = given.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return given.set(database=name).render_as_string(hide_password=False)


def stop(base: Path) -> None:
    if (base / "data").exists():
        subprocess.run(
            _as_owner(
                [
                    str(_bindir() / "pg_ctl"),
                    "-D",
                    str(base / "data"),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ]
            ),
            check=False,
            cwd=base,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


if __name__ == "__main__":
    action, folder = sys.argv[1], Path(sys.argv[2])
    if action == "start":
        print(start(folder))
    else:
        stop(folder)

"""A real PostgreSQL server for the tests: its own cluster in a temp dir, on a loopback port.

The binaries are Debian's (`apt-get install postgresql`, as .ci/run does); CPT97124_PG_BINDIR
names another directory holding initdb and pg_ctl. initdb and postgres refuse to run as root,
so under root (as in CI) they run as the `postgres` system user the Debian package creates.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from tests.integration.support import free_port

HOW_TO_GET = ("PostgreSQL server binaries not found: install Debian's `postgresql` package "
              "(apt-get install postgresql) or set CPT97124_PG_BINDIR to the directory holding initdb")


def bindir() -> Path:
    if os.environ.get("CPT97124_PG_BINDIR"):
        return Path(os.environ["CPT97124_PG_BINDIR"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError(HOW_TO_GET)
    return Path(initdb).resolve().parent


class PostgresServer:
    """One cluster; start/stop may be called again (an outage and its recovery)."""

    def __init__(self):
        self.bin = bindir()
        self.root = Path(tempfile.mkdtemp(prefix="cpt97124-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.user = None
        if os.geteuid() == 0:
            self.user = pwd.getpwnam("postgres")  # created by Debian's package
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--no-sync")

    def _as_user(self):
        if self.user is not None:
            os.setgid(self.user.pw_gid)
            os.setuid(self.user.pw_uid)

    def _run(self, program: str, *args: str) -> None:
        subprocess.run([str(self.bin / program), *args], check=True, cwd=self.root, preexec_fn=self._as_user,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c max_connections=200 -c full_page_writes=off")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options,
                  "-w", "-t", "60", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh empty database's URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url().replace("+psycopg", ""), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.root, ignore_errors=True)

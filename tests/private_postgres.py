"""A throwaway PostgreSQL server for the test session, from the installed binaries (as pytest-postgresql does).

When no server is named (GDP_ZERO_TEST_POSTGRES_URL), the study tests start their own: `initdb` in a
temporary folder, `pg_ctl start` on a free loopback port with trust authentication for the user
`gdp`, and everything removed at the end of the session. PostgreSQL refuses to run as root, so under
root the cluster belongs to the `postgres` user that Debian's package creates.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

POSTGRES_ROOT = Path("/usr/lib/postgresql")  # Debian's layout: /usr/lib/postgresql/<version>/bin
START_TIMEOUT_S = 60


def installed_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder (None: the postgresql package is not installed)."""
    versions = [p.parent for p in POSTGRES_ROOT.glob("*/bin/initdb")]
    return max(versions, key=lambda folder: int(folder.parent.name) if folder.parent.name.isdigit() else 0, default=None)


class PrivatePostgres:
    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix="gdpz-postgres-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self._owner = "postgres" if os.geteuid() == 0 else None

    def start(self) -> str:
        """Start the server; its URL (user gdp, database postgres)."""
        if self._owner is not None:
            account = pwd.getpwnam(self._owner)
            os.chown(self.folder, account.pw_uid, account.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "gdp", "--auth=trust", "--encoding=UTF8", "--no-sync")
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "server.log"),
                  "-w", "-t", str(START_TIMEOUT_S), "start")
        atexit.register(self.stop)
        return f"postgresql://gdp@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        if self.data.exists():
            subprocess.run(self._command("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop"),
                           capture_output=True, check=False)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(self._command(program, *args), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = self.folder / "server.log"
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}"
                               + (f"\n{log.read_text()}" if log.exists() else ""))

    def _command(self, program: str, *args: str) -> list[str]:
        command = [str(self.bin_dir / program), *args]
        return ["runuser", "-u", self._owner, "--", *command] if self._owner is not None else command


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

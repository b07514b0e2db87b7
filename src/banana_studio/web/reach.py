"""How to reach this machine from the one the person sits at: the ``ssh -L`` line for the gallery and
ready ``scp`` / ``rsync`` commands for files, from ``SSH_CONNECTION`` (else the host name).

``SSH_CONNECTION`` is ``client_ip client_port server_ip server_port``: the server address and port are
the ones the person's own ssh used to get here, so they work from their side (a host name from this
box's ``hostname`` may not resolve there).  Everything is quoted for a POSIX shell; a path holding a
control character (a hostile folder name) is refused rather than put on the clipboard.
"""

from __future__ import annotations

import getpass
import ipaddress
import os
import shlex
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from banana_studio.domain.safetext import UNSAFE_ONE_LINE


class UnsafePath(ValueError):
    """A path with a control character: pasted into a shell it could do anything."""


@dataclass(frozen=True, slots=True)
class Remote:
    host: str
    """An address or name as the person's ssh knows it (IPv6 without brackets)."""
    port: int
    user: str
    from_ssh: bool
    """True when taken from ``SSH_CONNECTION`` (the studio runs in an SSH session)."""

    @property
    def is_ipv6(self) -> bool:
        try:
            return ipaddress.ip_address(self.host).version == 6
        except ValueError:
            return False

    @property
    def login(self) -> str:
        return f"{self.user}@{self.host}" if self.user else self.host

    def spec(self, path: str) -> str:
        """``user@host:path`` for scp/rsync (an IPv6 address in brackets)."""
        host = f"[{self.host}]" if self.is_ipv6 else self.host
        return f"{self.user}@{host}:{path}" if self.user else f"{host}:{path}"


def remote(env: Mapping[str, str] | None = None) -> Remote:
    env = os.environ if env is None else env
    user = ""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = env.get("USER", "")
    fields = (env.get("SSH_CONNECTION") or "").split()
    if len(fields) == 4:
        try:
            ipaddress.ip_address(fields[2].split("%", 1)[0])
            port = int(fields[3])
        except ValueError:
            pass
        else:
            return Remote(fields[2], port, _plain(user), True)
    return Remote(_plain(socket.gethostname()) or "localhost", 22, _plain(user), False)


def _plain(text: str) -> str:
    return "" if UNSAFE_ONE_LINE.search(text) or any(c in text for c in "@: '\"") else text


def _check(path: str) -> str:
    if UNSAFE_ONE_LINE.search(path):
        raise UnsafePath(f"The path contains a control character; no command was copied: {path!r}")
    return path


def tunnel_line(port: int, where: Remote) -> str:
    """``ssh -L PORT:127.0.0.1:PORT user@host`` (with ``-p`` when ssh is not on port 22)."""
    opts = f" -p {where.port}" if where.port != 22 else ""
    return f"ssh -L {port}:127.0.0.1:{port}{opts} {shlex.quote(where.login)}"


def scp_command(path: Path, where: Remote) -> str:
    """Copy one file here: ``scp user@host:/path/file .``."""
    spec = where.spec(_check(str(path)))
    opts = f" -P {where.port}" if where.port != 22 else ""
    return f"scp -p{opts} {shlex.quote(spec)} ."


def rsync_command(paths: Sequence[Path], where: Remote, dest: str = ".") -> str:
    """Copy several files here (a branch's images) in one connection.  ``--protect-args`` sends the
    names to the far side as they are (no remote shell word splitting)."""
    if not paths:
        raise ValueError("nothing to copy")
    specs = [where.spec(_check(str(paths[0])))] + [":" + _check(str(p)) for p in paths[1:]]
    ssh = f" -e {shlex.quote(f'ssh -p {where.port}')}" if where.port != 22 else ""
    return f"rsync -av --protect-args{ssh} " + " ".join(shlex.quote(s) for s in specs) + f" {shlex.quote(dest)}"

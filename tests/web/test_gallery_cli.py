"""``banana-studio serve`` from the shell, and the ssh / scp / rsync lines it and the studio hand out."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from gallery_data import Projects

from banana_studio.web.reach import Remote, UnsafePath, remote, rsync_command, scp_command, tunnel_line


def test_serve_prints_the_link_and_the_tunnel_and_stops_on_sigterm(projects: Projects) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SSH_CONNECTION": "203.0.113.9 50022 198.51.100.7 22",
           "LOGNAME": "ana"}
    proc = subprocess.Popen([sys.executable, "-m", "banana_studio", "serve", "--project-dir", str(projects.root)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(5)]
        url = lines[1].strip()
        assert lines[0].startswith("Gallery of ") and url.startswith("http://127.0.0.1:")
        port = int(url.split(":")[2].split("/")[0])
        assert lines[3].strip() == f"ssh -L {port}:127.0.0.1:{port} ana@198.51.100.7"
        page = urllib.request.urlopen(url, timeout=30).read().decode()
        assert "shots" in page
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/not-the-token/", timeout=30)
        assert err.value.code == 404
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(urllib.request.Request(url, data=b"x", method="POST"), timeout=30)
        assert err.value.code == 405
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    assert url.split("/")[3] not in proc.stderr.read()  # no access log with the token in it


def test_serve_on_a_busy_port_says_so(projects: Projects) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = subprocess.run([sys.executable, "-m", "banana_studio", "serve", "--port", str(port),
                              "--project-dir", str(projects.root)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and out.stderr.startswith(f"error: Cannot listen on 127.0.0.1:{port}")


def test_remote_from_ssh_connection_and_fallback() -> None:
    r = remote({"SSH_CONNECTION": "2001:db8::1 50022 2001:db8::2 2200", "USER": "x"})
    assert r.host == "2001:db8::2" and r.port == 2200 and r.from_ssh and r.is_ipv6
    assert r.spec("/a") == f"{r.user}@[2001:db8::2]:/a"
    r = remote({"SSH_CONNECTION": "garbage; rm -rf / x y"})
    assert not r.from_ssh and r.port == 22
    r = remote({})
    assert not r.from_ssh


def test_commands_are_quoted_and_refuse_control_characters() -> None:
    where = Remote("198.51.100.7", 22, "ana", True)
    odd = Path("/data/my projects/it's $HOME/images/0001-a.jpg")
    cmd = scp_command(odd, where)
    assert shlex.split(cmd) == ["scp", "-p", f"ana@198.51.100.7:{odd}", "."]
    cmd = rsync_command([odd, Path("/data/b.png")], where)
    assert shlex.split(cmd) == ["rsync", "-av", "--protect-args", f"ana@198.51.100.7:{odd}", ":/data/b.png", "."]
    for bad in ("/data/evil\n; rm -rf ~/x.jpg", "/data/\x1b]52;c;AAAA\x07.jpg", "/data/\u202egpj.exe"):
        with pytest.raises(UnsafePath):
            scp_command(Path(bad), where)
        with pytest.raises(UnsafePath):
            rsync_command([Path("/ok.jpg"), Path(bad)], where)
    assert tunnel_line(8080, Remote("h", 2222, "ana", True)) == "ssh -L 8080:127.0.0.1:8080 -p 2222 ana@h"
    assert scp_command(Path("/x.jpg"), Remote("h", 2222, "ana", True)) == "scp -p -P 2222 ana@h:/x.jpg ."

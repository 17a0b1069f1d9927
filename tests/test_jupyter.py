"""JupyterLab: every ``notebooks/NN_name.py`` opens as a notebook (jupytext pairing).

A headless ``jupyter server`` (the server JupyterLab runs on) is started on a free port of
127.0.0.1 with a token, with the project's Jupyter configuration (jupytext's contents manager
enabled as a server extension); each ``.py`` is fetched through the contents API as a notebook,
as JupyterLab does when a user opens it, and must come back with its cells and the
``parameters`` cell.  The server is stopped at the end; the whole test is bounded in time.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from lib import config

pytest.importorskip("jupyter_server", reason="jupyter_server is not installed")

NOTEBOOKS = sorted(config.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.py"))
START_TIMEOUT_S = 90.0
REQUEST_TIMEOUT_S = 30.0


def _free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, token: str) -> tuple[int, Any]:
    """GET ``url`` with the server's token; (HTTP status, decoded JSON or None)."""
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
            return response.status, json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as err:
        return err.code, None


@pytest.fixture(scope="module")
def jupyter_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A headless Jupyter server on 127.0.0.1 serving the repository; yields (base URL, token)."""
    port, token = _free_port(), secrets.token_hex(16)
    home = tmp_path_factory.mktemp("jupyter")
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"))
    log = open(home / "server.log", "w", encoding="utf-8")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser",
         "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={config.ROOT}"]
        + (["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=home)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if server.poll() is not None:
                pytest.fail(f"jupyter server exited ({server.returncode}): "
                            f"{(home / 'server.log').read_text()[-2000:]}")
            try:
                if _get(f"{base}/api/status", token)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"jupyter server not answering after {START_TIMEOUT_S:.0f} s: "
                            f"{(home / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)
        log.close()


def test_server_listens_on_localhost_only_with_a_token(jupyter_server):
    base, token = jupyter_server
    assert base.startswith("http://127.0.0.1:")
    assert _get(f"{base}/api/contents/notebooks", "wrong-token")[0] == 403


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_py_source_opens_as_a_notebook(jupyter_server, path: Path):
    base, token = jupyter_server
    status, model = _get(f"{base}/api/contents/notebooks/{path.name}?type=notebook&content=1",
                         token)
    assert status == 200, f"{path.name}: HTTP {status}"
    assert model["type"] == "notebook" and model["format"] == "json"
    nb = model["content"]
    cells = nb["cells"]
    assert len(cells) > 3 and {c["cell_type"] for c in cells} == {"code", "markdown"}
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} parameters cells through Jupyter"
    assert "profile = " in "".join(tagged[0]["source"])
    assert nb["metadata"]["kernelspec"]["name"] == "phases-and-patterns"

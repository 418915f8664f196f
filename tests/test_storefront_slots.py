"""The slot switch the role installs on each web host (files/slots.py), on its own:
health over a real unix socket, the atomic symlink swap, its settings, its refusals. The
whole switch under a real supervisord and nginx is test_app_release's."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import socketserver
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from conftest import ROOT

COLLECTION = ROOT / "ansible" / "ansible_collections" / "slipway" / "release"
_spec = importlib.util.spec_from_file_location(
    "slots", COLLECTION / "roles" / "slipway_app" / "files" / "slots.py"
)
assert _spec is not None and _spec.loader is not None
slots = importlib.util.module_from_spec(_spec)
sys.modules["slots"] = slots
_spec.loader.exec_module(slots)


def settings(tmp_path: Path, **overrides: object) -> Path:
    data = {
        "root": str(tmp_path / "root"),
        "run_dir": str(tmp_path / "run"),
        "front": str(tmp_path / "run" / "storefront.sock"),
        "manager": "supervisord",
        "supervisorctl": ["/srv/x/tools/bin/supervisorctl", "-c", "/srv/x/supervisord.conf"],
        "unit": "storefront-x",
        "retries": "1",  # as Ansible may template it
        "delay_s": 0,
        **overrides,
    }
    path = tmp_path / "slots.json"
    path.write_text(json.dumps(data))
    (tmp_path / "run").mkdir(exist_ok=True)
    return path


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@contextlib.contextmanager
def serve(path: str, status: int, body: bytes) -> Iterator[None]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def address_string(self) -> str:
            return "unix"

        def log_message(self, *args: object) -> None:
            pass

    server = _Server(path, Handler)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def slot_answering(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[object]:
    config = slots.Settings.load(settings(tmp_path))
    status, body = request.param
    with serve(config.slot_socket("blue"), status, body):
        yield config


@pytest.mark.parametrize(
    ("slot_answering", "expected"),
    [
        ((200, b'{"status": "ok", "release": "r1"}'), (200, "r1")),
        ((503, b'{"detail": "no payments endpoint"}'), (503, None)),
        ((200, b"not json"), (200, None)),
        ((200, b'["r1"]'), (200, None)),
    ],
    indirect=["slot_answering"],
)
def test_health_reads_status_and_release_from_the_slot_socket(
    slot_answering: object, expected: tuple[int, str | None]
) -> None:
    assert slots.health(slot_answering.slot_socket("blue")) == expected  # type: ignore[attr-defined]


@pytest.mark.parametrize("slot_answering", [(200, b'{"release": "r1"}')], indirect=True)
def test_a_slot_answering_another_release_is_not_healthy(slot_answering: object) -> None:
    slots.wait_healthy(slot_answering, "blue", "r1")
    with pytest.raises(slots.SlotError) as err:
        slots.wait_healthy(slot_answering, "blue", "r2")
    assert str(err.value) == (
        "release r2 is not healthy on slot blue (GET /health on its socket: 200 after 2 tries)"
    )


def test_no_socket_is_no_answer(tmp_path: Path) -> None:
    config = slots.Settings.load(settings(tmp_path))
    assert slots.health(config.slot_socket("green")) == (None, None)
    with pytest.raises(slots.SlotError, match="no answer after 2 tries"):
        slots.wait_healthy(config, "green", "r1")


def test_the_front_socket_is_swapped_atomically_and_names_the_serving_slot(
    tmp_path: Path,
) -> None:
    config = slots.Settings.load(settings(tmp_path))
    assert slots.serving_slot(config) is None
    slots.replace_link(config.slot_socket("blue"), config.front)
    assert slots.serving_slot(config) == "blue"
    slots.replace_link(config.slot_socket("green"), config.front)
    assert slots.serving_slot(config) == "green"
    assert os.readlink(config.front) == config.slot_socket("green")
    assert sorted(os.listdir(tmp_path / "run")) == ["storefront.sock"]  # no .new left
    slots.replace_link("/elsewhere/other.sock", config.front)
    assert slots.serving_slot(config) is None


def test_each_manager_gets_its_own_command(tmp_path: Path) -> None:
    supervised = slots.Settings.load(settings(tmp_path))
    assert supervised.manager_argv("start", "blue") == [
        "/srv/x/tools/bin/supervisorctl",
        "-c",
        "/srv/x/supervisord.conf",
        "start",
        "storefront-blue",
    ]
    systemd = slots.Settings.load(settings(tmp_path, manager="systemd"))
    assert systemd.manager_argv("stop", "green") == [
        "systemctl",
        "stop",
        "storefront-x@green.service",
    ]
    assert supervised.retries == 1 and supervised.delay_s == 0.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "are not readable"),
        ('{"root": "/srv"}', "are not readable"),
        (None, "manager must be systemd or supervisord"),
    ],
)
def test_bad_settings_are_one_line(tmp_path: Path, text: str | None, message: str) -> None:
    path = settings(tmp_path, manager="upstart")
    if text is not None:
        path.write_text(text)
    with pytest.raises(slots.SlotError, match=message):
        slots.Settings.load(path)


def test_a_release_that_is_not_installed_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = settings(tmp_path)
    (tmp_path / "root" / "releases" / "r1").mkdir(parents=True)
    os.symlink("releases/r1", tmp_path / "root" / "current")

    assert slots.main(["--settings", str(path), "activate", "r2"]) == 1

    assert capsys.readouterr().err == (
        f"storefront-slots: release r2 is not installed under {tmp_path}/root/releases\n"
    )
    assert os.readlink(tmp_path / "root" / "current") == "releases/r1"

"""Put a release of the service in service on this host without dropping a request.

The service runs in two slots, blue and green: each a gunicorn on its own unix socket.
nginx connects to the front socket, a symlink to the socket of the slot that serves.

    NAME-slots --settings slots.json activate RELEASE

points ``current`` at releases/RELEASE, (re)starts the idle slot on it, waits until that
slot answers /health with RELEASE on its own socket, renames a new symlink over the one
nginx connects to, and stops the other slot, whose workers finish their requests first.
When the release does not come up healthy, it stops the idle slot again, puts ``current``
back and exits 1 with one line on stderr: nothing changed, nginx still reaches the slot
that served.

The role slipway_app installs this file as shared/bin/NAME-slots and writes its
settings (slots.json); it runs as root, with the host's Python and its standard library
only.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

SLOTS = ("blue", "green")


class SlotError(Exception):
    """A step of the switch failed; the message is the one line the operator reads."""


@dataclass(frozen=True)
class Settings:
    root: str  # the deploy root: releases/, current
    run_dir: str  # the slots' sockets
    front: str  # the socket nginx connects to (a symlink)
    manager: str  # systemd or supervisord
    supervisorctl: tuple[str, ...]  # its argv, with -c CONFIG
    unit: str  # the systemd unit template's name, without @.service
    name: str = "storefront"  # the slots' program names: NAME-blue, NAME-green
    retries: int = 20
    delay_s: float = 1.0
    # Connections nginx opened to the old socket just before the switch are accepted by
    # the old workers within this time; only then does the old slot stop accepting.
    drain_s: float = 1.0

    @classmethod
    def load(cls, path: Path) -> Settings:
        try:
            data = json.loads(path.read_text())
            data["supervisorctl"] = tuple(data.get("supervisorctl", ()))
            for key in ("retries",):
                data[key] = int(data.get(key, 20))
            for key in ("delay_s", "drain_s"):
                data[key] = float(data.get(key, 1.0))
            settings = cls(**data)
        except (OSError, ValueError, TypeError) as err:
            raise SlotError(f"settings {path} are not readable: {err}") from err
        if settings.manager not in ("systemd", "supervisord"):
            raise SlotError(f"settings {path}: manager must be systemd or supervisord")
        return settings

    def slot_socket(self, slot: str) -> str:
        return os.path.join(self.run_dir, f"{self.name}-{slot}.sock")

    def manager_argv(self, action: str, slot: str) -> list[str]:
        if self.manager == "systemd":
            return ["systemctl", action, f"{self.unit}@{slot}.service"]
        return [*self.supervisorctl, action, f"{self.name}-{slot}"]


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 3) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


def replace_link(target: str, link: str) -> None:
    """A new symlink renamed over the old one: a reader sees one or the other, never none."""
    new = link + ".new"
    if os.path.lexists(new):
        os.unlink(new)
    os.symlink(target, new)
    os.replace(new, link)


def serving_slot(settings: Settings) -> str | None:
    """The slot whose socket the front socket points at (None: none yet)."""
    try:
        target = os.path.basename(os.readlink(settings.front))
    except OSError:
        return None
    return next((s for s in SLOTS if target == os.path.basename(settings.slot_socket(s))), None)


def health(path: str) -> tuple[int | None, str | None]:
    """The status and the release a socket answers GET /health with."""
    conn = UnixHTTPConnection(path)
    try:
        conn.request("GET", "/health")
        response = conn.getresponse()
        body = response.read()
    except OSError:
        return None, None
    finally:
        conn.close()
    try:
        answer = json.loads(body) if response.status == 200 else {}
    except ValueError:
        answer = {}
    release = answer.get("release") if isinstance(answer, dict) else None
    return response.status, release if isinstance(release, str) else None


def wait_healthy(settings: Settings, slot: str, release: str) -> None:
    status = None
    for attempt in range(settings.retries + 1):
        status, answered = health(settings.slot_socket(slot))
        if status == 200 and answered == release:
            return
        if attempt < settings.retries:
            time.sleep(settings.delay_s)
    raise SlotError(
        f"release {release} is not healthy on slot {slot} "
        f"(GET /health on its socket: {status or 'no answer'} "
        f"after {settings.retries + 1} tries)"
    )


def manage(settings: Settings, action: str, slot: str) -> None:
    done = subprocess.run(
        settings.manager_argv(action, slot), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        said = (done.stdout + done.stderr).strip().replace("\n", " ")
        raise SlotError(f"{action} of slot {slot} failed: {said}")


def activate(settings: Settings, release: str) -> str:
    gunicorn = Path(settings.root, "releases", release, "venv", "bin", "gunicorn")
    if not gunicorn.is_file():
        raise SlotError(f"release {release} is not installed under {settings.root}/releases")
    current = os.path.join(settings.root, "current")
    before = os.readlink(current) if os.path.islink(current) else None
    old = serving_slot(settings)
    idle = "green" if old == "blue" else "blue"
    replace_link(f"releases/{release}", current)
    try:
        manage(settings, "stop", idle)  # it may still run an earlier release, or a failed one
        manage(settings, "start", idle)
        wait_healthy(settings, idle, release)
    except SlotError:
        # Nothing changed for nginx: the slot that served still serves, `current` too.
        with contextlib.suppress(SlotError):
            manage(settings, "stop", idle)
        if before is not None:
            replace_link(before, current)
        raise
    replace_link(settings.slot_socket(idle), settings.front)
    done = f"{release} serves from slot {idle}"
    try:
        if settings.manager == "systemd":
            manage(settings, "enable", idle)
        if old is not None:
            time.sleep(settings.drain_s)
            manage(settings, "stop", old)
            if settings.manager == "systemd":
                manage(settings, "disable", old)
    except SlotError as err:
        # The new release serves; a slot left running is stopped by the next activation.
        print(f"{settings.name}-slots: warning: {err}", file=sys.stderr)
    return done + (f"; slot {old} stopped" if old else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="NAME-slots", description=__doc__.split("\n")[0])
    parser.add_argument("--settings", type=Path, required=True, help="its slots.json")
    parser.add_argument("action", choices=["activate"])
    parser.add_argument("release")
    args = parser.parse_args(argv)
    prog = "slots"
    try:
        settings = Settings.load(args.settings)
        prog = f"{settings.name}-slots"
        print(activate(settings, args.release))
    except SlotError as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Real hosts for the Ansible tests: one sshd per test worker, listening on loopback
addresses (127.0.0.2, 127.0.0.3, 127.0.0.4) with a generated host key, a generated client
key and a pinned known_hosts; an inventory per test with a vault-encrypted URL. The
playbooks connect as ``deploy``, an unprivileged user with sudo (scripts/ci-services.sh
creates it), never as root; each host's deploy root is a folder of its own under
/srv/slipway-tests, which that user, the service's user and nginx's workers can reach."""

from __future__ import annotations

import atexit
import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from conftest import ROOT

BIN = ROOT / ".venv" / "bin"
ADDRESSES = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
DEPLOY_USER = "deploy"
HOSTS_BASE = Path("/srv/slipway-tests")


def reachable_dir(prefix: str) -> Path:
    """A new folder under HOSTS_BASE that every user may traverse (removed at exit)."""
    HOSTS_BASE.mkdir(mode=0o755, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=HOSTS_BASE))
    folder.chmod(0o755)
    atexit.register(shutil.rmtree, folder, True)
    return folder


@dataclass
class SshHosts:
    port: int
    key: Path
    known_hosts: Path
    addresses: tuple[str, ...]
    log: Path


def worker_port(base: int) -> int:
    """A port of this pytest-xdist worker's own: ``base`` plus the worker's number."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return base + int(worker.removeprefix("gw") or 0)


def _port() -> int:
    return worker_port(2200)


def start_sshd(
    folder: Path, *, port: int | None = None, addresses: tuple[str, ...] = ADDRESSES
) -> Iterator[SshHosts]:
    """sshd on ``addresses`` (this worker's port unless ``port``), until the generator
    is closed."""
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    folder.mkdir(parents=True, exist_ok=True)
    host_key, client_key = folder / "host_ed25519", folder / "client_ed25519"
    for key in (host_key, client_key):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    # sshd reads a user's keys as that user: the file lives where the deploy user can.
    authorized = reachable_dir("ssh-") / "authorized_keys"
    authorized.write_text((folder / "client_ed25519.pub").read_text())
    authorized.chmod(0o644)
    port = port or _port()
    config = folder / "sshd_config"
    config.write_text(
        "\n".join(
            [f"ListenAddress {a}:{port}" for a in addresses]
            + [
                f"HostKey {host_key}",
                f"AuthorizedKeysFile {authorized}",
                f"PidFile {folder / 'sshd.pid'}",
                "PermitRootLogin prohibit-password",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                "Subsystem sftp internal-sftp",
                "MaxStartups 50",
                "MaxSessions 50",
            ]
        )
        + "\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)
    log = folder / "sshd.log"
    proc = subprocess.Popen([sshd, "-D", "-f", str(config), "-E", str(log)])
    pub = (folder / "host_ed25519.pub").read_text().split()
    known = folder / "known_hosts"
    known.write_text("".join(f"[{a}]:{port} {pub[0]} {pub[1]}\n" for a in addresses))
    deadline = time.monotonic() + 10
    for address in addresses:
        while True:
            try:
                socket.create_connection((address, port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    proc.kill()
                    raise RuntimeError(f"sshd did not start: {log.read_text()}") from None
                time.sleep(0.1)
    try:
        yield SshHosts(port, client_key, known, addresses, log)
    finally:
        proc.terminate()
        proc.wait(10)


def build_bundle(dist: Path, migrations: Path | None = None, pythons: tuple[str, ...] = ()) -> Path:
    """The real bundle (`make bundle`), for the hosts' ``pythons`` (default: this
    machine's only, which the test hosts run); with ``migrations``, that folder replaces
    the bundle's migrations/ (see :func:`with_migrations`)."""
    own = f"{sys.version_info.major}.{sys.version_info.minor}"
    out = subprocess.run(
        ["scripts/build-bundle.sh"],
        cwd=ROOT,
        env={
            **os.environ,
            "DIST": str(dist),
            "VENV": str(ROOT / ".venv"),
            "BUNDLE_PYTHONS": " ".join(pythons or (own,)),
        },
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    bundle = Path(out) if Path(out).is_absolute() else ROOT / out
    return bundle if migrations is None else with_migrations(bundle, dist, migrations)


def with_migrations(bundle: Path, dist: Path, migrations: Path) -> Path:
    """A copy of ``bundle`` in ``dist`` whose migrations/ is ``migrations`` (a test's own
    revisions, a failing one among them, or another project's env.py and history)."""
    dist.mkdir(parents=True, exist_ok=True)
    work = dist / "unpacked"
    shutil.rmtree(work, ignore_errors=True)
    with tarfile.open(bundle) as tar:
        tar.extractall(work, filter="data")
    shutil.rmtree(work / "migrations")
    shutil.copytree(migrations, work / "migrations")
    return _repack(work, dist / f"{bundle.name.removesuffix('.tar.gz')}-test.tar.gz")


def _repack(work: Path, bundle: Path) -> Path:
    """An unpacked bundle folder back into a bundle (the folder is removed), its MANIFEST's
    file checksums written anew as the build writes them (hosts check them)."""
    manifest = work / "MANIFEST"
    head = manifest.read_text().split("files:\n")[0]
    sums = [
        f"  {hashlib.sha256(p.read_bytes()).hexdigest()}  ./{p.relative_to(work)}\n"
        for p in sorted(work.rglob("*"), key=lambda p: str(p.relative_to(work)))
        if p.is_file() and p.name != "MANIFEST"
    ]
    manifest.write_text(head + "files:\n" + "".join(sums))
    with tarfile.open(bundle, "w:gz") as tar:
        for item in sorted(work.iterdir()):
            tar.add(item, arcname=item.name)
    shutil.rmtree(work)
    return bundle


def install_collection(tmp: Path) -> tuple[Path, dict[str, str]]:
    """The collection built and installed with ansible-galaxy into ``tmp``/collections, as
    a team installs it; the environment that finds it there (and not this repository's
    copy: no ANSIBLE_* variables of this checkout)."""
    collection = ROOT / "ansible" / "ansible_collections" / "slipway" / "release"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    subprocess.run(
        [
            str(BIN / "ansible-galaxy"),
            "collection",
            "build",
            str(collection),
            "--output-path",
            str(tmp),
        ],
        cwd=tmp,
        env=clean,
        capture_output=True,
        text=True,
        check=True,
    )
    (archive,) = tmp.glob("slipway-release-*.tar.gz")
    installed = tmp / "collections"
    subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "install", str(archive), "-p", str(installed)],
        cwd=tmp,
        env=clean,
        capture_output=True,
        text=True,
        check=True,
    )
    return installed, clean | {"ANSIBLE_COLLECTIONS_PATH": str(installed), "NO_COLOR": "1"}


def release_answering(address: str, port: int) -> str | None:
    """The release a host's nginx answers /health with (None: not healthy)."""
    conn = http.client.HTTPConnection(address, port, timeout=3)
    try:
        conn.request("GET", "/health")
        response = conn.getresponse()
        body = response.read()
        return json.loads(body)["release"] if response.status == 200 else None
    except (OSError, ValueError):
        return None
    finally:
        conn.close()


@dataclass
class Inventory:
    path: Path
    vault_password_file: Path
    fetch_dir: Path
    roots: dict[str, Path]  # host name -> its deploy root
    run_dir: Path | None = None  # the hosts' sockets and pid files (app releases)
    nginx: dict[str, tuple[str, int]] = field(default_factory=dict)  # host -> its nginx

    def serving(self) -> dict[str, str | None]:
        """The release each host's nginx answers /health with (None: not healthy)."""
        return {name: release_answering(a, port) for name, (a, port) in self.nginx.items()}

    def stop_services(self) -> None:
        """The hosts' nginx and supervisord (and with it gunicorn) end with the test."""
        for root in self.roots.values():
            conf = root / "nginx" / "conf" / "nginx.conf"
            if (root / "nginx" / "run" / "nginx.pid").exists():
                subprocess.run(["/usr/sbin/nginx", "-s", "stop", "-c", str(conf)], check=False)
            ctl = root / "shared" / "tools" / "bin" / "supervisorctl"
            if ctl.exists():
                subprocess.run(
                    [str(ctl), "-c", str(root / "shared" / "supervisord.conf"), "shutdown"],
                    check=False,
                    capture_output=True,
                )
        if self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def playbook(
        self, name: str, *extra: str, check: bool = False, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        argv = [
            str(BIN / "ansible-playbook"),
            f"playbooks/{name}.yml",
            "-i",
            str(self.path),
            "--vault-password-file",
            str(self.vault_password_file),
            *extra,
        ]
        if check:
            argv.append("--check")
        return subprocess.run(
            argv,
            cwd=ROOT,
            env={
                **os.environ,
                "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
                "NO_COLOR": "1",
                # What the run ended as (slipway_outcome), as slipway deploy reads it.
                "ANSIBLE_SHOW_CUSTOM_STATS": "1",
            },
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def reports(self) -> list[dict[str, object]]:
        return [json.loads(p.read_text()) for p in sorted(self.fetch_dir.glob("*/report.json"))]


def write_inventory(
    folder: Path,
    ssh: SshHosts,
    *,
    env: str,
    database_url: str,
    bundle: Path,
    web: tuple[str, ...] = ("web1", "web2"),
    migrator: str = "web2",
    extra_vars: dict[str, object] | None = None,
    vault_password: str | None = None,
    host_vars: dict[str, dict[str, object]] | None = None,
    http_port: int | None = None,
) -> Inventory:
    """An inventory as a team writes one: hosts over SSH with pinned keys, the URL in a
    vault-encrypted group_vars file. With ``http_port``, the hosts also run the service
    (deploy.yml): each its own nginx on its address and that port."""
    folder.mkdir(parents=True, exist_ok=True)
    # Not in the inventory folder: Ansible reads every file there as an inventory source.
    hosts_dir = reachable_dir("hosts-")
    roots = {name: hosts_dir / name for name in web}
    run_dir, app_vars = None, {}
    if http_port is not None:
        # A unix socket path has at most 107 bytes: sockets and pids in a short folder.
        run_dir = reachable_dir("run-")
        app_vars = {
            "slipway_nginx_listen": "{{ ansible_host }}:" + str(http_port),
            "slipway_nginx_install": False,
        }
    hosts = {
        name: {
            "ansible_host": ssh.addresses[i % len(ssh.addresses)],
            "slipway_db_root": str(root),
            **({"slipway_app_run_dir": str(run_dir / name)} if run_dir else {}),
            **(host_vars or {}).get(name, {}),
        }
        for i, (name, root) in enumerate(roots.items())
    }
    (folder / "hosts.yml").write_text(
        yaml.safe_dump(
            {
                "all": {
                    "children": {
                        "web": {"hosts": hosts},
                        "db_migrator": {"hosts": {migrator: None}},
                    }
                }
            }
        )
    )
    group_vars = folder / "group_vars" / "all"
    group_vars.mkdir(parents=True, exist_ok=True)
    fetch_dir = folder / "fetched"
    settings = {
        "slipway_db_env": env,
        "slipway_db_database_url": "{{ vault_storefront_database_url }}",
        "slipway_db_bundle": str(bundle),
        "slipway_db_restore_on_failed_rollback": False,
        "slipway_db_fetch_dir": str(fetch_dir),
        "ansible_user": DEPLOY_USER,
        "ansible_port": ssh.port,
        "ansible_ssh_private_key_file": str(ssh.key),
        "ansible_ssh_common_args": (
            f"-o UserKnownHostsFile={ssh.known_hosts} -o StrictHostKeyChecking=yes"
        ),
        "ansible_python_interpreter": "/usr/bin/python3",
        **app_vars,
        **(extra_vars or {}),
    }
    (group_vars / "main.yml").write_text(yaml.safe_dump(settings))
    password_file = folder / "vault-pass"
    password_file.write_text((vault_password or "vault-" + os.urandom(8).hex()) + "\n")
    password_file.chmod(0o600)
    vault = group_vars / "vault.yml"
    vault.write_text(yaml.safe_dump({"vault_storefront_database_url": database_url}))
    subprocess.run(
        [
            str(BIN / "ansible-vault"),
            "encrypt",
            "--vault-password-file",
            str(password_file),
            str(vault),
        ],
        check=True,
        capture_output=True,
    )
    nginx = {n: (str(h["ansible_host"]), http_port) for n, h in hosts.items() if http_port}
    return Inventory(folder, password_file, fetch_dir, roots, run_dir, nginx)


def derive_bundle(
    base: Path,
    dist: Path,
    release_id: str,
    *,
    revisions: dict[str, str] | None = None,
    app_patch: tuple[str, str] | None = None,
) -> Path:
    """A release of the test's own, made from the real bundle: ``revisions`` (file name ->
    text) join migrations/versions/, and ``app_patch`` (old, new) edits the storefront's
    app.py, whose wheel (the storefront distribution) is rebuilt from a copy of it."""
    work = dist / f"{release_id}.work"
    shutil.rmtree(work, ignore_errors=True)
    with tarfile.open(base) as tar:
        tar.extractall(work, filter="data")
    for name, text in (revisions or {}).items():
        (work / "migrations" / "versions" / name).write_text(text)
    if app_patch is not None:
        source = dist / f"{release_id}.src"
        shutil.rmtree(source, ignore_errors=True)
        shutil.copytree(
            ROOT / "examples" / "storefront",
            source,
            ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
        )
        app = source / "src" / "storefront" / "app.py"
        old, new = app_patch
        assert old in app.read_text()
        app.write_text(app.read_text().replace(old, new))
        for wheel in (work / "wheels").glob("storefront-*.whl"):
            wheel.unlink()
        subprocess.run(
            [str(BIN / "pip"), "wheel", "--quiet", "--no-deps", "-w", str(work / "wheels"), "."],
            cwd=source,
            check=True,
            capture_output=True,
        )
        shutil.rmtree(source)
    return _repack(work, dist / f"{release_id}.tar.gz")

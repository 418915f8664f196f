"""`slipway image build`: the release bundle built into an image through the docker SDK
(here talking to podman's API service, builds isolated with chroot: containers cannot
run on this machine, so the image is proven by its configuration and its files), pushed
to a real registry (docker-registry on 127.0.0.1:5000)."""

from __future__ import annotations

import io
import json
import secrets
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest
from conftest import ROOT, Result, slipway

ENGINE = "unix:///run/podman/podman.sock"
REGISTRY = "127.0.0.1:5000"
BASE = "localhost/slipway-base:bookworm"
MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json"
)


@pytest.fixture
def repository() -> Iterator[str]:
    """A repository of the registry of this test's own; its local images go afterwards."""
    name = f"slipway-test-{secrets.token_hex(4)}"
    yield f"{REGISTRY}/{name}"
    client = docker.DockerClient(base_url=ENGINE)
    for image in client.images.list(name=f"{REGISTRY}/{name}"):
        client.images.remove(image.id, force=True)
    client.close()


def build(bundle: Path, *extra: str, env: dict[str, str] | None = None) -> Result:
    return slipway(
        "image",
        "build",
        *("--bundle", str(bundle), "--base", BASE, "--isolation", "chroot", "--json"),
        *extra,
        env={"DOCKER_HOST": ENGINE, "CI_REGISTRY_IMAGE": "", **(env or {})},
        timeout=600,
    )


def registry_digest(repository: str, tag: str) -> str | None:
    """The digest the registry serves ``repository:tag`` under; None if it has none."""
    name = repository.removeprefix(f"{REGISTRY}/")
    response = httpx.head(
        f"http://{REGISTRY}/v2/{name}/manifests/{tag}",
        headers={"Accept": MANIFEST_TYPES},
        timeout=10,
    )
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return str(response.headers["Docker-Content-Digest"])


def layers(archive: Path) -> Iterator[tarfile.TarFile]:
    """Each layer of an image archive (as `docker save` writes it), opened."""
    with tarfile.open(archive) as outer:
        for member in outer.getmembers():
            if not member.isfile() or not member.name.endswith(".tar"):
                continue
            layer = outer.extractfile(member)
            assert layer is not None
            with tarfile.open(fileobj=io.BytesIO(layer.read())) as inner:
                yield inner


def files_of(image: docker.models.images.Image, into: Path) -> set[str]:
    """Every path in every layer of the image."""
    archive = into / "image.tar"
    with archive.open("wb") as out:
        for chunk in image.save():
            out.write(chunk)
    names: set[str] = set()
    for layer in layers(archive):
        names.update(n.lstrip("./") for n in layer.getnames())
    return names


def test_the_image_carries_what_it_claims_and_a_rebuild_reuses_the_cache(
    bundle: Path, repository: str, tmp_path: Path
) -> None:
    dotenv = tmp_path / "build.env"

    first = build(bundle, "--registry", repository, "--dotenv", str(dotenv))

    assert first.code == 0, first.stderr[-3000:]
    result = first.report
    release = bundle.name.removesuffix(".tar.gz")
    commit = subprocess.run(
        ["git", "rev-parse", "--short=10", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    assert result["reference"] == f"{repository}:{release}"
    assert result["labels"] == {
        "org.slipway.release": release,
        "org.opencontainers.image.revision": commit,
        "org.slipway.alembic-head": "0006",
        "org.opencontainers.image.vendor": "slipway",
    }
    # Pushed: the registry has the tag, under the digest slipway reports and writes out.
    digest = registry_digest(repository, release)
    assert digest is not None and result["digest"] == f"{repository}@{digest}"
    env = dict(line.split("=", 1) for line in dotenv.read_text().splitlines())
    assert env == {
        "SLIPWAY_IMAGE": result["reference"],
        "SLIPWAY_IMAGE_TAG": release,
        "SLIPWAY_IMAGE_RELEASE": release,
        "SLIPWAY_IMAGE_DIGEST": result["digest"],
    }

    client = docker.DockerClient(base_url=ENGINE)
    image = client.images.get(result["reference"])
    assert image.labels["org.slipway.alembic-head"] == "0006"
    # Runs as an unprivileged user, by the image's configuration.
    assert image.attrs["Config"]["User"] == "app"
    files = files_of(image, tmp_path)
    site = "opt/venv/lib/python3.11/site-packages"
    assert f"{site}/slipway/release.py" in files
    assert f"{site}/storefront/app.py" in files
    assert any(
        n.startswith(f"{site}/alembic-") and n.endswith(".dist-info/METADATA") for n in files
    )
    assert "app/migrations/env.py" in files
    assert any(n.startswith("app/migrations/versions/0006") for n in files)
    assert "app/alembic_prod.ini" in files and "app/MANIFEST" in files
    # Nothing of the repository but the bundle: no .git, tests, keys, settings or vaults.
    for name in files:
        parts = name.split("/")
        assert ".git" not in parts, name
        assert not name.startswith(("app/tests", "app/ssh", "app/inventories")), name
        assert not parts[-1].startswith(("id_ed25519", "id_rsa", "vault")), name
        assert parts[-1] not in ("slipway.yml", ".gitlab-ci-local-variables.yml"), name
    uid = _uid_of(image, "app", tmp_path)
    assert uid not in (None, 0)

    again = build(bundle, "--registry", repository)

    assert again.code == 0, again.stderr[-3000:]
    second = again.report
    assert second["image_id"] == result["image_id"]
    assert second["cached_steps"] == second["steps"] > 5
    assert second["digest"] == result["digest"]
    client.close()


def _uid_of(image: docker.models.images.Image, user: str, tmp_path: Path) -> int | None:
    """The uid /etc/passwd of the image's last layer that has one gives ``user``."""
    passwd = None
    for layer in layers(tmp_path / "image.tar"):
        for entry in layer.getmembers():
            if entry.name.lstrip("./") == "etc/passwd" and entry.isfile():
                data = layer.extractfile(entry)
                assert data is not None
                passwd = data.read().decode()
    for line in (passwd or "").splitlines():
        fields = line.split(":")
        if fields[0] == user:
            return int(fields[2])
    return None


def test_bad_input_and_a_failing_dockerfile_push_nothing(
    bundle: Path, repository: str, tmp_path: Path
) -> None:
    no_registry = build(bundle)
    engine_gone = build(
        bundle, "--registry", repository, env={"DOCKER_HOST": "unix:///nonexistent.sock"}
    )
    failing = tmp_path / "Dockerfile"
    failing.write_text(f"FROM {BASE}\nCOPY requirements.txt /\nRUN false\n")
    broken = build(bundle, "--registry", repository, "--dockerfile", str(failing))

    assert no_registry.code == 2
    assert no_registry.stderr.strip().splitlines() == [
        "slipway: error: no registry to push the image to "
        "(pass --registry REGISTRY/PATH or set CI_REGISTRY_IMAGE)"
    ]
    assert engine_gone.code == 2 and "cannot reach a container engine" in engine_gone.stderr
    assert broken.code == 3, broken.stderr[-2000:]
    last = broken.stderr.strip().splitlines()[-1]
    assert (
        last.startswith("slipway: error: the image build failed") and "nothing was pushed" in last
    )
    for result in (no_registry, engine_gone, broken):
        assert "Traceback" not in result.stderr
    release = bundle.name.removesuffix(".tar.gz")
    assert registry_digest(repository, release) is None
    assert json.loads(broken.stdout or "{}") == {}

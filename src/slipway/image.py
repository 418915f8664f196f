"""The container image of a release, built from its bundle with the docker SDK.

The build context is the unpacked release bundle (wheels, requirements, migrations,
the production alembic.ini, MANIFEST) and the project's Dockerfile: nothing else of the
repository reaches the image. The image is labelled with the release id, the git commit
and the Alembic head of its migrations, tagged with the release id, and pushed to a
registry (GitLab's ``CI_REGISTRY_IMAGE``); the digest the registry gives back names it
from then on (``repository@sha256:...``), which is what hosts pull.

The engine is whatever the docker SDK reaches (``DOCKER_HOST``): a Docker daemon, or
podman's API service. Podman ignores the build's isolation on its Docker-compatible
endpoint, so a build asked for an isolation goes to podman's own build endpoint.
"""

from __future__ import annotations

import io
import json
import logging
import re
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slipway.backends import backend_class
from slipway.errors import BadInput, Refused, first_line

log = logging.getLogger(__name__)

LABEL_RELEASE = "org.slipway.release"
LABEL_HEAD = "org.slipway.alembic-head"
LABEL_REVISION = "org.opencontainers.image.revision"
LABEL_CREATED_BY = "org.opencontainers.image.vendor"

_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")
_CACHED = re.compile(r"Using cache")
# A build step but FROM (which nothing caches): podman's "[2/2] STEP 3/9: COPY ...",
# Docker's "Step 3/9 : COPY ..."
_STEP = re.compile(r"^(?:\[\d+/\d+\] )?(?:STEP|Step) \d+/\d+ ?: (?!FROM )", re.MULTILINE)


@dataclass
class ImageResult:
    release: str
    reference: str  # repository:tag
    image_id: str
    labels: dict[str, str]
    steps: int
    cached: int
    digest: str | None = None  # repository@sha256:..., once pushed
    log: list[str] = field(default_factory=list)

    def dotenv(self) -> str:
        """What a later pipeline job reads (GitLab's ``artifacts:reports:dotenv``)."""
        lines = [
            f"SLIPWAY_IMAGE={self.reference}",
            f"SLIPWAY_IMAGE_TAG={self.reference.rsplit(':', 1)[1]}",
            f"SLIPWAY_IMAGE_RELEASE={self.release}",
        ]
        if self.digest:
            lines.append(f"SLIPWAY_IMAGE_DIGEST={self.digest}")
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict[str, object]:
        return {
            "release": self.release,
            "reference": self.reference,
            "image_id": self.image_id,
            "digest": self.digest,
            "labels": self.labels,
            "steps": self.steps,
            "cached_steps": self.cached,
        }


def build(
    bundle: Path,
    registry_image: str | None,
    *,
    dockerfile: Path,
    base: str | None = None,
    isolation: str | None = None,
    push: bool = True,
    credentials: tuple[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
) -> ImageResult:
    """Build the image of ``bundle`` with ``dockerfile``, tag it
    ``registry_image:<release id>`` and (``push``) push it. Every input is checked
    before the engine is asked anything: bad input builds and pushes nothing; a failed
    build pushes nothing."""
    if not registry_image or not registry_image.strip():
        raise BadInput(
            "no registry to push the image to",
            hint="pass --registry REGISTRY/PATH or set CI_REGISTRY_IMAGE",
        )
    registry_image = registry_image.strip().lower()
    if ":" in registry_image.rsplit("/", 1)[-1] or "@" in registry_image:
        raise BadInput(
            f"--registry {registry_image} names a tag or digest",
            hint="name the repository only: the tag is the release id",
        )
    if not bundle.is_file():
        raise BadInput(f"bundle {bundle} does not exist", hint="build it with 'make bundle'")
    if not dockerfile.is_file():
        raise BadInput(f"Dockerfile {dockerfile} does not exist", hint="pass --dockerfile PATH")
    with tempfile.TemporaryDirectory(prefix="slipway-image-") as tmp:
        context = Path(tmp)
        manifest = _unpack(bundle, context)
        release = manifest["release_id"]
        labels = {
            LABEL_RELEASE: release,
            LABEL_REVISION: (manifest.get("commit") or "unknown").split()[0],
            LABEL_HEAD: backend_class("alembic").folder_head(context / "migrations"),
            LABEL_CREATED_BY: "slipway",
        }
        (context / "Dockerfile").write_bytes(dockerfile.read_bytes())
        reference = f"{registry_image}:{release}"
        client = _client()
        try:
            result = _build(client, context, reference, labels, base, isolation, on_line)
            if push:
                result.digest = _push(client, registry_image, release, credentials, on_line)
        finally:
            client.close()
    return result


def _unpack(bundle: Path, into: Path) -> dict[str, str]:
    try:
        with tarfile.open(bundle) as tar:
            tar.extractall(into, filter="data")
    except (tarfile.TarError, OSError) as err:
        raise BadInput(f"bundle {bundle} cannot be read: {first_line(err)}") from err
    manifest = into / "MANIFEST"
    if not manifest.is_file() or not (into / "migrations").is_dir():
        raise BadInput(
            f"{bundle} is not a release bundle (no MANIFEST or migrations/)",
            hint="build it with 'make bundle'",
        )
    fields = {}
    for line in manifest.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition(": ")
        if sep and not line.startswith(" "):
            fields[key] = value.strip()
    if "release_id" not in fields:
        raise BadInput(f"the MANIFEST of {bundle} names no release_id")
    return fields


def _client() -> Any:
    try:
        import docker
    except ImportError as err:
        raise BadInput(
            "the docker SDK is not installed", hint="pip install 'slipway-release[image]'"
        ) from err
    try:
        client = docker.from_env()
        client.ping()
    except Exception as err:  # any failure to reach the engine
        raise BadInput(
            f"cannot reach a container engine: {first_line(err)}",
            hint="start Docker, or podman's API service, and set DOCKER_HOST to its socket",
        ) from err
    return client


def _is_podman(client: Any) -> bool:
    components = client.version().get("Components") or []
    return any("podman" in str(c.get("Name", "")).lower() for c in components)


def _build(
    client: Any,
    context: Path,
    reference: str,
    labels: dict[str, str],
    base: str | None,
    isolation: str | None,
    on_line: Callable[[str], None] | None,
) -> ImageResult:
    # The labels come from the Dockerfile's LABEL of these build arguments (labels passed
    # to the engine become steps in no fixed order on podman, and miss its cache).
    buildargs = {
        "SLIPWAY_RELEASE": labels[LABEL_RELEASE],
        "SLIPWAY_COMMIT": labels[LABEL_REVISION],
        "SLIPWAY_ALEMBIC_HEAD": labels[LABEL_HEAD],
    }
    if base:
        buildargs["BASE"] = base
    if isolation and _is_podman(client):
        chunks = _podman_build(client, context, reference, buildargs, isolation)
    else:
        chunks = client.api.build(
            path=str(context),
            tag=reference,
            buildargs=buildargs,
            isolation=isolation,
            rm=True,
            forcerm=True,
            decode=True,
        )
    said: list[str] = []
    for chunk in chunks:
        message = _failure(chunk)
        if message is not None:
            raise Refused(
                f"the image build failed: {message}",
                check="image_build",
                hint="fix the Dockerfile or the bundle; nothing was pushed",
            )
        text = str(chunk.get("stream") or "")
        if text.strip():
            said.append(text.rstrip("\n"))
            if on_line:
                on_line(text.rstrip("\n"))
    image = client.images.get(reference)
    carried = {k: str(v) for k, v in (image.labels or {}).items() if k in labels}
    wrong = sorted(k for k, v in labels.items() if carried.get(k) != v)
    if wrong:
        raise Refused(
            f"the image does not carry {', '.join(wrong)} as slipway passed them",
            check="image_labels",
            hint="end the Dockerfile with its LABEL of SLIPWAY_RELEASE, SLIPWAY_COMMIT and "
            "SLIPWAY_ALEMBIC_HEAD, as this project's does; nothing was pushed",
        )
    whole = "\n".join(said)
    return ImageResult(
        release=labels[LABEL_RELEASE],
        reference=reference,
        image_id=str(image.id),
        labels=carried,
        steps=len(_STEP.findall(whole)),
        cached=len(_CACHED.findall(whole)),
        log=said,
    )


def _podman_build(
    client: Any,
    context: Path,
    reference: str,
    buildargs: dict[str, str],
    isolation: str,
) -> Iterator[dict[str, Any]]:
    """podman's own build endpoint (the compatible one builds with the default
    isolation whatever is asked): same parameters, same stream of JSON objects."""
    body = io.BytesIO()
    with tarfile.open(fileobj=body, mode="w") as tar:
        for item in sorted(context.iterdir()):
            tar.add(item, arcname=item.name)
    params = {
        "t": reference,
        "buildargs": json.dumps(buildargs),
        "isolation": isolation,
        "rm": "true",
        "forcerm": "true",
        # as podman's own client asks: each step kept as a layer to reuse, OCI images
        "layers": "1",
        "outputformat": "application/vnd.oci.image.manifest.v1+json",
        "identitylabel": "1",
    }
    response = client.api.post(
        f"{client.api.base_url}/v4.0.0/libpod/build",
        params=params,
        data=body.getvalue(),
        headers={"Content-Type": "application/x-tar"},
        stream=True,
    )
    if response.status_code >= 400:
        raise Refused(
            f"the image build was refused: HTTP {response.status_code} {response.text[:200]}",
            check="image_build",
        )
    return _json_lines(response.iter_lines())


def _failure(chunk: dict[str, Any]) -> str | None:
    """The first line of the error an engine's progress object reports, or None."""
    if "error" not in chunk and "errorDetail" not in chunk:
        return None
    detail = chunk.get("errorDetail") or {}
    message = str(detail.get("message") or chunk.get("error") or "").strip()
    return message.splitlines()[0] if message else "no reason given"


def _json_lines(lines: Iterable[bytes]) -> Iterator[dict[str, Any]]:
    for line in lines:
        if line.strip():
            yield json.loads(line)


def _push(
    client: Any,
    repository: str,
    tag: str,
    credentials: tuple[str, str] | None,
    on_line: Callable[[str], None] | None,
) -> str:
    auth = {"username": credentials[0], "password": credentials[1]} if credentials else None
    digest = None
    for chunk in client.images.push(
        repository, tag=tag, auth_config=auth, stream=True, decode=True
    ):
        message = _failure(chunk)
        if message is not None:
            raise Refused(
                f"the push to {repository} failed: {message}",
                check="image_push",
                hint="check the registry's address and credentials (CI_REGISTRY_USER)",
            )
        status = str(chunk.get("status") or "")
        aux = chunk.get("aux") or {}
        found = aux.get("Digest") or (m.group(1) if (m := _DIGEST.search(status)) else None)
        if found:
            digest = str(found)
        if on_line and status:
            on_line(status)
    if digest is None:
        raise Refused(
            f"the registry gave no digest for {repository}:{tag}",
            check="image_push",
            hint="push it by hand to see what the registry says",
        )
    return f"{repository}@{digest}"

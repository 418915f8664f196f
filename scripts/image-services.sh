#!/usr/bin/env bash
# What the image tests need, on this machine, idempotent:
# - podman's API service on unix:///run/podman/podman.sock (the docker SDK's DOCKER_HOST);
# - a registry on 127.0.0.1:5000 (docker-registry, plain HTTP: podman is told so);
# - localhost/slipway-base:bookworm, Debian with python3 and its venv module, made with
#   debootstrap: no image registry is reachable from here.
set -euo pipefail
state=/srv/slipway-images
install -d -m 0755 "$state" /run/podman /etc/containers/registries.conf.d

cat > /etc/containers/registries.conf.d/slipway-tests.conf <<'CONF'
# The image tests' registry: docker-registry on loopback, plain HTTP.
[[registry]]
location = "127.0.0.1:5000"
insecure = true
CONF

if ! curl -sf --unix-socket /run/podman/podman.sock http://d/_ping >/dev/null 2>&1; then
  echo "starting podman's API service"
  setsid nohup podman system service --time=0 unix:///run/podman/podman.sock \
    > "$state/podman-service.log" 2>&1 < /dev/null &
fi

if ! curl -sf http://127.0.0.1:5000/v2/ >/dev/null 2>&1; then
  echo "starting the registry on 127.0.0.1:5000"
  cat > "$state/registry.yml" <<CONF
version: 0.1
storage:
  filesystem:
    rootdirectory: $state/registry
http:
  addr: 127.0.0.1:5000
CONF
  setsid nohup docker-registry serve "$state/registry.yml" \
    > "$state/registry.log" 2>&1 < /dev/null &
fi

if ! podman image exists localhost/slipway-base:bookworm; then
  echo "making localhost/slipway-base:bookworm with debootstrap (about a minute)"
  rm -rf "$state/rootfs"
  debootstrap --variant=minbase --include=python3,python3-venv bookworm "$state/rootfs" \
    http://deb.debian.org/debian > "$state/debootstrap.log" 2>&1
  tar -C "$state/rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - \
    localhost/slipway-base:bookworm > /dev/null
  rm -rf "$state/rootfs"
fi

for _ in $(seq 1 30); do
  if curl -sf --unix-socket /run/podman/podman.sock http://d/_ping >/dev/null 2>&1 \
    && curl -sf http://127.0.0.1:5000/v2/ >/dev/null 2>&1; then
    exit 0
  fi
  sleep 1
done
echo "podman's API service or the registry did not come up within 30 s" >&2
exit 1

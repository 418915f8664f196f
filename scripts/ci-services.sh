#!/usr/bin/env bash
# Make sure the tests' real parts are here and running: database client tools,
# PostgreSQL on 127.0.0.1:5432 and MariaDB on 127.0.0.1:3306, and openssh-server (the
# Ansible tests start their own sshd on loopback addresses), nginx, rsync for gitlab-ci-local.
# Idempotent.
set -euo pipefail

need=()
command -v pg_dump >/dev/null || need+=(postgresql-client)
command -v psql >/dev/null || need+=(postgresql-client)
command -v mariadb-dump >/dev/null || command -v mysqldump >/dev/null || need+=(mariadb-client)
# A docker runner's job brings the servers as services (SLIPWAY_TEST_PG_ADMIN and
# SLIPWAY_TEST_MARIA_ADMIN name them); everywhere else they run on this machine.
external=${SLIPWAY_TEST_PG_ADMIN:+yes}
if [ -z "$external" ]; then
  command -v pg_ctlcluster >/dev/null || need+=(postgresql)
  [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
fi
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh-keygen >/dev/null || need+=(openssh-client)
[ -x /usr/sbin/nginx ] || need+=(nginx)  # the app-release tests run one per test host
command -v rsync >/dev/null || need+=(rsync)  # gitlab-ci-local copies job folders with it
command -v sudo >/dev/null || need+=(sudo)  # the roles' become, as the deploy user
command -v git >/dev/null || need+=(git)
command -v npm >/dev/null || need+=(npm)  # installs gitlab-ci-local (make test)
/usr/bin/python3 -c 'import ensurepip' 2>/dev/null || need+=(python3-venv)
# Container images (tests/test_image.py): podman builds them and serves the Docker API the
# docker SDK talks to, docker-registry takes the pushes, debootstrap makes the base image.
command -v podman >/dev/null || need+=(podman)
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v curl >/dev/null || need+=(curl)
# Restore points (tests/test_restore_point.py): a private PostgreSQL archives its WAL
# through pgBackRest, and is recovered to a restore point by it.
command -v pgbackrest >/dev/null || need+=(pgbackrest)
# ... and a private MariaDB writing binary logs (tests/test_restore_point_mariadb.py) is
# recovered from a mariadb-backup base backup.
command -v mariadb-backup >/dev/null || need+=(mariadb-backup)
# Django's MySQL/MariaDB backend talks through mysqlclient, built against these
# (tests/test_django_projects.py; make services installs it into the virtualenv).
[ -f /usr/include/mariadb/mysql.h ] || need+=(libmariadb-dev)
command -v pkg-config >/dev/null || need+=(pkg-config)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The Ansible tests connect as 'deploy', an unprivileged user with sudo, as a team's
# hosts are reached: never as root. ('*': no password, yet not a locked account.)
if ! id deploy >/dev/null 2>&1; then
  useradd --create-home --shell /bin/bash deploy
  usermod -p '*' deploy
fi
if [ ! -f /etc/sudoers.d/slipway-deploy ]; then
  echo 'deploy ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/slipway-deploy
  chmod 0440 /etc/sudoers.d/slipway-deploy
fi
# ... and 'nosudo', a deploy user the roles must tell, in one line, what it lacks.
if ! id nosudo >/dev/null 2>&1; then
  useradd --create-home --shell /bin/bash nosudo
  usermod -p '*' nosudo
fi
# Test hosts run other CPythons (3.10, 3.12) from pyenv under /root: the deploy user
# and the service's user may pass through /root to them (not list it).
if [ -d /root/.pyenv/versions ]; then chmod o+x /root; fi
# The test hosts' deploy roots: reachable by the deploy user, the service's user and
# nginx's workers (pytest's own temporary folders are root's alone).
install -d -m 0755 /srv/slipway-tests

scripts/image-services.sh

if [ -n "$external" ]; then
  exit 0
fi
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
fi
if ! mariadb-admin -h 127.0.0.1 -uroot ping >/dev/null 2>&1; then
  echo "starting MariaDB"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
fi

for _ in $(seq 1 60); do
  if pg_isready -h 127.0.0.1 -p 5432 -q && mariadb-admin -h 127.0.0.1 -uroot ping >/dev/null 2>&1; then
    exit 0
  fi
  sleep 1
done
echo "PostgreSQL or MariaDB did not come up within 60 s" >&2
exit 1

#!/usr/bin/env bash
# Build the release bundle once on the controller (into $DIST, default dist/): what a host needs to migrate and,
# later, to run the service. dist/<release id>.tar.gz holds
#   wheels/           the project's wheel and every runtime dependency, pinned, for each
#                     CPython of $BUNDLE_PYTHONS (default 3.10 to 3.13)
#   requirements.txt  what to install from wheels/ (no index needed on the host)
#   migrations/       env.py and versions/
#   alembic_prod.ini  the production Alembic configuration (no URL in it)
#   slipway-accepted.yml  accepted lint findings, when the project has that file
#   MANIFEST          release id, commit, the Pythons served, sha256 of every file
# and dist/CURRENT names the newest bundle (what the inventories deploy by default).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv}

release_id=$(scripts/release-id.sh)
commit=$(git rev-parse --short=10 HEAD)
dirty=$(case "$release_id" in *-dirty-*) echo yes;; esac)
version_of() { "$venv/bin/python" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' "$1"; }
version=$(version_of pyproject.toml)
service_version=$(version_of examples/storefront/pyproject.toml)

staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
# Runtime dependencies only, pinned by the constraints the tests ran with. The build
# writes into the source tree (build/, *.egg-info), so two builds take turns.
exec 9>"${TMPDIR:-/tmp}/slipway-bundle-build.lock"
flock 9
# slipway (with what its own connections and lint need on the hosts' databases) and the
# service, two distributions.
"$venv/bin/pip" wheel --quiet --disable-pip-version-check -c constraints.txt -w "$staging/wheels" \
  '.[postgresql,mysql]' ./examples/storefront \
  2> >(grep -v "^WARNING: Location" >&2)
flock -u 9
# The same dependencies as wheels for every CPython the hosts may run (the bundle names
# them in MANIFEST), for the hosts' platform: no compiler and no index on a host. uv
# resolves for each (pip would judge environment markers by the Python it runs on), and
# pip downloads what uv chose.
pythons=${BUNDLE_PYTHONS:-3.10 3.11 3.12 3.13}
platform=${BUNDLE_PLATFORM:-$(uname -m)}
printf 'slipway-release[postgresql,mysql] @ file://%s\nstorefront @ file://%s\n' \
  "$(ls "$staging"/wheels/slipway_release-*.whl)" "$(ls "$staging"/wheels/storefront-*.whl)" \
  > "$staging/top.in"
for py in $pythons; do
  "$venv/bin/uv" pip compile --quiet --no-header --python-version "$py" \
    --python-platform "${platform}-manylinux_2_28" -c constraints.txt "$staging/top.in" \
    | grep -v ' @ file://' > "$staging/pins-$py.txt"
  "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps \
    --only-binary=:all: --python-version "$py" --implementation cp \
    --platform "manylinux2014_${platform}" --platform "manylinux_2_28_${platform}" \
    --platform "linux_${platform}" -d "$staging/wheels" -r "$staging/pins-$py.txt" \
    2> >(grep -v "^WARNING: Location" >&2)
done
rm -f "$staging/top.in" "$staging"/pins-*.txt
cp -r migrations "$staging/migrations"
find "$staging/migrations" -name __pycache__ -prune -exec rm -rf {} +
cp alembic_prod.ini "$staging/"
# Lint findings accepted for revisions the team does not own live beside the ini file.
if [ -f slipway-accepted.yml ]; then cp slipway-accepted.yml "$staging/"; fi
printf 'slipway-release[postgresql,mysql]==%s\nstorefront==%s\n' "$version" "$service_version" \
  > "$staging/requirements.txt"
{
  echo "release_id: ${release_id}"
  echo "commit: ${commit}${dirty:+ (with uncommitted changes)}"
  echo "pythons: ${pythons}"
  echo "files:"
  (cd "$staging" && find . -type f ! -name MANIFEST | sort | xargs sha256sum | sed 's/^/  /')
} > "$staging/MANIFEST"

dist=${DIST:-dist}
mkdir -p "$dist"
tar -C "$staging" --owner=0 --group=0 --sort=name -czf "$dist/${release_id}.tar.gz.tmp" \
  MANIFEST $(cd "$staging" && ls slipway-accepted.yml 2>/dev/null) alembic_prod.ini migrations \
  requirements.txt wheels
mv "$dist/${release_id}.tar.gz.tmp" "$dist/${release_id}.tar.gz"
echo "${release_id}.tar.gz" > "$dist/CURRENT"
echo "$dist/${release_id}.tar.gz"

#!/usr/bin/env bash
# The release id of the bundle this tree builds: storefront-<commit time>-<commit>, and,
# where the tree differs from the commit in what the bundle takes (changes and untracked
# files alike), -dirty-<digest of that difference>: two different trees never share a
# release id (a host reuses a release folder only for the same id and MANIFEST).
set -euo pipefail
cd "$(dirname "$0")/.."
commit=$(git rev-parse --short=10 HEAD)
stamp=$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y%m%dT%H%M%SZ)
inputs=(src examples migrations alembic_prod.ini pyproject.toml constraints.txt slipway-accepted.yml)
release_id="storefront-${stamp}-${commit}"
if [ -n "$(git status --porcelain --untracked-files=all -- "${inputs[@]}")" ]; then
  digest=$({
    git diff HEAD --binary -- "${inputs[@]}"
    git ls-files --others --exclude-standard -z -- "${inputs[@]}" | xargs -0 -r sha256sum
  } | sha256sum | cut -c1-10)
  release_id="${release_id}-dirty-${digest}"
fi
echo "$release_id"

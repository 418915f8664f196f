#!/usr/bin/env bash
# The Alembic head of the code a pipeline's changes start from: the merge request's
# diff base, or the commit before the push. Prints 'base' when there is none (a new
# branch, a first push): then every revision is new. Needs $VENV (alembic).
set -euo pipefail
venv=${VENV:-.venv}
sha=${CI_MERGE_REQUEST_DIFF_BASE_SHA:-${CI_COMMIT_BEFORE_SHA:-}}
if [ -z "$sha" ] || [ -z "${sha//0/}" ] || ! git cat-file -e "${sha}^{commit}" 2>/dev/null; then
  echo base
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git archive "$sha" alembic.ini migrations src | tar -x -C "$tmp"
head=$(cd "$tmp" && "$venv/bin/alembic" -c alembic.ini heads 2>/dev/null | awk 'NR == 1 {print $1}')
echo "${head:-base}"

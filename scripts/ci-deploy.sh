#!/usr/bin/env bash
# One deploy job of the GitLab pipeline: `slipway deploy` runs a playbook against an
# environment with the secrets of the job's CI/CD variables, and the run's report, SQL
# and log are left in release/ for the job's artifacts.
#   scripts/ci-deploy.sh ENV [deploy|migrate|rollback|backup]
# deploy (the default): the guarded migration, then the service host by host.
# CI/CD variables:
#   SSH_PRIVATE_KEY         File type, protected: the deploy key
#   SSH_KNOWN_HOSTS         the hosts' public keys (pinned; a file or its content)
#   STAGE_VAULT_PASSWORD    protected, masked: opens inventories/stage's vault
#   PROD_VAULT_PASSWORD     protected, masked: opens inventories/prod's vault (each
#                           environment has its own: <ENV>_VAULT_PASSWORD)
#   SLIPWAY_INVENTORY       optional: another inventory than inventories/ENV
# Nothing secret is echoed and no secret is put in a command line: the vault password
# and keys go to 0600 files in a private temp folder that is removed on exit.
set -euo pipefail
env_name=${1:?usage: ci-deploy.sh ENV [PLAYBOOK]}
playbook=${2:-deploy}
venv=${VENV:-.venv}
inventory=${SLIPWAY_INVENTORY:-inventories/$env_name}
: "${SSH_PRIVATE_KEY:?set the File-type CI/CD variable SSH_PRIVATE_KEY (the deploy key)}"
: "${SSH_KNOWN_HOSTS:?set the CI/CD variable SSH_KNOWN_HOSTS (the hosts public keys)}"
vault_var="$(printf '%s' "$env_name" | tr '[:lower:]-' '[:upper:]_')_VAULT_PASSWORD"
[ -n "${!vault_var:-}" ] || { echo "set the protected, masked CI/CD variable $vault_var" >&2; exit 2; }
[ -f dist/CURRENT ] || { echo "no dist/CURRENT: the build job's artifacts are missing" >&2; exit 2; }

umask 077
secrets=$(mktemp -d)
trap 'rm -rf "$secrets"' EXIT
printf '%s\n' "${!vault_var}" > "$secrets/vault-pass"
if [ -f "$SSH_KNOWN_HOSTS" ]; then cat "$SSH_KNOWN_HOSTS" > "$secrets/known_hosts"
else printf '%s\n' "$SSH_KNOWN_HOSTS" > "$secrets/known_hosts"; fi
if [ -f "$SSH_PRIVATE_KEY" ]; then cat "$SSH_PRIVATE_KEY" > "$secrets/deploy_key"
else printf '%s\n' "$SSH_PRIVATE_KEY" > "$secrets/deploy_key"; fi
export SLIPWAY_KNOWN_HOSTS="$secrets/known_hosts"

rm -rf release && mkdir -p release/runs
echo "deploying $(cat dist/CURRENT) to $env_name ($playbook) with $inventory"
# build:image's dotenv report, when the project ships an image: the one of this release.
if [ -n "${SLIPWAY_IMAGE_DIGEST:-}" ]; then
  [ "${SLIPWAY_IMAGE_RELEASE:-}" = "$(basename "$(cat dist/CURRENT)" .tar.gz)" ] || {
    echo "build:image built ${SLIPWAY_IMAGE_RELEASE:-?}, not $(cat dist/CURRENT)" >&2; exit 2; }
  echo "image of this release: $SLIPWAY_IMAGE_DIGEST"
  image_var=(-e "slipway_app_image=$SLIPWAY_IMAGE_DIGEST")  # used where slipway_app_from: image
else
  image_var=()
fi
set +e
"$venv/bin/slipway" deploy --env "$env_name" --playbook "$playbook" --inventory "$inventory" \
  --vault-password-file "$secrets/vault-pass" \
  -e "ansible_ssh_private_key_file=$secrets/deploy_key" \
  -e "slipway_db_bundle=$PWD/dist/$(cat dist/CURRENT)" \
  -e "slipway_db_fetch_dir=$PWD/release/runs" "${image_var[@]}"
rc=$?
set -e
"$venv/bin/python" scripts/ci_release_report.py release "$rc"
exit "$rc"

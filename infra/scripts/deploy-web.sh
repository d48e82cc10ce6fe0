#!/usr/bin/env bash
# Deploy web/ (the demo shop and the built SDK) to the Amplify app Terraform created.
#
#   make sdk                                   # builds web/sdk/dist/clickstream.min.js
#   infra/scripts/deploy-web.sh infra/envs/dev
#
# It writes config.js from the Terraform outputs (ingest endpoint, Cognito pool and client),
# zips the site, and runs an Amplify manual deployment (create-deployment, upload, start).
# Needs: terraform, the AWS CLI v2, curl, zip, jq.
set -euo pipefail

ENV_DIR=${1:?usage: deploy-web.sh infra/envs/<env>}
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SHOP="${REPO_ROOT}/web/shop"
SDK_BUNDLE="${REPO_ROOT}/web/sdk/dist/clickstream.min.js"

[[ -f "$SDK_BUNDLE" ]] || { echo "deploy-web: $SDK_BUNDLE is missing: run make sdk first" >&2; exit 1; }

outputs=$(terraform -chdir="$ENV_DIR" output -json)
app_id=$(jq -r '.amplify_app_id.value' <<<"$outputs")
branch=$(jq -r '.amplify_branch.value' <<<"$outputs")
region=$(jq -r '.shop_config.value.cognito.region' <<<"$outputs")

site=$(mktemp -d)
trap 'rm -rf "$site"' EXIT
cp -R "$SHOP"/. "$site"/
mkdir -p "$site/sdk"
cp "$SDK_BUNDLE" "$site/sdk/clickstream.min.js"
printf 'window.CLICKSTREAM_CONFIG = %s;\n' "$(jq '.shop_config.value' <<<"$outputs")" >"$site/config.js"
(cd "$site" && zip -q -r -X site.zip . -x site.zip)

deployment=$(aws amplify create-deployment --region "$region" --app-id "$app_id" --branch-name "$branch")
job_id=$(jq -r '.jobId' <<<"$deployment")
upload_url=$(jq -r '.zipUploadUrl' <<<"$deployment")
curl --fail --silent --show-error -X PUT -H "Content-Type: application/zip" --upload-file "$site/site.zip" "$upload_url"
aws amplify start-deployment --region "$region" --app-id "$app_id" --branch-name "$branch" --job-id "$job_id" >/dev/null
echo "deploy-web: job ${job_id} started; the shop will be at $(jq -r '.shop_url.value' <<<"$outputs")"

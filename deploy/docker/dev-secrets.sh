#!/usr/bin/env bash
# Development secrets for docker-compose.yml, made with openssl alone (no .NET needed):
#   bash deploy/docker/dev-secrets.sh [DIR]            (default .compose/secrets; existing files are kept)
#   bash deploy/docker/dev-secrets.sh token [SUBJECT] [DIR]   prints a 12-hour bearer token for bundle-api
# DIR gets identities/dev/{cert,pk,cloud-cert}.pem (the signing identity "dev"; the cloud certificate is a stand-in,
# so EC2 cannot register these bundles), jwt-pk.pem / jwt-pub.pem (the token key pair: bundle-api trusts the public
# half), and tenants.json (tenant "dev" for subject "developer", confined to s3://bundles/ and /data; subject
# "autoscaler" may read /v1/scale). The containers run as uid 10001, so the files are world-readable: development
# keys only, never real ones.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
if [ "${1:-}" = "token" ]; then
  subject=${2:-developer}; dir=${3:-$repo/.compose/secrets}
  now=$(date +%s)
  header=$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)
  claims=$(printf '{"iss":"bundlecluster-dev","aud":"bundle-api","sub":"%s","iat":%d,"nbf":%d,"exp":%d}' "$subject" "$now" "$now" $((now + 43200)) | b64url)
  signature=$(printf '%s.%s' "$header" "$claims" | openssl dgst -sha256 -sign "$dir/jwt-pk.pem" -binary | b64url)
  echo "$header.$claims.$signature"
  exit 0
fi
dir=${1:-$repo/.compose/secrets}
mkdir -p "$dir/identities/dev"
identity() { # identity PEM-DIR CN: a self-signed RSA-2048 certificate and key, 10 years
  [ -f "$1/cert.pem" ] || openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$2" \
    -keyout "$1/pk.pem" -out "$1/cert.pem" 2>/dev/null
}
identity "$dir/identities/dev" "bundlecluster dev identity"
if [ ! -f "$dir/identities/dev/cloud-cert.pem" ]; then
  cloud="$(mktemp -d)"; identity "$cloud" "bundlecluster dev cloud (stand-in)"
  cp "$cloud/cert.pem" "$dir/identities/dev/cloud-cert.pem"; rm -rf "$cloud"
fi
if [ ! -f "$dir/jwt-pk.pem" ]; then
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/jwt-pk.pem" 2>/dev/null
  openssl pkey -in "$dir/jwt-pk.pem" -pubout -out "$dir/jwt-pub.pem"
fi
cat > "$dir/tenants.json" <<'JSON'
{
  "claim": "sub",
  "tenants": {
    "dev": {
      "subjects": ["developer"],
      "images": ["s3://bundles/images", "/data"],
      "destinations": ["s3://bundles/bundles", "/data"],
      "identities": ["dev"]
    }
  },
  "scaleReaders": ["autoscaler"],
  "operators": ["operator"]
}
JSON
chmod -R a+rX "$dir"
echo "dev-secrets: $dir (identity dev, JWT key, tenants.json); a token: bash $0 token"

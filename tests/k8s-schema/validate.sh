#!/usr/bin/env bash
# Validates rendered manifests on stdin against the Kubernetes and KEDA schemas (validate.mjs), installing the
# pinned npm packages (package.json) into this folder on first use.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
(
  flock 9
  if [ ! -d "$here/node_modules/kubernetes-models" ] || [ ! -d "$here/node_modules/@kubernetes-models/keda" ]; then
    cd "$here" && npm install --no-audit --no-fund --loglevel=error --no-save >/dev/null 2>&1 \
      || { echo "cannot install kubernetes-models and @kubernetes-models/keda from npm" >&2; exit 1; }
  fi
) 9>"$here/.install.lock"
exec node "$here/validate.mjs"

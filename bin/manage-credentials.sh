#!/usr/bin/env bash
# The seed's credential script, a thin wrapper over `wsgi-s3 credentials`:
#   bin/manage-credentials.sh create "my-app" "read,write" [--buckets b1,b2] [--prefixes p1/] [--token]
#   bin/manage-credentials.sh list | show NAME | rotate NAME | revoke NAME
# Options of `wsgi-s3 credentials` pass through (--data-dir DIR, or --config nodes/cluster.ini for a cluster).
set -euo pipefail
checkout="$(cd "$(dirname "$0")/.." && pwd)"
if [ -d "$checkout/wsgi_s3" ]; then
  # In a checkout: its own code, installed or not.
  PYTHONPATH="$checkout${PYTHONPATH:+:$PYTHONPATH}" exec python3 -m wsgi_s3 credentials "$@"
fi
exec wsgi-s3 credentials "$@"

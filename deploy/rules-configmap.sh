#!/bin/sh
# Prints the ConfigMap `quotecast-rules` holding every file under the rules
# directory given (default: rules). A ConfigMap's keys cannot hold `/`, so
# each file's key is its path with `/` written `__`, and the Deployment
# mounts the map with `items` generated here, putting each key back at its
# path: apply the output, then patch the Deployment with the items printed
# on standard error (or mount the image's own /etc/quotecast/rules).
set -eu
dir=${1:-rules}
cd "$dir"
files=$(find . -type f \( -name '*.toml' -o -name '*.csv' -o -name '*.json' \) | sed 's|^\./||' | sort)
echo "apiVersion: v1"
echo "kind: ConfigMap"
echo "metadata:"
echo "  name: quotecast-rules"
echo "data:"
for f in $files; do
  key=$(printf '%s' "$f" | sed 's|/|__|g')
  echo "  $key: |"
  sed 's/^/    /' "$f"
done
echo "# items for the Deployment's rules volume:" >&2
for f in $files; do
  key=$(printf '%s' "$f" | sed 's|/|__|g')
  echo "  - { key: $key, path: $f }" >&2
done

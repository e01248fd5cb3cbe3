#!/bin/sh
# Prints the ConfigMap `quotecast-rules` holding the rule files under the
# rules directory given (default: rules). A ConfigMap's keys cannot hold
# `/`, so each file's key is its path with `/` written `__`
# (`catalog/laptops.toml` becomes `catalog__laptops.toml`): the server
# reads every rule file of a directory whatever its name, so the map
# mounted as one flat directory loads the same rules (`quotecast rules
# check` on it says so). The regression cases under tests/ are left out:
# `quotecast rules test` runs them, the server does not need them.
set -eu
dir=${1:-rules}
cd "$dir"
echo "apiVersion: v1"
echo "kind: ConfigMap"
echo "metadata:"
echo "  name: quotecast-rules"
echo "data:"
find . -type f -name '*.toml' ! -path './tests/*' | sed 's|^\./||' | sort | while read -r f; do
  key=$(printf '%s' "$f" | sed 's|/|__|g')
  echo "  $key: |"
  sed 's/^/    /' "$f"
done

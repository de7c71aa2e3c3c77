#!/usr/bin/env bash
# Prints the SHA-256 of every .proto input of `make generate` (path and content, in a fixed order).
set -euo pipefail
cd "$(dirname "$0")/.."
{ find proto-docs third_party/proto -name '*.proto' | LC_ALL=C sort | while read -r file; do echo "== $file"; cat "$file"; done; } | sha256sum | cut -d' ' -f1

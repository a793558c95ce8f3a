#!/usr/bin/env bash
# Contract checks CI runs (also `npm run check:contracts`):
#   1. buf lint (STANDARD);
#   2. buf breaking against the previous commit, when it has contracts;
#   3. gen/ is exactly what `buf generate` produces from proto/.
# Works offline: buf comes from node_modules, and buf/validate/validate.proto
# from .proto-deps (derived at install time).
set -euo pipefail
cd "$(dirname "$0")/.."
buf=node_modules/.bin/buf

echo "contracts: buf lint"
"$buf" lint

# `buf breaking --against .git#ref=...` would need .proto-deps inside the old
# commit, which is never committed, so lay the old contracts out as a
# workspace beside the current .proto-deps and compare against that.
if git rev-parse --verify --quiet HEAD~1 >/dev/null && git cat-file -e HEAD~1:proto 2>/dev/null; then
  previous=$(mktemp -d)
  trap 'rm -rf "$previous"' EXIT
  git archive HEAD~1 proto | tar -x -C "$previous"
  cp -r .proto-deps "$previous/.proto-deps"
  printf 'version: v2\nmodules:\n  - path: proto\n  - path: .proto-deps\n' >"$previous/buf.yaml"
  printf '    breaking:\n      ignore:\n        - .proto-deps\n' >>"$previous/buf.yaml"
  echo "contracts: buf breaking against $(git rev-parse --short HEAD~1)"
  "$buf" breaking --against "$previous"
else
  echo "contracts: no previous commit with contracts; skipping buf breaking"
fi

echo "contracts: generated code is up to date"
# Two different faults: generation changes gen/ (proto/ and gen/ disagree),
# or it changes nothing but gen/ differs from the commit (generated, not
# committed). A fingerprint of gen/ before and after tells them apart.
fingerprint() { find gen/src -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum; }
before=$(fingerprint)
"$buf" generate
if [ "$(fingerprint)" != "$before" ]; then
  git status --porcelain -- gen
  echo "gen/ differs from what 'npm run generate' produces from proto/: run it and commit the result" >&2
  exit 1
fi
if [ -n "$(git status --porcelain -- gen)" ]; then
  git status --porcelain -- gen
  echo "gen/ is what proto/ generates, but uncommitted: commit gen/" >&2
  exit 1
fi

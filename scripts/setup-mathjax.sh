#!/usr/bin/env bash
# Serve MathJax from the book's own static files so that pages render maths offline.
# Source: the npm package mathjax (version pinned below), unpacked from the npm registry.
set -euo pipefail
cd "$(dirname "$0")/.."
MATHJAX_VERSION=3.2.2
dest=book/_static/mathjax
if [ -f "$dest/tex-chtml.js" ] && [ "$(cat "$dest/.version" 2>/dev/null)" = "$MATHJAX_VERSION" ]; then
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "mathjax@$MATHJAX_VERSION" >/dev/null && tar xzf "mathjax-$MATHJAX_VERSION.tgz")
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
cp -r "$tmp/package/es5" "$dest"
echo "$MATHJAX_VERSION" > "$dest/.version"

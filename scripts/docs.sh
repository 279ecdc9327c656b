#!/usr/bin/env bash
# Builds the API documentation (DocC) of SimpleDet's public modules: one combined archive, laid out
# for static hosting, at .build/docs/SimpleDet.doccarchive (serve that folder and open
# /documentation/torch, /documentation/detection, ...). The catalogs are Sources/<Module>/<Module>.docc.
#
# SIMPLEDET_DOCS=1 makes Package.swift add the swift-docc-plugin dependency; the symbol graphs are
# built in a scratch folder of their own, so the ordinary build in .build/ is left as it is.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
swift=${SWIFT:-swift}
modules=(Torch NN Detection Data Masks Evaluation Visualization Config Engine)
output="$root/.build/docs/SimpleDet.doccarchive"

targets=()
for module in "${modules[@]}"; do targets+=(--target "$module"); done
rm -rf "$output"
mkdir -p "$(dirname "$output")"
SIMPLEDET_DOCS=1 "$swift" package --scratch-path "$root/.build/docs-build" \
  --allow-writing-to-directory "$(dirname "$output")" \
  generate-documentation "${targets[@]}" --enable-experimental-combined-documentation \
  --output-path "$output" --transform-for-static-hosting
echo "docs: $output"

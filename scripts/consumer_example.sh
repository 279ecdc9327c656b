#!/usr/bin/env bash
# Builds and runs Examples/DetectShapes, a package that depends on SimpleDet as any other package
# would: through a git URL at a tagged version. (Not through `.package(path:)`: SwiftPM lets path
# and branch dependencies use unsafe flags, like root packages, and would hide what a real
# dependency refuses.) `make test` runs it, so a change that breaks downstream use fails there.
#
# The working tree (committed or not, minus ignored files) becomes a tagged version 0.1.N of a
# git repository under .build/consumer/; the same tree reuses its version, so a second run with no
# change rebuilds nothing. Then the example does what README's "Use SimpleDet from your own
# package" tells a user to do: resolve, run SimpleDet's bootstrap in the checkout, build with that
# checkout's .deps/pkgconfig on PKG_CONFIG_PATH, run.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
example="$root/Examples/DetectShapes"
repo="$root/.build/consumer/simpledet"
swift=${SWIFT:-swift}

# The working tree as a git tree, through a scratch index (the real index and HEAD stay untouched).
index=$(mktemp)
trap 'rm -f "$index"' EXIT
cp "$(cd "$root" && git rev-parse --path-format=absolute --git-path index)" "$index"
tree=$(cd "$root" && GIT_INDEX_FILE="$index" git add -A && GIT_INDEX_FILE="$index" git write-tree)

[[ -d "$repo" ]] || git init -q --bare "$repo"
last=$(git -C "$repo" tag --list '0.1.*' --sort=-v:refname | head -n 1)
if [[ -n "$last" && "$(git -C "$repo" rev-parse "$last^{tree}")" == "$tree" ]]; then
  version=$last
else
  version=0.1.$((${last:+${last##*.} + 1}))
  commit=$(cd "$root" && git -c user.name=SimpleDet -c user.email=simpledet@localhost \
    commit-tree "$tree" -m "SimpleDet working tree, as version $version for the consumer example")
  git -C "$root" push -q "$repo" "$commit:refs/tags/$version"
fi
echo "consumer example: SimpleDet $version from file://$repo"

cd "$example"
export SIMPLEDET_URL="file://$repo"
rm -f Package.resolved
"$swift" package update >/dev/null
checkout="$example/.build/checkouts/simpledet"
"$checkout/scripts/bootstrap.sh"
PKG_CONFIG_PATH="$checkout/.deps/pkgconfig" "$swift" build
output=$(cd .build && debug/DetectShapes)  # it draws shapes.png in the current folder
echo "$output"

# The detector ran: a count line, then one line per detection (up to ten).
count=$(sed -n 's/^\([0-9][0-9]*\) detections in .*/\1/p' <<<"$output")
lines=$(grep -cE '^  (circle|rectangle|triangle) +[0-9.]+  \[' <<<"$output" || true)
if [[ -z "$count" || "$count" -lt 1 || "$lines" -ne $((count < 10 ? count : 10)) ]]; then
  echo "consumer example: expected detections in the output above" >&2
  exit 1
fi
echo "consumer example: OK"

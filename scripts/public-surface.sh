#!/bin/sh
# Counts the documented public surface: item pages (root, formatter/, local/) and the inherent
# and required-trait methods on them, from `cargo doc --no-deps` HTML. Lists go to $OUT.
# Usage: scripts/public-surface.sh [OUT_DIR]   (run from the crate root)
set -eu
out=${1:-target/public-surface}
mkdir -p "$out"
cargo doc --no-deps --lib -q
d=${CARGO_TARGET_DIR:-target}/doc/azureml_endpoint
find "$d" -name '*.html' | sed "s|$d/||" \
  | grep -E '^((formatter|local)/)?(struct|enum|trait|type|constant|fn|macro|static)\.[^/]*\.html$' \
  | sort > "$out/items"
while read -r f; do
  # Methods listed before the "Trait Implementations" section: inherent ones (and a trait's own).
  sed 's/id="trait-implementations"/\nTRAITIMPLS\n/' "$d/$f" | sed '/^TRAITIMPLS$/q' \
    | grep -o 'id="\(method\|tymethod\)\.[a-z_0-9]*"' | sed "s|^|$f |"
done < "$out/items" | sort -u > "$out/methods"
echo "items $(wc -l < "$out/items"), methods $(wc -l < "$out/methods") (lists in $out)"

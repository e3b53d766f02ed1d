#!/usr/bin/env bash
# Replace the vendored Tabulator with another release from the npm registry.
#   console/static/vendor/tabulator/update.sh 6.5.3
# Needs npm (only to fetch the package tarball; nothing is installed). Review the
# release notes, run the grid's tests (tests/test_grid_api.py, tests/browser/test_grid_browser.py),
# look at the screenshots, then commit the files this script wrote.
set -euo pipefail
version="${1:?usage: update.sh VERSION (for example 6.5.3)}"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "tabulator-tables@${version}" >/dev/null)
tar -xzf "$work/tabulator-tables-${version}.tgz" -C "$work"
package="$work/package"
# The minified build and the Bootstrap 4 theme (the console's Flask-Admin theme), without
# their source-map comments: the maps are not vendored, so browsers would ask for them.
sed '/^\/\/# sourceMappingURL=/d' "$package/dist/js/tabulator.min.js" > "$here/tabulator.min.js"
sed 's#/\*\# sourceMappingURL=[^*]*\*/##' "$package/dist/css/tabulator_bootstrap4.min.css" \
  > "$here/tabulator_bootstrap4.min.css"
cp "$package/LICENSE" "$here/LICENSE"
echo "$version" > "$here/VERSION"
(cd "$here" && sha256sum tabulator.min.js tabulator_bootstrap4.min.css LICENSE > SHA256SUMS)
echo "Tabulator $version vendored into $here"

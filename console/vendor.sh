#!/usr/bin/env bash
# Vendors the two third-party parts of the web pages into console/web/vendor,
# at the pinned versions below, from the npm registry: each tarball is
# checked against the registry's published sha512 integrity before a file
# of it is used. The files are committed, so `go build` needs neither npm
# nor the network; run this only to change a version (then update the
# integrity from `npm view <name>@<version> dist.integrity`).
#
#   console/vendor.sh
set -euo pipefail
cd "$(dirname "$0")"

# name version integrity license files-to-keep (paths inside the tarball)
PARTS=(
	"uplot 1.6.32 sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw== MIT package/dist/uPlot.iife.min.js package/dist/uPlot.min.css package/LICENSE"
	"swagger-ui-dist 5.36.0 sha512-Lt6/Kb0gXmLdiabLhvso4VdJP9V7qJWB0zh0gzeXUV3+CMOTzMmvpJRSXN7EAjfwixwmoi9ezDbLHiexC7lA9A== Apache-2.0 package/swagger-ui-bundle.js package/swagger-ui.css package/LICENSE package/NOTICE"
)
REGISTRY=${NPM_REGISTRY:-https://registry.npmjs.org}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=web/vendor
rm -rf "$out"
mkdir -p "$out"
{
	echo "# Vendored parts"
	echo
	echo "Written by console/vendor.sh; do not edit. Each file is unchanged from"
	echo "its npm tarball, which was checked against the integrity shown."
	echo
} >"$out/SOURCES.md"

for part in "${PARTS[@]}"; do
	read -r name version integrity license files <<<"$part"
	url="$REGISTRY/$name/-/$name-$version.tgz"
	curl -fsSL --retry 3 -o "$tmp/$name.tgz" "$url"
	got="sha512-$(openssl dgst -sha512 -binary "$tmp/$name.tgz" | base64 -w0)"
	if [ "$got" != "$integrity" ]; then
		echo "vendor: $url: integrity $got, want $integrity" >&2
		exit 1
	fi
	mkdir -p "$tmp/$name" "$out/$name"
	tar -xzf "$tmp/$name.tgz" -C "$tmp/$name"
	for f in $files; do
		cp "$tmp/$name/$f" "$out/$name/"
	done
	printf -- '- %s %s (%s): %s, %s\n' "$name" "$version" "$license" "$url" "$integrity" >>"$out/SOURCES.md"
done
echo "vendor: wrote $out"

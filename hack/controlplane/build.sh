#!/usr/bin/env bash
# Builds the pinned Kubernetes control-plane binaries and etcd from the Go
# module proxy into a cache directory keyed by version. Idempotent: when every
# binary is already present it does nothing.
#
#   KELP_CONTROLPLANE_DIR  overrides the target directory
#                          (default ${XDG_CACHE_HOME:-~/.cache}/kelp/controlplane/<version>)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(cat "$here/VERSION")"
dir="${KELP_CONTROLPLANE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kelp/controlplane/$version}"
binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl)

missing=()
for b in "${binaries[@]}"; do
	[[ -x "$dir/$b" ]] || missing+=("$b")
done
if [[ ${#missing[@]} -eq 0 ]]; then
	echo "control plane $version present in $dir"
	exit 0
fi

echo "building ${missing[*]} ($version) into $dir"
mkdir -p "$dir"
tmp="$(mktemp -d "$dir/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

export CGO_ENABLED=0
kube_version="${version%%-etcd*}"
kv="k8s.io/component-base/version"
kube_ldflags="-s -w -X $kv.gitVersion=$kube_version -X $kv.gitMajor=$(echo "$kube_version" | cut -d. -f1 | tr -d v) -X $kv.gitMinor=$(echo "$kube_version" | cut -d. -f2) -X $kv.gitTreeState=clean -X $kv.buildDate=1970-01-01T00:00:00Z"
echo "a first build takes about 7 minutes on an idle 2-core machine (kube-apiserver is most of it),"
echo "much longer while other builds run; it prints a line every 30 s while a binary compiles;"
echo "later runs reuse $dir"
for b in "${missing[@]}"; do
	start=$SECONDS
	echo "  building $b"
	# A heartbeat while the compiler is quiet.
	(while sleep 30; do echo "  still building $b: $((SECONDS - start))s so far"; done) &
	heartbeat=$!
	trap 'kill "$heartbeat" 2>/dev/null || true; rm -rf "$tmp"' EXIT
	case "$b" in
	etcd)
		(cd "$here/etcd" && go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
		;;
	*)
		(cd "$here" && go build -trimpath -ldflags "$kube_ldflags" -o "$tmp/$b" "k8s.io/kubernetes/cmd/$b")
		;;
	esac
	# Rename is atomic: an interrupted build never leaves a partial binary.
	kill "$heartbeat" 2>/dev/null || true
	wait "$heartbeat" 2>/dev/null || true
	mv "$tmp/$b" "$dir/$b"
	echo "  $b built in $((SECONDS - start))s"
done

#!/usr/bin/env bash
# Installs what `make test` needs besides Go and the control-plane binaries:
#   cloud-init  `cloud-init schema` validates every rendered user-data;
#   awscli      the AWS CLI is the local cloud's compatibility client;
#   chromium    headless Chromium drives the web view's browser tests
#               (test/e2e; they fail, never skip, without it).
# Debian or Ubuntu: installed with apt-get (as root, or through sudo without
# a password). Elsewhere it stops and says what to install.
set -euo pipefail

need=()
command -v cloud-init >/dev/null 2>&1 || need+=(cloud-init)
command -v aws >/dev/null 2>&1 || need+=(awscli)
if [[ -z ${KELP_CHROMIUM:-} ]] && ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
	need+=(chromium)
fi
[[ ${#need[@]} -eq 0 ]] && exit 0

sudo=()
if [[ $(id -u) -ne 0 ]]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo=(sudo)
	else
		sudo=(none)
	fi
fi
if ! command -v apt-get >/dev/null 2>&1 || [[ ${sudo[*]} == none ]]; then
	echo "make test needs ${need[*]} on PATH, and cannot install them here." >&2
	echo "Install them (Debian/Ubuntu: sudo apt-get install ${need[*]}) and run make test again." >&2
	exit 1
fi
echo "make test: installing ${need[*]} with apt-get (needed by the user-data, AWS CLI and web view tests)" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${need[@]}" >/dev/null

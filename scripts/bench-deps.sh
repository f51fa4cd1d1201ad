#!/usr/bin/env bash
# Installs what the benchmarks need beyond Go: wrk (Debian package) for
# tools/netbench. Safe to run again.
set -euo pipefail
if ! command -v wrk >/dev/null 2>&1; then
	if [ "$(id -u)" != 0 ]; then
		echo "bench-deps.sh: wrk is missing; run as root (apt-get install wrk)" >&2
		exit 1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null || {
		apt-get update -q >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null
	}
fi
wrk --version 2>&1 | head -1 || true

#!/usr/bin/env bash
# Builds examples/hello into a unikernel and boots it on KVM.
set -euo pipefail

cd "$(dirname "$0")/.."

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi

mote=$(mktemp -d)/mote
trap 'rm -rf "$(dirname "$mote")"' EXIT
echo "+ CGO_ENABLED=0 go build -o mote ./cmd/mote"
CGO_ENABLED=0 go build -o "$mote" ./cmd/mote

echo "+ mote build -o hello.img ./examples/hello"
"$mote" build -o "$(dirname "$mote")/hello.img" ./examples/hello

echo "+ mote run -e GREETING='booted on KVM' hello.img -- world"
status=0
"$mote" run -e GREETING='booted on KVM' "$(dirname "$mote")/hello.img" -- world || status=$?
echo "(guest exit status $status)"

echo "+ mote run -e EXIT_CODE=3 ./examples/hello -- again   # built into the cache, then booted"
status=0
"$mote" run -e EXIT_CODE=3 ./examples/hello -- again || status=$?
echo "(guest exit status $status)"

#!/usr/bin/env bash
# Runs mote's test suite: go vet and go test over the whole module.
#
# Needs Go 1.26 or newer on PATH and, for the tests that boot guests, a
# usable /dev/kvm. With CI=true a missing or inaccessible /dev/kvm is an
# error instead of a reason to skip those tests.
set -euo pipefail

cd "$(dirname "$0")/.."

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
if ! command -v go >/dev/null 2>&1; then
	echo "test.sh: the go command is not on PATH; install Go 1.26 or newer (https://go.dev/dl/)" >&2
	exit 1
fi
gover="$(go env GOVERSION)"
case "$gover" in
go1.2[6-9]* | go1.[3-9][0-9]* | devel*) ;;
*)
	echo "test.sh: Go 1.26 or newer is required (found $gover)" >&2
	exit 1
	;;
esac

kvm_ok=1
if [ ! -e /dev/kvm ]; then
	kvm_ok=0
	why="/dev/kvm does not exist (KVM is not available on this machine)"
elif [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	kvm_ok=0
	why="/dev/kvm is not readable and writable by $(id -un) (add the user to the kvm group)"
fi
if [ "$kvm_ok" = 0 ]; then
	if [ "${CI:-}" = "true" ]; then
		echo "test.sh: $why; the tests need KVM" >&2
		exit 1
	fi
	echo "test.sh: warning: $why; tests that boot guests will be skipped" >&2
fi

# The library OS (kernel/) converts guest addresses to pointers by design and
# has assembly that manages its own frames: vet it without those two checks.
echo "+ go vet ./..."
go vet $(go list ./... | grep -v '/kernel$')
go vet -unsafeptr=false -framepointer=false ./kernel
echo "+ go test ./... -count=1 -timeout 60m"
go test ./... -count=1 -timeout 60m

#!/usr/bin/env bash
# The main job: builds mote, builds examples/hello and examples/httpd into
# unikernels, boots them on KVM, and fetches a page from the HTTP server
# through a published port (user-mode network, no root needed).
set -euo pipefail

cd "$(dirname "$0")/.."

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi

tmp=$(mktemp -d)
mote=$tmp/mote
server=
cleanup() {
	if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
echo "+ CGO_ENABLED=0 go build -o mote ./cmd/mote"
CGO_ENABLED=0 go build -o "$mote" ./cmd/mote

echo "+ mote build -o hello.img ./examples/hello"
"$mote" build -o "$tmp/hello.img" ./examples/hello

echo "+ mote run -e GREETING='booted on KVM' hello.img -- world"
status=0
"$mote" run -e GREETING='booted on KVM' "$tmp/hello.img" -- world || status=$?
echo "(guest exit status $status)"

port=${PORT:-8080}
echo "+ mote build -o httpd.img ./examples/httpd"
"$mote" build -o "$tmp/httpd.img" ./examples/httpd
echo "+ mote run -p $port:80 httpd.img &"
"$mote" run -p "$port:80" "$tmp/httpd.img" &
server=$!

# GET / through the published port (bash's /dev/tcp: no curl needed).
get() {
	exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
	printf 'GET / HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
	cat <&3
	exec 3<&-
}
for _ in $(seq 100); do
	if reply=$(get 2>/dev/null) && [ -n "$reply" ]; then
		echo "+ GET http://127.0.0.1:$port/"
		printf '%s\n' "$reply" | tr -d '\r'
		exit 0
	fi
	if ! kill -0 "$server" 2>/dev/null; then
		echo "demo.sh: the HTTP server exited" >&2
		exit 1
	fi
	sleep 0.1
done
echo "demo.sh: no answer from the HTTP server on port $port" >&2
exit 1

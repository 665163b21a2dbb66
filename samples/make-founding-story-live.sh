#!/bin/sh
# Makes samples/founding-story-live.pcapng with a real `rsthound watch --write` run (root):
# in a fresh network namespace, a client named `collectord` tries the closed 127.0.0.1:7211
# twice a second for 5 s while a healthy HTTP server on 127.0.0.1:8080 answers a few clients.
# The file keeps, on each RST, what the kernel said (reason, client process).
set -eu
cd "$(dirname "$0")/.."
BIN=${RSTHOUND:-target/release/rsthound}
OUT=samples/founding-story-live.pcapng
NS=rsth-story-$$
TMP=$(mktemp -d)
cleanup() {
    [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
# The interpreter itself (not a wrapper script), under the names the processes should have.
PY=$(python3 -c 'import sys; print(sys.executable)')
for name in collectord httpd webclient; do ln -s "$PY" "$TMP/$name"; done
rm -f "$OUT"
"$BIN" watch --netns "$NS" --write "$OUT" >"$TMP/watch.out" 2>"$TMP/watch.err" &
WATCH=$!
sleep 1.5
ip netns exec "$NS" "$TMP/httpd" -m http.server 8080 --bind 127.0.0.1 --directory "$TMP" \
    >/dev/null 2>&1 &
SERVER=$!
sleep 0.5
ip netns exec "$NS" "$TMP/webclient" -c '
import time, urllib.request
for i in range(4):
    urllib.request.urlopen("http://127.0.0.1:8080/").read()
    time.sleep(1.2)
' &
CLIENTS=$!
cat >"$TMP/collectord.py" <<'PY'
import socket, time
for i in range(10):
    try:
        socket.create_connection(("127.0.0.1", 7211), timeout=1).close()
    except ConnectionRefusedError:
        pass
    time.sleep(0.5)
PY
# Command line as a user would see it: `./collectord collectord.py`.
(cd "$TMP" && ip netns exec "$NS" ./collectord collectord.py)
wait "$CLIENTS"
sleep 0.5
kill -INT "$WATCH"
wait "$WATCH" || true
cat "$TMP/watch.out" "$TMP/watch.err"

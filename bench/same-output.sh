#!/usr/bin/env bash
# Compares two rsthound binaries on every capture of the peers' corpus (and the bench captures,
# when they exist) in every output mode: text, --json, --connections, --raw and --write (the
# pcapng bytes). Prints each difference and a count; exit 1 when anything differs.
#
#   bench/same-output.sh OLD NEW
#
# Environment: CORPUS (default ../shared/corpus/peers), BENCH_DIR (default target/bench-data),
# JOBS (parallel files, default 2), DROP_FIELDS (JSON fields left out of both sides before the
# comparison, space-separated: fields the new binary adds, whose values are a string, a number
# or an object without nested objects). The summary's `max_connections` depends on the build's
# memory sizing and is left out of the comparison.
set -uo pipefail
old=${1:?usage: same-output.sh OLD NEW}
new=${2:?usage: same-output.sh OLD NEW}
cd "$(dirname "$0")/.."
corpus=${CORPUS:-../shared/corpus/peers}
bench=${BENCH_DIR:-target/bench-data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

files=()
if [ -d "$corpus" ]; then
  while IFS= read -r -d '' f; do files+=("$f"); done < <(
    find "$corpus" -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' -o -name '*.gz' -o -name '*.trace' -o -name '*.dump' -o -name '*.pcap.zst' \) -print0 | sort -z)
else
  echo "same-output: no corpus at $corpus" >&2
fi
for f in "$bench"/*.pcap; do [ -f "$f" ] && files+=("$f"); done
[ ${#files[@]} -gt 0 ] || { echo "same-output: no captures found" >&2; exit 2; }

# One file, every mode: prints one line per difference.
compare_file() {
  local f=$1 i=$2 d="$work/$2"
  mkdir -p "$d"
  local modes=("text:" "json:--json" "connections:--connections" "raw:--raw" "rawjson:--raw --json" "write:--write")
  for m in "${modes[@]}"; do
    local name=${m%%:*} args=${m#*:}
    for side in old new; do
      local bin=$old; [ $side = new ] && bin=$new
      if [ "$name" = write ]; then
        "$bin" read --no-progress -q --write "$d/$side.pcapng" "$f" >"$d/$side.out" 2>"$d/$side.err"
      else
        # shellcheck disable=SC2086
        "$bin" read --no-progress $args "$f" >"$d/$side.out" 2>"$d/$side.err"
      fi
      echo "exit $?" >>"$d/$side.err"
      sed -i 's/"max_connections":[0-9]*,//; s/at most [0-9,]* connections//' "$d/$side.out" "$d/$side.err"
      for field in ${DROP_FIELDS:-}; do
        sed -i -E "s/\"$field\":(\{[^{}]*\}|\"[^\"]*\"|[^,{}]*),?//g" "$d/$side.out"
      done
    done
    cmp -s "$d/old.out" "$d/new.out" || echo "DIFF $name stdout: $f"
    cmp -s "$d/old.err" "$d/new.err" || echo "DIFF $name stderr: $f"
    if [ "$name" = write ]; then
      if [ -f "$d/old.pcapng" ] || [ -f "$d/new.pcapng" ]; then
        cmp -s "$d/old.pcapng" "$d/new.pcapng" || echo "DIFF write pcapng: $f"
      fi
      rm -f "$d/old.pcapng" "$d/new.pcapng"
    fi
  done
  rm -rf "$d"
}
export -f compare_file
export old new work DROP_FIELDS

printf '%s\0' "${files[@]}" | xargs -0 -n1 -P "${JOBS:-2}" bash -c 'compare_file "$1" "$(echo "$1" | md5sum | cut -c1-12)"' _ >"$work/diffs"
n=$(wc -l <"$work/diffs")
cat "$work/diffs"
echo "same-output: ${#files[@]} captures x 6 modes, $n differences"
[ "$n" -eq 0 ]

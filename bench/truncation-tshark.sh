#!/usr/bin/env bash
# Records tshark's RST count (`tcp.flags.reset==1`, frames) of every capture of the peers' corpus
# that has RSTs, cut to each snap length of the truncation matrix, into
# tests/data/truncation-tshark.tsv: the expected counts tests/truncation_matrix.rs checks
# rsthound against, so that CI needs no tshark. The cut bytes are the test's own
# (examples/snap_cut.rs, rsthound::testkit::snap). Captures without RSTs are not run: a cut
# cannot add one, and the test expects 0 of them.
#
# Usage: bench/truncation-tshark.sh   (needs tshark and ../shared/corpus/peers; about 4 minutes
# on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=../shared/corpus/peers
snaps="14 34 54 60 64 96"
command -v tshark >/dev/null || { echo "tshark is not installed" >&2; exit 1; }
[ -f "$corpus/rst_counts.tsv" ] || { echo "the peers' corpus is not at $corpus" >&2; exit 1; }
cargo build -q --example snap_cut
export CUT="$PWD/target/debug/examples/snap_cut" CORPUS="$corpus"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export TMPD="$tmp"

# One job: FILE SNAP -> "FILE<TAB>SNAP<TAB>COUNT" (or "-" when the file is not a capture we cut).
job() {
  local file=$1 snap=$2 cut
  cut="$TMPD/$(echo "$file" | tr '/' '_').$snap"
  if "$CUT" "$snap" "$CORPUS/$file" >"$cut" 2>/dev/null; then
    n=$(tshark -r "$cut" -Y 'tcp.flags.reset==1' -T fields -e frame.number 2>/dev/null | wc -l)
  else
    n=-
  fi
  rm -f "$cut"
  printf '%s\t%s\t%s\n' "$file" "$snap" "$n"
}
export -f job

awk -F'\t' 'NR > 1 && $5 > 0 { print $1 }' "$corpus/rst_counts.tsv" |
  while read -r file; do for s in $snaps; do printf '%s %s\n' "$file" "$s"; done; done |
  xargs -P "$(nproc)" -n 2 bash -c 'job "$0" "$1"' >"$tmp/rows"

out=tests/data/truncation-tshark.tsv
{
  echo "# $(tshark --version | head -1); made by bench/truncation-tshark.sh"
  printf 'file\tsnap\trst_tshark\n'
  sort -t"$(printf '\t')" -k1,1 -k2,2n "$tmp/rows"
} >"$out"
echo "$(($(wc -l <"$out") - 2)) rows written to $out"

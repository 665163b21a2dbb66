#!/usr/bin/env bash
# One-run comparison of `rsthound read` against tcpdump, tshark and cat on
# synthetic captures made by examples/gencap.rs. See bench/README.md.
#
# Environment (all optional):
#   BENCH_DIR        where captures and logs live     (default target/bench-data)
#   MIXED_PACKETS    packets in mixed.pcap            (default 5000000)
#   SMALL_PACKETS    packets in small.pcap            (default 5000000)
#   MIXED_1M_PACKETS packets in mixed-1m.pcap         (default 1000000)
#   SPOOFED_PACKETS  SYNs in spoofed.pcap             (default 1000000)
#   ROUNDS           timed rounds per tool            (default 3)
#   VERIFY           1 = check rsthound's line count against gencap's RST count
#                    (one extra untimed run per capture; default 1)
#   STRICT           1 = exit 1 when a target does not hold or could not be
#                    checked (default 0: report only)
#   PAGE_CACHE       reread = drop each capture from the page cache and read
#                    it back from disk before timing, so that every run starts
#                    from the same state (default); asis = only warm it (the
#                    state then depends on how the file was last written/read)
#   CARGO_TARGET_DIR as for cargo                     (default <repo>/target)
#   RSTHOUND         binary to benchmark     (default $CARGO_TARGET_DIR/release/rsthound)
#   BASELINE         another rsthound binary timed in the same rounds (e.g. the build
#                    before a change); its ratio to RSTHOUND is reported per capture
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$script_dir/.." && pwd)
cd "$root"

BENCH_DIR=${BENCH_DIR:-target/bench-data}
MIXED_PACKETS=${MIXED_PACKETS:-5000000}
SMALL_PACKETS=${SMALL_PACKETS:-5000000}
MIXED_1M_PACKETS=${MIXED_1M_PACKETS:-1000000}
SPOOFED_PACKETS=${SPOOFED_PACKETS:-1000000}
ROUNDS=${ROUNDS:-3}
VERIFY=${VERIFY:-1}
STRICT=${STRICT:-0}
PAGE_CACHE=${PAGE_CACHE:-reread}
target_dir=${CARGO_TARGET_DIR:-$root/target}
case $target_dir in /*) ;; *) target_dir=$root/$target_dir ;; esac

RSTHOUND=${RSTHOUND:-$target_dir/release/rsthound}
BASELINE=${BASELINE:-}
GENCAP=$target_dir/release/examples/gencap
TIME=/usr/bin/time

say() { printf '%s\n' "$*" >&2; }
die() { say "compare.sh: $*"; exit 2; }

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer (got '$ROUNDS')"
[[ $PAGE_CACHE == reread || $PAGE_CACHE == asis ]] || die "PAGE_CACHE must be reread or asis (got '$PAGE_CACHE')"
[[ -x $TIME ]] || die "$TIME not found: install GNU time (Debian package 'time': apt-get install time)"
[[ -n ${EPOCHREALTIME:-} ]] || die "bash >= 5 is needed (EPOCHREALTIME)"

# ---------------------------------------------------------------- build
say "== building (cargo build --release --bins --examples)"
cargo build --release --bins --examples >&2

[[ -x $GENCAP ]] || die "gencap was not built ($GENCAP)"

mkdir -p "$BENCH_DIR/logs"
bench_dir=$(cd "$BENCH_DIR" && pwd)
logs=$bench_dir/logs

# ---------------------------------------------------------------- tools
have_rsthound=1 have_tcpdump=1 have_tshark=1
if [[ ! -x $RSTHOUND ]]; then
    have_rsthound=0
    say "SKIP rsthound: $RSTHOUND does not exist (no binary target built yet?)"
fi
have_baseline=0
if [[ -n $BASELINE ]]; then
    [[ -x $BASELINE ]] || die "BASELINE=$BASELINE is not an executable"
    have_baseline=1
fi
if ! command -v tcpdump >/dev/null 2>&1; then
    have_tcpdump=0
    say "SKIP tcpdump: not installed (Debian: apt-get install tcpdump)"
fi
if ! command -v tshark >/dev/null 2>&1; then
    have_tshark=0
    say "SKIP tshark: not installed (Debian: apt-get install tshark)"
fi

# ---------------------------------------------------------------- captures
# gen NAME MODE PACKETS: make $bench_dir/NAME.pcap unless a capture with the same
# mode and packet count is already there. The sidecar NAME.pcap.meta holds
# "mode packets rsts bytes" as written by gencap.
gen() {
    local name=$1 mode=$2 n=$3
    local f=$bench_dir/$name.pcap meta=$bench_dir/$name.pcap.meta
    if [[ -f $f && -f $meta ]]; then
        local m_mode m_packets m_bytes
        read -r m_mode m_packets _ m_bytes <"$meta" || true
        if [[ $m_mode == "$mode" && $m_packets == "$n" && $m_bytes == "$(stat -c %s "$f")" ]]; then
            say "== $name.pcap: present ($n packets)"
            return
        fi
    fi
    say "== generating $name.pcap ($mode, $n packets)"
    rm -f "$f" "$meta"
    local line
    line=$("$GENCAP" "$mode" --packets "$n" "$f.tmp" 2>&1 >/dev/null | tee /dev/stderr | grep '^gencap: ') ||
        die "gencap $mode failed"
    # gencap: MODE packets=N rsts=R (P%) bytes=B ...
    local packets rsts bytes
    packets=$(sed -n 's/.* packets=\([0-9]*\).*/\1/p' <<<"$line")
    rsts=$(sed -n 's/.* rsts=\([0-9]*\).*/\1/p' <<<"$line")
    bytes=$(sed -n 's/.* bytes=\([0-9]*\).*/\1/p' <<<"$line")
    [[ $packets == "$n" ]] || die "gencap wrote $packets packets, expected $n"
    mv "$f.tmp" "$f"
    echo "$mode $packets $rsts $bytes" >"$meta"
}

captures=(mixed small mixed-1m spoofed)
gen mixed mixed "$MIXED_PACKETS"
gen small small "$SMALL_PACKETS"
gen mixed-1m mixed "$MIXED_1M_PACKETS"
gen spoofed spoofed "$SPOOFED_PACKETS"

# The page cache keeps a file in large folios when it was read in from disk and in small
# ones when it was written in small pieces (as gencap and tcpdump -w write): the kernel's
# copy for read() costs the same either way, but a memory mapping of small folios costs a
# fault per 64 KiB, and rsthound then reads with pread() instead. "reread" puts every
# capture in the read-from-disk state, whatever happened to it before.
if [[ $PAGE_CACHE == reread ]]; then
    say "== dropping the captures from the page cache and reading them back from disk"
    for c in "${captures[@]}"; do
        dd of="$bench_dir/$c.pcap" oflag=nocache conv=notrunc,fdatasync count=0 status=none ||
            die "could not drop $c.pcap from the page cache (GNU dd oflag=nocache)"
        cat "$bench_dir/$c.pcap" >/dev/null
    done
    cache_state="page cache warm, read back from disk"
else
    say "== warming the page cache"
    for c in "${captures[@]}"; do cat "$bench_dir/$c.pcap" >/dev/null; done
    cache_state="page cache warm, as left (PAGE_CACHE=asis)"
fi

# ---------------------------------------------------------------- runs
tools_for() {
    local c=$1 list=()
    if ((have_rsthound)); then list+=(rsthound); fi
    if ((have_baseline)); then list+=(baseline); fi
    if ((have_tcpdump)); then list+=(tcpdump); fi
    if [[ $c == mixed-1m ]] && ((have_tshark)); then list+=(tshark); fi
    list+=(cat)
    echo "${list[@]}"
}

# run_tool TOOL FILE STDERR_LOG: the measured command
run_tool() {
    local tool=$1 f=$2 err=$3
    case $tool in
    rsthound) "$TIME" -f '%e %M' -o "$logs/time.out" "$RSTHOUND" read "$f" >/dev/null 2>"$err" ;;
    baseline) "$TIME" -f '%e %M' -o "$logs/time.out" "$BASELINE" read "$f" >/dev/null 2>"$err" ;;
    tcpdump) "$TIME" -f '%e %M' -o "$logs/time.out" tcpdump -nn -r "$f" 'tcp[tcpflags] & tcp-rst != 0' -w /dev/null 2>"$err" ;;
    tshark) "$TIME" -f '%e %M' -o "$logs/time.out" tshark -r "$f" -Y 'tcp.flags.reset==1' >/dev/null 2>"$err" ;;
    cat) "$TIME" -f '%e %M' -o "$logs/time.out" cat "$f" >/dev/null 2>"$err" ;;
    esac
}

raw=$bench_dir/last-run.tsv
printf 'capture\ttool\tround\twall_s\ttime_e_s\tmaxrss_kib\tstatus\n' >"$raw"
declare -A failed=()

for c in "${captures[@]}"; do
    f=$bench_dir/$c.pcap
    read -r -a tools <<<"$(tools_for "$c")"
    say "== $c.pcap: ${ROUNDS} round(s) of: ${tools[*]}"
    nt=${#tools[@]}
    for ((r = 1; r <= ROUNDS; r++)); do
        # rotate the order each round so that no tool always runs right after
        # the same neighbour
        for ((i = 0; i < nt; i++)); do
            t=${tools[(i + r - 1) % nt]}
            [[ -n ${failed[$c/$t]:-} ]] && continue
            err=$logs/$t.$c.r$r.stderr
            t0=$EPOCHREALTIME
            status=ok
            run_tool "$t" "$f" "$err" || status=failed
            t1=$EPOCHREALTIME
            wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
            # the time(1) output file may start with "Command exited with non-zero status"
            e=- m=0
            read -r e m < <(tail -n 1 "$logs/time.out" 2>/dev/null) || true
            if [[ $status != ok ]]; then
                failed[$c/$t]=1
                say "   $t round $r: FAILED (exit status non-zero); stderr tail ($err):"
                tail -n 5 "$err" | sed 's/^/     | /' >&2
            else
                say "   $t round $r: ${wall}s  rss ${m} KiB"
            fi
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$t" "$r" "$wall" "$e" "$m" "$status" >>"$raw"
        done
    done
done

# ---------------------------------------------------------------- verify
declare -A verified=()
if ((VERIFY && have_rsthound)); then
    say "== verifying rsthound's RST line count against gencap's"
    for c in "${captures[@]}"; do
        [[ -n ${failed[$c/rsthound]:-} ]] && continue
        read -r _ _ want _ <"$bench_dir/$c.pcap.meta"
        got=$("$RSTHOUND" read "$bench_dir/$c.pcap" 2>/dev/null | { grep -c '\] seq ' || true; }) || got="error"
        if [[ $got == "$want" ]]; then
            verified[$c]="ok ($got RST lines)"
        else
            verified[$c]="MISMATCH: $got lines, gencap wrote $want RSTs"
        fi
    done
fi

# ---------------------------------------------------------------- report
# stats CAPTURE TOOL -> "median_s max_rss_kib" (empty when no successful run)
stats() {
    awk -F'\t' -v c="$1" -v t="$2" '
        $1 == c && $2 == t && $7 == "ok" { w[n++] = $4; if ($6 > m) m = $6 }
        END {
            if (n == 0) exit
            # insertion sort; n is small
            for (i = 1; i < n; i++) { v = w[i]; j = i - 1; while (j >= 0 && w[j] > v) { w[j+1] = w[j]; j-- } w[j+1] = v }
            med = (n % 2) ? w[int(n/2)] : (w[n/2 - 1] + w[n/2]) / 2
            printf "%.4f %d\n", med, m
        }' "$raw"
}

declare -A med=() rss=()
for c in "${captures[@]}"; do
    for t in rsthound baseline tcpdump tshark cat; do
        s=$(stats "$c" "$t")
        [[ -n $s ]] || continue
        read -r a b <<<"$s"
        med[$c/$t]=$a rss[$c/$t]=$b
    done
done

echo
echo "rsthound vs tcpdump / tshark / cat — median of $ROUNDS round(s), $cache_state"
echo "x tcpdump = tcpdump_time / tool_time (>1: faster than tcpdump); x cat = cat_time / tool_time"
for c in "${captures[@]}"; do
    read -r _ packets rsts bytes <"$bench_dir/$c.pcap.meta"
    echo
    printf '%s.pcap: %s packets, %s RSTs, %.1f MB\n' "$c" "$packets" "$rsts" "$(awk -v b="$bytes" 'BEGIN { print b / 1e6 }')"
    printf '  %-9s %9s %12s %9s %9s %9s %7s\n' tool median_s packets/s MB/s rss_MiB 'x tcpdump' 'x cat'
    for t in rsthound baseline tcpdump tshark cat; do
        if [[ -z ${med[$c/$t]:-} ]]; then
            [[ -n ${failed[$c/$t]:-} ]] && printf '  %-9s %s\n' "$t" "FAILED (see $logs/$t.$c.r*.stderr)"
            continue
        fi
        awk -v t="$t" -v s="${med[$c/$t]}" -v k="${rss[$c/$t]}" -v p="$packets" -v b="$bytes" \
            -v td="${med[$c/tcpdump]:-}" -v ct="${med[$c/cat]:-}" '
            function ratio(x) { return (x == "" || s <= 0) ? "-" : sprintf("%.2f", x / s) }
            BEGIN {
                pps = s > 0 ? p / s : 0; mbs = s > 0 ? b / 1e6 / s : 0
                printf "  %-9s %9.3f %12.0f %9.1f %9.1f %9s %7s\n", t, s, pps, mbs, k / 1024, ratio(td), ratio(ct)
            }'
    done
    if [[ -n ${med[$c/baseline]:-} && -n ${med[$c/rsthound]:-} ]]; then
        awk -v a="${med[$c/baseline]}" -v b="${med[$c/rsthound]}" \
            'BEGIN { printf "  rsthound / baseline wall time: %.3f (<1: the binary under test is faster)\n", b / a }'
    fi
    if [[ -n ${verified[$c]:-} ]]; then echo "  rsthound RST count: ${verified[$c]}"; fi
    last=$logs/rsthound.$c.r$ROUNDS.stderr
    if [[ -s $last ]]; then
        echo "  rsthound stderr (last round):"
        tail -n 4 "$last" | sed 's/^/    | /'
    fi
done

# ---------------------------------------------------------------- targets
echo
echo "targets:"
fails=0 unknown=0
check_ratio() { # LABEL CAPTURE MIN
    local label=$1 c=$2 min=$3
    if [[ -n ${failed[$c/rsthound]:-} ]]; then
        printf '  %-44s FAIL (rsthound exited non-zero)\n' "$label"
        fails=$((fails + 1))
        return
    fi
    if [[ -z ${med[$c/rsthound]:-} || -z ${med[$c/tcpdump]:-} ]]; then
        printf '  %-44s n/a (rsthound or tcpdump did not run)\n' "$label"
        unknown=$((unknown + 1))
        return
    fi
    local x
    x=$(awk -v a="${med[$c/tcpdump]}" -v b="${med[$c/rsthound]}" 'BEGIN { printf "%.2f", a / b }')
    if awk -v x="$x" -v m="$min" 'BEGIN { exit !(x >= m) }'; then
        printf '  %-44s PASS (%sx)\n' "$label" "$x"
    else
        printf '  %-44s FAIL (%sx)\n' "$label" "$x"
        fails=$((fails + 1))
    fi
}
check_ratio "rsthound >= 2.0x tcpdump on mixed.pcap" mixed 2.0
check_ratio "rsthound >= 1.0x tcpdump on small.pcap" small 1.0
if ((have_rsthound)); then
    worst=0 worst_c=
    for c in "${captures[@]}"; do
        k=${rss[$c/rsthound]:-0}
        if ((k > worst)); then worst=$k worst_c=$c; fi
    done
    if ((worst == 0)); then
        printf '  %-44s FAIL (no successful rsthound run)\n' "rsthound peak RSS < 64 MiB"
        fails=$((fails + 1))
    elif ((worst < 64 * 1024)); then
        printf '  %-44s PASS (max %.1f MiB, on %s)\n' "rsthound peak RSS < 64 MiB" "$(awk -v k="$worst" 'BEGIN { print k / 1024 }')" "$worst_c"
    else
        printf '  %-44s FAIL (max %.1f MiB, on %s)\n' "rsthound peak RSS < 64 MiB" "$(awk -v k="$worst" 'BEGIN { print k / 1024 }')" "$worst_c"
        fails=$((fails + 1))
    fi
    if [[ -n ${rss[spoofed/rsthound]:-} ]]; then
        printf '  %-44s %.1f MiB\n' "rsthound peak RSS on spoofed.pcap (SYN flood)" "$(awk -v k="${rss[spoofed/rsthound]}" 'BEGIN { print k / 1024 }')"
    fi
else
    printf '  %-44s n/a (rsthound not built)\n' "rsthound peak RSS < 64 MiB"
    unknown=$((unknown + 1))
fi
for c in "${captures[@]}"; do
    if [[ ${verified[$c]:-} == MISMATCH* ]]; then
        printf '  %-44s FAIL (%s)\n' "rsthound RST count on $c.pcap" "${verified[$c]}"
        fails=$((fails + 1))
    fi
done
echo
echo "raw runs: $raw   logs: $logs"
if ((STRICT && fails + unknown > 0)); then exit 1; fi
exit 0

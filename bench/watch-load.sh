#!/usr/bin/env bash
# Load benchmark for `rsthound watch` (not a test): examples/synload.rs provokes
# refused connections on loopback inside a network namespace made for the run, as
# fast as it can for DURATION seconds, while `rsthound watch` or `tcpdump -i any`
# captures in that namespace. Reports RSTs provoked (the namespace's OutRsts
# counter), RSTs reported, kernel drops and the tool's CPU time.
# See bench/WATCH-LOAD.md. Run as root.
#
# Environment (all optional):
#   DURATION       seconds of load per run                     (default 10)
#   ROUNDS         runs per tool, tools alternating            (default 1)
#   THREADS        synload --threads (0 = one per CPU)         (default 0)
#   RATE           synload --rate (0 = as fast as possible)    (default 0)
#   PORT           refused destination port                    (default 7211)
#   GEN_MODE       raw | connect (synload --connect)           (default raw)
#   READY_TIMEOUT  seconds to wait for the tool to say it listens (default 5)
#   SETTLE         seconds between "ready" and the load        (default 1)
#   DRAIN          seconds between the end of the load and SIGINT (default 2)
#   TOOLS          which tools, in order (default "rsthound rsthound-nokev tcpdump bpftrace"):
#                  rsthound = watch with kernel events, rsthound-nokev = watch
#                  --no-kernel-events, bpftrace = the one-liner
#                  'tracepoint:tcp:tcp_send_reset { @[comm] = count(); }' 
#   STORM_LIMIT    rsthound --storm-limit (0 = one JSON line per RST) (default: rsthound's)
#   TCPDUMP_NULL   1 = tcpdump writes to /dev/null: its CPU without file
#                  output, but no RST count (reported/missed n/a) (default 0)
#   BASELINE       1 = each round first runs the generator with no capture (default 1)
#   KEEP           1 = keep the work directory (captures, logs) (default 0)
#   STRICT         1 = exit 1 unless every rsthound target holds (default 0)
#   SKIP_BUILD     1 = do not run cargo build                  (default 0)
#   CARGO_TARGET_DIR as for cargo                              (default <repo>/target)
#   RSTHOUND       binary under test  (default $CARGO_TARGET_DIR/release/rsthound)
#   RSTHOUND_BEFORE another rsthound binary (e.g. main's): with it, the tool
#                  "rsthound-before" (kernel events on) can be in TOOLS, to compare
#                  a change within one run
#
# Traffic: only 127.0.0.1 -> 127.0.0.1 inside the namespace this script creates
# (synload itself refuses any address outside 127.0.0.0/8).
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$script_dir/.." && pwd)
cd "$root"

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-1}
THREADS=${THREADS:-0}
RATE=${RATE:-0}
PORT=${PORT:-7211}
GEN_MODE=${GEN_MODE:-raw}
READY_TIMEOUT=${READY_TIMEOUT:-5}
SETTLE=${SETTLE:-1}
DRAIN=${DRAIN:-2}
TOOLS=${TOOLS:-rsthound rsthound-nokev tcpdump bpftrace}
BASELINE=${BASELINE:-1}
TCPDUMP_NULL=${TCPDUMP_NULL:-0}
STORM_LIMIT=${STORM_LIMIT:-}
KEEP=${KEEP:-0}
STRICT=${STRICT:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
target_dir=${CARGO_TARGET_DIR:-$root/target}
case $target_dir in /*) ;; *) target_dir=$root/$target_dir ;; esac
RSTHOUND=${RSTHOUND:-$target_dir/release/rsthound}
RSTHOUND_BEFORE=${RSTHOUND_BEFORE:-}
SYNLOAD=$target_dir/release/examples/synload
TIME=/usr/bin/time
# rsthound's own --duration is only a safety net: the script stops it with SIGINT.
WATCH_DURATION=$((DURATION + READY_TIMEOUT + SETTLE + DRAIN + 3))

say() { printf '%s\n' "$*" >&2; }
die() {
    say "watch-load.sh: $*"
    exit 2
}

[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "DURATION must be a positive integer (got '$DURATION')"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer (got '$ROUNDS')"
[[ $THREADS =~ ^[0-9]+$ ]] || die "THREADS must be a non-negative integer (got '$THREADS')"
[[ $RATE =~ ^[0-9]+$ ]] || die "RATE must be a non-negative integer (got '$RATE')"
if ! [[ $PORT =~ ^[0-9]+$ ]] || ((PORT < 1 || PORT > 65535)); then die "PORT must be 1..65535 (got '$PORT')"; fi
[[ $READY_TIMEOUT =~ ^[0-9]+$ ]] || die "READY_TIMEOUT must be a whole number of seconds"
[[ $GEN_MODE == raw || $GEN_MODE == connect ]] || die "GEN_MODE must be raw or connect"
((EUID == 0)) || die "run as root (network namespaces, raw sockets, packet capture)"
[[ -x $TIME ]] || die "$TIME not found: install GNU time (Debian package 'time')"
command -v ip >/dev/null || die "ip (iproute2) not found"
[[ -n ${EPOCHREALTIME:-} ]] || die "bash >= 5 is needed (EPOCHREALTIME)"

# ---------------------------------------------------------------- build
if [[ $SKIP_BUILD != 1 ]]; then
    say "== building (cargo build --release --bins --examples)"
    cargo build --release --bins --examples >&2
fi
[[ -x $SYNLOAD ]] || die "synload was not built ($SYNLOAD)"

# ---------------------------------------------------------------- tools
have_rsthound=0 have_tcpdump=0 have_bpftrace=0
for t in $TOOLS; do
    case $t in
    rsthound-before)
        [[ -x $RSTHOUND_BEFORE ]] || die "TOOLS has rsthound-before: set RSTHOUND_BEFORE to an rsthound binary"
        ;;
    rsthound | rsthound-nokev)
        if [[ ! -x $RSTHOUND ]]; then
            say "SKIP rsthound: $RSTHOUND does not exist"
        elif ! "$RSTHOUND" watch --help >/dev/null 2>&1; then
            say "SKIP rsthound: '$RSTHOUND watch --help' fails: this binary has no 'watch' subcommand yet"
        else
            have_rsthound=1
        fi
        ;;
    tcpdump)
        if command -v tcpdump >/dev/null 2>&1; then
            have_tcpdump=1
        else
            say "SKIP tcpdump: not installed (Debian: apt-get install tcpdump)"
        fi
        ;;
    bpftrace)
        if command -v bpftrace >/dev/null 2>&1; then
            have_bpftrace=1
        else
            say "SKIP bpftrace: not installed (Debian: apt-get install bpftrace)"
        fi
        ;;
    *) die "unknown tool '$t' in TOOLS" ;;
    esac
done
tools=()
for t in $TOOLS; do
    if [[ $t == rsthound-before ]]; then tools+=("$t"); fi
    if [[ $t == rsthound || $t == rsthound-nokev ]] && ((have_rsthound)); then tools+=("$t"); fi
    if [[ $t == tcpdump ]] && ((have_tcpdump)); then tools+=(tcpdump); fi
    if [[ $t == bpftrace ]] && ((have_bpftrace)); then tools+=(bpftrace); fi
done
((${#tools[@]} > 0)) || die "no tool to run"

# ---------------------------------------------------------------- namespace
NS=rsthound-load-$$
work=$(mktemp -d "${TMPDIR:-/tmp}/watch-load.XXXXXX")
tool_pid='' gen_pid=''

# children PID: the direct children of PID (from /proc)
children() {
    cat "/proc/$1/task/$1/children" 2>/dev/null || true
}

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    local rc=$?
    # only processes this script started, by pid
    if [[ -n $gen_pid ]] && kill -0 "$gen_pid" 2>/dev/null; then kill "$gen_pid" 2>/dev/null || true; fi
    if [[ -n $tool_pid ]] && kill -0 "$tool_pid" 2>/dev/null; then
        local c
        for c in $(children "$tool_pid"); do kill -INT "$c" 2>/dev/null || true; done
        sleep 0.5
        kill "$tool_pid" 2>/dev/null || true
    fi
    wait 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
    if [[ $KEEP == 1 ]]; then
        say "work directory kept: $work"
    else
        rm -rf "$work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "== namespace $NS"
ip netns add "$NS"
ip -n "$NS" link set lo up

# tcp_counter NAME: the namespace's Tcp: NAME from /proc/net/snmp
tcp_counter() {
    ip netns exec "$NS" cat /proc/net/snmp |
        awk -v name="$1" '$1 == "Tcp:" {
            if (!col) { for (i = 2; i <= NF; i++) if ($i == name) col = i; if (!col) exit 1 }
            else { print $col; exit }
        }'
}
tcp_counter OutRsts >/dev/null || die "cannot read Tcp: OutRsts in $NS"

# ---------------------------------------------------------------- one run
# Without job control bash starts background commands with SIGINT ignored, and a
# tool that does not install its own handler would then never stop; env(1) puts
# the default action back (it execs, so the tool stays the child of time).
default_int=()
if env --default-signal=INT true 2>/dev/null; then
    default_int=(env "--default-signal=INT,QUIT")
else
    say "note: env --default-signal unsupported (coreutils < 8.31): tools start with SIGINT ignored"
fi

# Results of the last run_one, as globals.
kernel_lines=()
sum_k_lost=0 sum_k_attr=0
r_provoked='' r_gen_s='' r_reported='' r_drops='' r_cpu='' gen_threads=$THREADS

# wait_ready LOG PATTERN: until LOG has a line matching PATTERN (ERE, case-insensitive)
# or READY_TIMEOUT seconds pass; fails if the tool died meanwhile.
wait_ready() {
    local log=$1 pat=$2 t0=$EPOCHREALTIME
    while :; do
        if grep -qiE "$pat" "$log" 2>/dev/null; then return 0; fi
        kill -0 "$tool_pid" 2>/dev/null || return 1
        if awk -v a="$t0" -v b="$EPOCHREALTIME" -v m="$READY_TIMEOUT" 'BEGIN { exit !(b - a >= m) }'; then
            say "   (no readiness line matching /$pat/ after ${READY_TIMEOUT}s; going on)"
            return 0
        fi
        sleep 0.1
    done
}

# the number next to "kernel drops" on the last line of FILE that mentions them, or
# empty. Accepts "kernel drops: N", "kernel drops N", "kernel_drops=N", "N kernel
# drops" (case-insensitive); tight forms first, then up to 40 other characters.
parse_kernel_drops() {
    local line n kd='kernel[ _-]?drops'
    line=$(grep -iE "$kd" "$1" | tail -n 1) || true
    [[ -n $line ]] || return 0
    line=" $line "
    n=$(sed -nE "s/.*${kd}[ :=]*([0-9]+).*/\1/Ip" <<<"$line")
    [[ -n $n ]] || n=$(sed -nE "s/.*[^0-9]([0-9]+)[ ]*$kd.*/\1/Ip" <<<"$line")
    [[ -n $n ]] || n=$(sed -nE "s/.*${kd}[^0-9]{0,40}([0-9]+).*/\1/Ip" <<<"$line")
    printf '%s' "$n"
}

run_one() {
    local tool=$1 run=$2
    local dir=$work/$run-$tool
    mkdir -p "$dir"
    local out=$dir/stdout err=$dir/stderr cpu=$dir/cpu pcap=$dir/capture.pcap
    if [[ $TCPDUMP_NULL == 1 ]]; then pcap=/dev/null; fi
    local before after ready_pat ready_log=$err

    before=$(tcp_counter OutRsts)
    case $tool in
    none) ;; # the generator alone
    rsthound | rsthound-nokev | rsthound-before)
        # rsthound enters the namespace itself (--netns).
        local nokev=() bin=$RSTHOUND
        if [[ $tool == rsthound-nokev ]]; then nokev=(--no-kernel-events); fi
        if [[ $tool == rsthound-before ]]; then bin=$RSTHOUND_BEFORE; fi
        "$TIME" -f '%U %S' -o "$cpu" "${default_int[@]}" \
            "$bin" watch --netns "$NS" --json --duration "$WATCH_DURATION" "${nokev[@]}" \
            ${STORM_LIMIT:+--storm-limit "$STORM_LIMIT"} >"$out" 2>"$err" &
        ready_pat='listening|watching|capturing|ready'
        ;;
    bpftrace)
        # Tracepoints are global: it counts every RST the host's stacks send (only the load
        # sends any during the run, in practice). Its map is printed at SIGINT.
        "$TIME" -f '%U %S' -o "$cpu" "${default_int[@]}" \
            bpftrace -e 'tracepoint:tcp:tcp_send_reset { @[comm] = count(); }' >"$out" 2>"$err" &
        ready_pat='attaching'
        ready_log=$out # bpftrace says "Attaching 1 probe..." on stdout
        ;;
    tcpdump)
        "$TIME" -f '%U %S' -o "$cpu" "${default_int[@]}" \
            ip netns exec "$NS" tcpdump -i any -nn -w "$pcap" \
            'tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) != 0' \
            >"$out" 2>"$err" &
        ready_pat='listening on'
        ;;
    esac
    if [[ $tool != none ]]; then
        tool_pid=$!
        if ! wait_ready "$ready_log" "$ready_pat"; then
            tool_pid=''
            say "   $tool exited before it was ready; its stderr:"
            sed 's/^/     /' "$err" >&2
            return 1
        fi
        sleep "$SETTLE"
    fi

    local gen_args=(--port "$PORT" --duration "$DURATION" --threads "$THREADS" --rate "$RATE")
    if [[ $GEN_MODE == connect ]]; then gen_args+=(--connect); fi
    say "   load: synload ${gen_args[*]}"
    ip netns exec "$NS" "$SYNLOAD" "${gen_args[@]}" >"$dir/synload.out" 2>"$dir/synload.err" &
    gen_pid=$!
    local gen_rc=0
    wait "$gen_pid" || gen_rc=$?
    gen_pid=''
    if ((gen_rc != 0)); then
        say "   synload failed (exit $gen_rc):"
        sed 's/^/     /' "$dir/synload.err" >&2
        return 1
    fi
    say "   $(cat "$dir/synload.out")"
    r_gen_s=$(sed -nE 's/.* seconds=([0-9.]+).*/\1/p' "$dir/synload.out")
    gen_threads=$(sed -nE 's/.* threads=([0-9]+).*/\1/p' "$dir/synload.out")
    if [[ $tool == none ]]; then
        r_provoked=$(($(tcp_counter OutRsts) - before))
        r_reported=- r_drops=- r_cpu=-
        return 0
    fi

    if ! kill -0 "$tool_pid" 2>/dev/null; then
        say "   WARNING: $tool exited before the load ended; its figures are incomplete"
    fi
    sleep "$DRAIN"
    # SIGINT to the tool itself (the child of /usr/bin/time, which ignores SIGINT)
    local c
    for c in $(children "$tool_pid"); do kill -INT "$c" 2>/dev/null || true; done
    local tool_rc=0
    wait "$tool_pid" || tool_rc=$?
    tool_pid=''
    ((tool_rc == 0)) || say "   note: $tool exited with status $tool_rc"
    after=$(tcp_counter OutRsts)
    r_provoked=$((after - before))

    read -r u s <"$cpu" || die "no CPU time from $TIME for $tool (see $cpu)"
    r_cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')

    case $tool in
    rsthound | rsthound-nokev | rsthound-before)
        # One "rst" line per RST shown, plus the exact counts of storm mode's "rst_storm" lines.
        r_reported=$(awk '/"type":"rst"[,}]/ { n++ }
            /"type":"rst_storm"/ && match($0, /"count":[0-9]+/) { n += substr($0, RSTART + 8, RLENGTH - 8) }
            END { print n + 0 }' "$out")
        r_drops=$(parse_kernel_drops "$err")
        # The kernel view: records lost, and refused attempts tied to their connect() caller.
        read -r k_lost k_attr < <(python3 -c '
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if "\"type\":\"summary\"" in l]
k = s[-1].get("kernel") if s else None
if not k:
    print("off off")
else:
    print(k["lost_records"], sum(f["count"] for f in k["failed_connects"]))
' "$out" 2>/dev/null || echo "n/a n/a")
        if [[ $tool == rsthound-before ]]; then
            say "   rsthound-before kernel events: lost records ${k_lost:-n/a}, attempts attributed ${k_attr:-n/a} of $r_provoked"
            kernel_lines+=("$run (before)	lost records ${k_lost:-n/a}, attempts attributed ${k_attr:-n/a} of $r_provoked")
        fi
        if [[ $tool == rsthound ]]; then
            say "   rsthound kernel events: lost records ${k_lost:-n/a}, refused attempts attributed to a process ${k_attr:-n/a} of $r_provoked"
            kernel_lines+=("$run	lost records ${k_lost:-n/a}, attempts attributed ${k_attr:-n/a} of $r_provoked")
            if [[ $k_lost =~ ^[0-9]+$ && $sum_k_lost =~ ^[0-9]+$ ]]; then sum_k_lost=$((sum_k_lost + k_lost)); else sum_k_lost=n/a; fi
            if [[ $k_attr =~ ^[0-9]+$ && $sum_k_attr =~ ^[0-9]+$ ]]; then sum_k_attr=$((sum_k_attr + k_attr)); else sum_k_attr=n/a; fi
        fi
        # Every RST here refuses an attempt: a "stray" verdict is a refusal the tracker missed.
        # Counted from the summary's verdict totals, which include the RSTs that storm mode
        # folded into "rst_storm" lines (a grep of the "rst" lines would miss those).
        r_stray=$(python3 -c '
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if "\"type\":\"summary\"" in l]
t = s[-1]["findings"].get("totals", {}) if s else {}
print(t.get("rsts_by_verdict", {}).get("stray", 0) if s else "n/a")
' "$out" 2>/dev/null || echo n/a)
        say "   rsthound: stray verdicts among the refused attempts: $r_stray"
        ;;
    tcpdump)
        if [[ $TCPDUMP_NULL == 1 ]]; then
            r_reported=n/a
        else
            r_reported=$(tcpdump -nn -r "$pcap" 'tcp[tcpflags] & tcp-rst != 0' 2>/dev/null | wc -l)
        fi
        r_drops=$(sed -nE 's/^([0-9]+) packets? dropped by kernel.*/\1/p' "$err" | tail -n 1)
        if [[ $pcap != /dev/null ]]; then rm -f "$pcap"; fi # can be hundreds of MB
        ;;
    bpftrace)
        # @[synload]: 123 — summed over every command.
        r_reported=$(awk -F': ' '/^@\[/ { n += $2 } END { print n + 0 }' "$out")
        r_drops=n/a
        ;;
    esac
    [[ -n $r_drops ]] || r_drops=n/a
    say "   $tool: provoked=$r_provoked reported=$r_reported kernel_drops=$r_drops cpu=${r_cpu}s"
    say "   $tool stderr (last lines):"
    tail -n 6 "$err" | sed 's/^/     /' >&2
}

# ---------------------------------------------------------------- runs
rows=()
declare -A sum_cpu=() sum_provoked=() sum_missed=() drops_known=() sum_drops=() runs_ok=()
for t in "${tools[@]}"; do
    sum_cpu[$t]=0 sum_provoked[$t]=0 sum_missed[$t]=0 sum_drops[$t]=0 drops_known[$t]=1 runs_ok[$t]=0
done

# run_tool TOOL ROUND: one run, its table row and its totals
run_tool() {
    local t=$1 r=$2 missed rate pct us
    say "== round $r/$ROUNDS: $t (${DURATION}s of load)"
    if ! run_one "$t" "$r"; then
        say "   run failed; skipped in the table"
        return 0
    fi
    rate=$(awk -v n="$r_provoked" -v s="$r_gen_s" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
    if [[ $t == none ]]; then
        rows+=("(no tool)	$r	$r_provoked	$rate	-	-	-	-	-	-")
        return 0
    fi
    if [[ $r_reported =~ ^[0-9]+$ ]]; then
        missed=$((r_provoked - r_reported))
        sum_missed[$t]=$((sum_missed[$t] + (missed < 0 ? -missed : missed)))
    else
        missed=n/a
    fi
    pct=$(awk -v c="$r_cpu" -v s="$r_gen_s" 'BEGIN { printf "%.1f", (s > 0 ? 100 * c / s : 0) }')
    us=$(awk -v c="$r_cpu" -v n="$r_provoked" 'BEGIN { if (n > 0) printf "%.3f", 1e6 * c / n; else print "n/a" }')
    rows+=("$t	$r	$r_provoked	$rate	$r_reported	$missed	$r_drops	$r_cpu	$pct	$us")
    sum_cpu[$t]=$(awk -v a="${sum_cpu[$t]}" -v b="$r_cpu" 'BEGIN { printf "%.2f", a + b }')
    sum_provoked[$t]=$((sum_provoked[$t] + r_provoked))
    if [[ $r_drops =~ ^[0-9]+$ ]]; then
        sum_drops[$t]=$((sum_drops[$t] + r_drops))
    else
        drops_known[$t]=0
    fi
    runs_ok[$t]=$((runs_ok[$t] + 1))
}

nt=${#tools[@]}
for ((r = 1; r <= ROUNDS; r++)); do
    if [[ $BASELINE == 1 ]]; then run_tool none "$r"; fi
    for ((i = 0; i < nt; i++)); do
        # alternate the order from round to round
        run_tool "${tools[$(((i + r - 1) % nt))]}" "$r"
    done
done

# ---------------------------------------------------------------- report
echo
echo "# rsthound watch load benchmark: ${DURATION}s of refused connections on loopback in a fresh namespace"
echo "# generator: synload mode=$GEN_MODE threads=$gen_threads rate=$RATE (0 = flat out); $(nproc) CPUs; load average $(cut -d" " -f1-3 /proc/loadavg)"
echo
fmt='%-15s %5s %12s %10s %12s %9s %8s %8s %7s %9s\n'
# shellcheck disable=SC2059 # the format is ours
printf "$fmt" tool round provoked rate/s reported missed k.drops cpu_s cpu_%core us/rst
for row in "${rows[@]}"; do
    IFS=$'\t' read -r -a f <<<"$row"
    # shellcheck disable=SC2059
    printf "$fmt" "${f[@]}"
done
echo
echo "provoked = the namespace's Tcp OutRsts delta; missed = provoked - reported (negative: extra)"
echo "cpu_%core = tool CPU (user+sys) / load seconds; us/rst = tool CPU / provoked"
echo

per_rst() { # TOOL -> CPU µs per provoked RST over all its runs, or empty
    awk -v c="${sum_cpu[$1]}" -v n="${sum_provoked[$1]}" 'BEGIN { if (n > 0) printf "%.4f", 1e6 * c / n }'
}

fails=0
verdict() { # NAME OK(1/0/-) DETAIL
    local v
    case $2 in 1) v=PASS ;; 0) v=FAIL fails=$((fails + 1)) ;; *) v='N/A ' fails=$((fails + 1)) ;; esac
    printf '%s  %-34s %s\n' "$v" "$1" "$3"
}

ran() { [[ " ${tools[*]} " == *" $1 "* ]] && ((${runs_ok[$1]:-0} > 0)); }

if ran tcpdump; then
    d=${sum_drops[tcpdump]}
    ((drops_known[tcpdump])) || d="$d (some runs n/a)"
    m=${sum_missed[tcpdump]}
    if [[ $TCPDUMP_NULL == 1 ]]; then m='n/a (TCPDUMP_NULL=1)'; fi
    echo "tcpdump (reference): kernel drops $d, |missed| $m, $(per_rst tcpdump) us CPU per RST"
fi

# CPU per refused attempt of every tool, and its ratio to tcpdump's in this same run.
echo "CPU per refused attempt, all rounds (ratio to tcpdump -i any in this run):"
ref=''
if ran tcpdump; then ref=$(per_rst tcpdump); fi
for t in "${tools[@]}"; do
    ran "$t" || continue
    a=$(per_rst "$t")
    ratio=n/a
    if [[ -n $ref ]]; then
        ratio=$(awk -v a="$a" -v b="$ref" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "inf" }')
    fi
    case $t in
    rsthound) what='rsthound watch, kernel events on' ;;
    rsthound-nokev) what='rsthound watch --no-kernel-events' ;;
    rsthound-before) what="rsthound watch, kernel events on: $RSTHOUND_BEFORE" ;;
    tcpdump) what='tcpdump -i any (file of SYN/FIN/RST)' ;;
    bpftrace) what='bpftrace tcp_send_reset @[comm]=count() (user space only: its BPF runs in the load)' ;;
    *) what=$t ;;
    esac
    printf '  %-16s %9s us  %8s   %s\n' "$t" "$a" "$ratio" "$what"
done
echo

for l in "${kernel_lines[@]}"; do echo "rsthound kernel view, round $l"; done
echo "targets (rsthound watch, kernel events on):"
if ran rsthound; then
    if ((drops_known[rsthound])); then
        verdict "zero kernel (packet) drops" "$(((sum_drops[rsthound] == 0) ? 1 : 0))" "total ${sum_drops[rsthound]}"
    else
        verdict "zero kernel (packet) drops" - "not reported on stderr ('kernel drops N' line missing)"
    fi
    verdict "zero misses" "$(((sum_missed[rsthound] == 0) ? 1 : 0))" "total |provoked - reported| ${sum_missed[rsthound]}"
    if [[ $sum_k_lost =~ ^[0-9]+$ ]]; then
        verdict "zero lost kernel records" "$(((sum_k_lost == 0) ? 1 : 0))" "total $sum_k_lost"
    else
        verdict "zero lost kernel records" - "kernel events were off or not reported"
    fi
    if [[ $sum_k_attr =~ ^[0-9]+$ ]]; then
        verdict "every refused attempt attributed" "$(((sum_k_attr == sum_provoked[rsthound]) ? 1 : 0))" "$sum_k_attr of ${sum_provoked[rsthound]}"
    else
        verdict "every refused attempt attributed" - "kernel events were off or not reported"
    fi
    a=$(per_rst rsthound)
    if [[ -n $a && -n $ref ]]; then
        ratio=$(awk -v a="$a" -v b="$ref" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }')
        ok=$(awk -v r="$ratio" 'BEGIN { print (r != "inf" && r + 0 <= 2) ? 1 : 0 }')
        verdict "CPU per attempt <= 2x tcpdump" "$ok" "${ratio}x (rsthound $a us, tcpdump $ref us per RST)"
    else
        verdict "CPU per attempt <= 2x tcpdump" - "needs a successful rsthound and tcpdump run"
    fi
else
    echo "N/A   rsthound watch was not run (see SKIP above): no target can be checked"
    fails=$((fails + 1))
fi

if [[ $STRICT == 1 ]] && ((fails > 0)); then exit 1; fi
exit 0

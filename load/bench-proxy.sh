#!/usr/bin/env bash
# bench-proxy.sh — Tollgate's proxy against nginx on the same core, in one run.
#
#   (a) upstream   nginx answering `return 200` directly        (core 1)
#   (b) nginx      nginx as a keep-alive reverse proxy to (a)     (core 0)
#   (c) tollgate   one service and route, no plugins, GOMAXPROCS=1 (core 0);
#                  request_log off, as nginx's access_log is off
#   (d) tollgate   (c) plus key-auth, rate-limiting (local policy, limit far
#                  above the load) and correlation-id            (core 0)
#
# wrk and the fixed-rate generator run on core 1. For each row it prints
# requests/s and p99 latency from wrk (keep-alive, closed loop), and the CPU
# time the measured server process spent per request (utime+stime from
# /proc/PID/stat, master and worker for nginx). Then, at half of (c)'s
# requests/s, load/cmd/fixedrate measures p50/p99 open loop and the p99
# that (b), (c) and (d) add to (a), and, with cyclictest (rt-tests), how
# late idle core 0 wakes up: the floor of any p99 a proxy adds. Next to every run it prints the CPU that
# processes outside the benchmark used meanwhile ("other %"): numbers taken
# while something else was busy are not worth keeping.
#
# A virtual machine's speed drifts from one minute to the next, so every
# process is started once and the rows are measured in turn, BENCH_ROUNDS
# times: a, b, c, d, a, b, c, d, ... Each figure printed is the median of
# its rounds, and each ratio the median of the ratios within a round.
#
# Run it with `make bench-proxy` (which builds bin/tollgate first). Needs
# wrk, nginx, taskset, curl and go, and at least 2 CPU cores. Settings:
#   BENCH_ROUNDS=3        times each row is measured, in turn with the others
#   BENCH_DURATION=10     seconds per wrk run
#   BENCH_WARMUP=2        seconds of wrk warm-up before a row's first run
#   BENCH_HALF_DURATION=10 seconds per fixed-rate run
#   BENCH_CONNECTIONS=50  keep-alive connections (wrk -c, fixedrate -connections)
#   BENCH_PORT_BASE=18000 ports used: base (tollgate proxy), +1 (admin),
#                         +100 (status), +80 (upstream), +81 (nginx proxy)
#   BENCH_ROWS=abcd       rows to measure; "ab" measures nginx alone
#   BENCH_HALF_RATE=      req/s of the open-loop runs instead of half of (c)'s
#   BENCH_STRICT=1        exit with status 3 when a target is missed
#   BENCH_REQUEST_LOG=off on: (c) and (d) also load every request's record into
#                         standalone's embedded analytics store, in-process
#   TOLLGATE_BIN=bin/tollgate
# Everything listens on 127.0.0.1 only; every process it starts is stopped
# and its temporary directory removed on exit.
set -euo pipefail

cd "$(dirname "$0")/.."

ROUNDS=${BENCH_ROUNDS:-3}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
HALF_DURATION=${BENCH_HALF_DURATION:-10}
CONNS=${BENCH_CONNECTIONS:-50}
BASE=${BENCH_PORT_BASE:-18000}
ROWS=${BENCH_ROWS:-abcd}
STRICT=${BENCH_STRICT:-0}
HALF_RATE_SET=${BENCH_HALF_RATE:-}
TOLLGATE_BIN=${TOLLGATE_BIN:-bin/tollgate}
REQUEST_LOG=${BENCH_REQUEST_LOG:-off}

PORT_TG=$BASE
PORT_ADMIN=$((BASE + 1))
PORT_STATUS=$((BASE + 100))
PORT_UP=$((BASE + 80))
PORT_NGX=$((BASE + 81))
APIKEY=benchkey

die() {
	echo "bench-proxy: FAIL: $*" >&2
	exit 1
}
note() { echo "bench-proxy: $*" >&2; }
has_row() { [[ $ROWS == *"$1"* ]]; }

# ---------------------------------------------------------------- checks

need() {
	command -v "$1" >/dev/null 2>&1 || die "$1 not found; install it with: $2"
}
need wrk "apt-get install -y wrk"
need nginx "apt-get install -y nginx-light"
need taskset "apt-get install -y util-linux"
need curl "apt-get install -y curl"
need go "https://go.dev/dl/ (the version in go.mod)"
need awk "apt-get install -y gawk"
[[ $DURATION =~ ^[0-9]+$ && $WARMUP =~ ^[0-9]+$ && $HALF_DURATION =~ ^[0-9]+$ && $CONNS =~ ^[0-9]+$ && $BASE =~ ^[0-9]+$ ]] ||
	die "BENCH_DURATION, BENCH_WARMUP, BENCH_HALF_DURATION, BENCH_CONNECTIONS and BENCH_PORT_BASE must be whole numbers"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS=$ROUNDS: want a whole number of rounds, at least 1"
[[ -z $HALF_RATE_SET || $HALF_RATE_SET =~ ^[1-9][0-9]*$ ]] || die "BENCH_HALF_RATE=$HALF_RATE_SET: want a whole number of requests per second"
[[ $ROWS =~ ^[abcd]+$ ]] && has_row a || die "BENCH_ROWS=$ROWS: want letters from abcd, including a (the baseline)"
[[ $REQUEST_LOG == on || $REQUEST_LOG == off ]] || die "BENCH_REQUEST_LOG=$REQUEST_LOG: want on or off"

if ! taskset -c 0,1 true 2>/dev/null; then
	die "needs CPU cores 0 and 1 (the proxy on core 0, the load and the upstream on core 1); this machine has $(nproc) usable"
fi
if has_row c || has_row d; then
	[[ -x $TOLLGATE_BIN ]] ||
		die "$TOLLGATE_BIN not found or not executable: build it with 'make build' (make bench-proxy does), or set TOLLGATE_BIN, or BENCH_ROWS=ab to measure nginx alone"
fi

for port in "$PORT_TG" "$PORT_ADMIN" "$PORT_STATUS" "$PORT_UP" "$PORT_NGX"; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		die "127.0.0.1:$port is already in use; stop what listens there or set BENCH_PORT_BASE"
	fi
done

CLK_TCK=$(getconf CLK_TCK)

# ---------------------------------------------------------------- cleanup

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-proxy.XXXXXX")
PIDS=()
CHILD= # the foreground measurement running now, if any
# alive PID: the process is a child of this script and has not exited. The
# parent check keeps a recycled PID from being mistaken for one of ours.
alive() {
	local stat
	stat=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	set -- $stat
	[[ $1 != Z && $2 == "$$" ]]
}
cleanup() {
	local pid
	[[ -n $CHILD ]] && PIDS+=("$CHILD")
	for pid in "${PIDS[@]}"; do
		if alive "$pid"; then
			kill -TERM "$pid" 2>/dev/null || true
		fi
	done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 50); do
			alive "$pid" || break
			sleep 0.1
		done
		if alive "$pid"; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- helpers

# run_child OUT CMD...: runs CMD with its output in OUT and returns its
# status. It runs in the background so that a signal reaches the traps at
# once and the cleanup stops it.
run_child() {
	local out=$1 rc=0
	shift
	"$@" >"$out" 2>&1 &
	CHILD=$!
	wait "$CHILD" || rc=$?
	CHILD=
	return "$rc"
}

# cpu_ticks PID... prints the summed utime+stime of the processes, in clock
# ticks. Fields 14 and 15 of /proc/PID/stat (proc(5)); the command name in
# field 2 may hold spaces, so fields are counted after its closing ")".
cpu_ticks() {
	local pid total=0 rest
	for pid in "$@"; do
		rest=$(sed 's/.*) //' "/proc/$pid/stat") || die "process $pid is gone"
		total=$((total + $(awk '{print $12 + $13}' <<<"$rest")))
	done
	echo "$total"
}

# machine_ticks prints the CPU ticks spent on all cores by anyone: the
# user, nice, system and steal columns of /proc/stat's cpu line (proc(5)).
# Softirq is left out: loopback traffic is processed there, on behalf of
# the processes being measured, and is not charged to them.
machine_ticks() {
	awk '/^cpu / {print $2 + $3 + $4 + $9; exit}' /proc/stat
}

# core1_ticks prints the busy ticks of core 1, where the load generator
# and the upstream run: every column of its /proc/stat line but idle and
# iowait. A core 1 near 100 % busy means the load side, not the proxy, set
# the numbers.
core1_ticks() {
	awk '/^cpu1 / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat
}

# own_ticks VAR sets VAR to the CPU ticks of this script and of its
# children that have exited (wrk, fixedrate, curl), from the times builtin.
# It must run in this shell, not in a $(...) subshell, whose times would be
# its own.
own_ticks() {
	times >"$WORK/times"
	printf -v "$1" '%s' "$(awk -v hz="$CLK_TCK" '
		function sec(x, p) { split(x, p, "m"); sub(/s$/, "", p[2]); return p[1] * 60 + p[2] }
		{ t += sec($1) + sec($2) }
		END { printf "%d", t * hz }' "$WORK/times")"
}

# foreign_begin and foreign_end PCT_VAR SECONDS measure the CPU that
# processes other than ours used meanwhile, in percent of one core: a
# benchmark sharing its cores with a compiler measures the compiler.
foreign_begin() {
	F_MACHINE=$(machine_ticks)
	F_CORE1=$(core1_ticks)
	own_ticks F_OWN
	# shellcheck disable=SC2086
	F_SERVERS=$(cpu_ticks $SERVER_PIDS)
}
foreign_end() {
	local machine own servers core1
	machine=$(machine_ticks)
	core1=$(core1_ticks)
	F_CORE1_PCT=$(awk -v t=$((core1 - F_CORE1)) -v hz="$CLK_TCK" -v d="$2" 'BEGIN {printf "%.0f", 100 * t / hz / d}')
	own_ticks own
	# shellcheck disable=SC2086
	servers=$(cpu_ticks $SERVER_PIDS)
	printf -v "$1" '%s' "$(awk -v t=$(((machine - F_MACHINE) - (own - F_OWN) - (servers - F_SERVERS))) -v hz="$CLK_TCK" -v d="$2" \
		'BEGIN {t = t < 0 ? 0 : t; printf "%.0f", 100 * t / hz / d}')"
}

# nginx_pids MASTER prints the master's PID and its workers'.
nginx_pids() {
	echo "$1" $(pgrep -P "$1" || true)
}

# http_code URL [curl args...] prints the status of one GET.
http_code() {
	local url=$1
	shift
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" "$url" || true
}

# expect_200 URL [curl args...] checks one request before a run: a
# benchmark of error responses measures nothing.
expect_200() {
	local code
	code=$(http_code "$@")
	[[ $code == 200 ]] || die "GET $1 answered $code before the run, want 200"
}

# wait_code URL WANT SECONDS [curl args...] polls until the URL answers WANT.
wait_code() {
	local url=$1 want=$2 secs=$3 code=
	shift 3
	for _ in $(seq $((secs * 10))); do
		code=$(http_code "$url" "$@")
		[[ $code == "$want" ]] && return 0
		sleep 0.1
	done
	die "GET $url answered ${code:-nothing} for ${secs}s, want $want"
}

# to_ms VALUE converts wrk's "812.00us", "1.23ms" or "1.02s" to ms.
to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
		else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
		else { exit 1 }
	}'
}

# start_nginx NAME CORE CONF_BODY starts nginx pinned to CORE with the
# given http{} body and sets NGINX_PID.
start_nginx() {
	local name=$1 core=$2 body=$3 temps=
	local dir="$WORK/$name"
	mkdir -p "$dir"
	# Temp paths default to /var/lib/nginx; point every compiled-in one
	# here so that nginx runs without root and without that directory.
	local mod
	for mod in client_body proxy fastcgi uwsgi scgi; do
		if [[ $mod == client_body ]] || ! nginx -V 2>&1 | grep -q -- "--without-http_${mod}_module"; then
			temps+="    ${mod}_temp_path $dir/${mod}_temp;"$'\n'
		fi
	done
	cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process on;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    default_type text/plain;
$temps
    # keepalive_requests defaults to 1000: clients would reconnect every
    # 1000 requests, a cost none of the other rows pay.
    keepalive_requests 1000000;
    keepalive_timeout 120s;
$body
}
EOF
	nginx -t -q -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" 2>"$dir/test.log" ||
		die "nginx config for $name rejected: $(cat "$dir/test.log" "$dir/error.log" 2>/dev/null)"
	taskset -c "$core" nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" >"$dir/stdout.log" 2>&1 &
	NGINX_PID=$!
	PIDS+=("$NGINX_PID")
}

# Results of each run, keyed "ROW ROUND": W_ for the wrk runs, H_ for the
# open-loop ones; then their medians, keyed by row letter.
declare -A W_RPS W_P99 W_CPU W_UTIL W_OTHER W_CORE1 H_P50 H_P99 H_LAG H_OTHER H_CORE1
declare -A RPS P99 CPU_US UTIL OTHER CORE1 HALF_P50 HALF_P99 HALF_OTHER HALF_CORE1 LAG_P99 URL HDR PROCS LABEL
WARNINGS=()
LABEL[a]="(a) upstream nginx, direct"
LABEL[b]="(b) nginx reverse proxy"
LABEL[c]="(c) tollgate, no plugins"
LABEL[d]="(d) tollgate, key-auth+rate-limiting+correlation-id"

# run_wrk ROW ROUND: the measured wrk run against URL[ROW] with the CPU time
# of PROCS[ROW] read before and after, after a warm-up in the first round.
# The figures go to the per-row arrays and, keyed "ROW ROUND", to the
# per-round ones.
run_wrk() {
	local row=$1 round=$2 out="$WORK/wrk-$1-$2.txt" hdr=() before after requests non2xx errs
	if [[ -n ${HDR[$row]:-} ]]; then
		hdr=(-H "${HDR[$row]}")
	fi
	expect_200 "${URL[$row]}" "${hdr[@]}"
	if ((round == 1 && WARMUP > 0)); then
		note "${LABEL[$row]}: wrk ${WARMUP}s warm-up"
		run_child "$WORK/warmup-$row.txt" timeout $((WARMUP + 10)) taskset -c 1 wrk -t1 -c"$CONNS" -d"${WARMUP}s" "${hdr[@]}" "${URL[$row]}" ||
			die "${LABEL[$row]}: wrk warm-up failed: $(cat "$WORK/warmup-$row.txt")"
	fi
	expect_200 "${URL[$row]}" "${hdr[@]}"
	# shellcheck disable=SC2086
	before=$(cpu_ticks ${PROCS[$row]})
	foreign_begin
	run_child "$out" timeout $((DURATION + 15)) taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "${hdr[@]}" "${URL[$row]}" ||
		die "${LABEL[$row]}: wrk failed: $(cat "$out")"
	# shellcheck disable=SC2086
	after=$(cpu_ticks ${PROCS[$row]})
	foreign_end "W_OTHER[$row $round]" "$DURATION"
	W_CORE1[$row $round]=$F_CORE1_PCT

	non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
	[[ -z $non2xx ]] || die "${LABEL[$row]}: wrk counted $non2xx non-2xx/3xx responses; a benchmark of errors is worthless:"$'\n'"$(cat "$out")"
	errs=$(sed -n 's/^ *\(Socket errors:.*\)/\1/p' "$out")
	[[ -z $errs ]] || die "${LABEL[$row]}: wrk reported $errs:"$'\n'"$(cat "$out")"
	requests=$(awk '/requests in/ {print $1; exit}' "$out")
	W_RPS[$row $round]=$(awk '/^Requests\/sec:/ {print $2}' "$out")
	W_P99[$row $round]=$(to_ms "$(awk '$1 == "99%" {print $2; exit}' "$out")") || die "${LABEL[$row]}: no p99 in wrk output: $(cat "$out")"
	[[ -n $requests && $requests -gt 0 && -n ${W_RPS[$row $round]} ]] || die "${LABEL[$row]}: cannot read wrk output: $(cat "$out")"
	W_CPU[$row $round]=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v n="$requests" 'BEGIN {printf "%.2f", t * 1e6 / hz / n}')
	W_UTIL[$row $round]=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v d="$DURATION" 'BEGIN {printf "%.0f", 100 * t / hz / d}')
	note "${LABEL[$row]}: round $round: ${W_RPS[$row $round]} req/s, ${W_CPU[$row $round]} µs CPU per request"
	# A proxy that was not busy was not the bottleneck: the load side was.
	if [[ $row != a ]] && ((W_UTIL[$row $round] < 85)); then
		WARNINGS+=("${LABEL[$row]} used only ${W_UTIL[$row $round]}% of its core in round $round: core 1 (wrk and the upstream) or other processes limited that run")
	fi
	if ((W_OTHER[$row $round] > 10)); then
		WARNINGS+=("other processes used ${W_OTHER[$row $round]}% of a core during the wrk run of ${LABEL[$row]} in round $round")
	fi
}

# run_half ROW ROUND RATE: the fixed-rate generator against URL[ROW].
run_half() {
	local row=$1 round=$2 rate=$3 out="$WORK/half-$1-$2.txt" hdr=() curl_hdr=()
	if [[ -n ${HDR[$row]:-} ]]; then
		hdr=(-header "${HDR[$row]}")
		curl_hdr=(-H "${HDR[$row]}")
	fi
	expect_200 "${URL[$row]}" "${curl_hdr[@]}"
	note "${LABEL[$row]}: round $round: fixed rate ${rate}/s for ${HALF_DURATION}s"
	foreign_begin
	run_child "$out" timeout $((HALF_DURATION + 20)) taskset -c 1 "$FIXEDRATE" -url "${URL[$row]}" -rate "$rate" \
		-duration "${HALF_DURATION}s" -connections "$CONNS" -timeout 2s "${hdr[@]}" ||
		die "${LABEL[$row]}: fixed-rate run failed:"$'\n'"$(cat "$out")"
	foreign_end "H_OTHER[$row $round]" "$HALF_DURATION"
	H_CORE1[$row $round]=$F_CORE1_PCT
	H_P50[$row $round]=$(sed -n 's/^latency_ms .*p50=\([0-9.]*\).*/\1/p' "$out")
	H_P99[$row $round]=$(sed -n 's/^latency_ms .*p99=\([0-9.]*\).*/\1/p' "$out")
	[[ -n ${H_P50[$row $round]} && -n ${H_P99[$row $round]} ]] || die "${LABEL[$row]}: cannot read fixedrate output: $(cat "$out")"
	# Keep the generator's own delay in view: it is part of every row.
	H_LAG[$row $round]=$(sed -n 's/^schedule_lag_ms .*p99=\([0-9.]*\).*/\1/p' "$out")
	if ((H_CORE1[$row $round] >= 90)); then
		WARNINGS+=("core 1 was ${H_CORE1[$row $round]}% busy during the open-loop run of ${LABEL[$row]} in round $round: the generator and the upstream, not the proxy, set its latency")
	fi
	if ((H_OTHER[$row $round] > 10)); then
		WARNINGS+=("other processes used ${H_OTHER[$row $round]}% of a core during the open-loop run of ${LABEL[$row]} in round $round")
	fi
}

# median prints the median of its arguments (the mean of the middle two
# when there is an even number).
median() {
	printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {
		if (NR % 2) printf "%s", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# largest prints the largest of its arguments.
largest() {
	printf '%s\n' "$@" | sort -g | tail -1
}

# over_rounds STAT ARRAY ROW prints STAT (median or largest) of
# ARRAY["ROW r"] over the rounds.
over_rounds() {
	local -n arr=$2
	local r vals=()
	for ((r = 1; r <= ROUNDS; r++)); do
		vals+=("${arr[$3 $r]}")
	done
	"$1" "${vals[@]}"
}

# in_rounds CMD [ARGS...] runs CMD ROW ROUND ARGS... for every round and,
# within a round, every row measured, in turn.
in_rounds() {
	local round row
	for ((round = 1; round <= ROUNDS; round++)); do
		for row in a b c d; do
			if has_row "$row"; then
				"$1" "$row" "$round" "${@:2}"
			fi
		done
	done
}

# summarize DEST=SRC...: DEST[ROW] becomes the median over the rounds of
# SRC["ROW r"] for every row measured; DEST=max:SRC takes the largest.
summarize() {
	local row pair src
	for row in a b c d; do
		has_row "$row" || continue
		for pair in "$@"; do
			local -n dest=${pair%%=*}
			src=${pair#*=}
			if [[ $src == max:* ]]; then
				dest[$row]=$(over_rounds largest "${src#max:}" "$row")
			else
				dest[$row]=$(over_rounds median "$src" "$row")
			fi
			unset -n dest
		done
	done
}

# admin METHOD PATH [curl args...]: one Admin API call that must succeed.
admin() {
	local method=$1 path=$2 code
	shift 2
	code=$(curl -s -o "$WORK/admin.out" -w '%{http_code}' --max-time 5 -X "$method" "$@" "http://127.0.0.1:$PORT_ADMIN$path") || true
	[[ $code == 2?? ]] || die "Admin API $method $path answered ${code:-nothing}: $(cat "$WORK/admin.out" 2>/dev/null)"
}

# ---------------------------------------------------------------- build

note "building load/cmd/fixedrate"
FIXEDRATE="$WORK/fixedrate"
go build -o "$FIXEDRATE" ./load/cmd/fixedrate || die "go build ./load/cmd/fixedrate failed"

load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" 'BEGIN {exit !(l > 0.5)}'; then
	note "warning: load average is $load before the run; other work on the machine makes the numbers noisy"
fi

# ---------------------------------------------------------------- upstream and nginx

start_nginx upstream 1 "    server {
        listen 127.0.0.1:$PORT_UP default_server;
        location / { return 200 'hello from upstream'; }
    }"
UP_PID=$NGINX_PID
URL[a]="http://127.0.0.1:$PORT_UP/"
wait_code "${URL[a]}" 200 10

if has_row b; then
	start_nginx proxy 0 "    upstream bench {
        server 127.0.0.1:$PORT_UP;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$PORT_NGX default_server;
        location / {
            proxy_pass http://bench;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }
    }"
	NGX_PID=$NGINX_PID
	URL[b]="http://127.0.0.1:$PORT_NGX/"
	wait_code "${URL[b]}" 200 10
fi
# Workers exist once nginx answers.
PROCS[a]=$(nginx_pids "$UP_PID")
SERVER_PIDS=${PROCS[a]}
if has_row b; then
	PROCS[b]=$(nginx_pids "$NGX_PID")
	SERVER_PIDS+=" ${PROCS[b]}"
fi

# ---------------------------------------------------------------- tollgate

if has_row c || has_row d; then
	mkdir -p "$WORK/tollgate-data"
	note "starting $TOLLGATE_BIN standalone on core 0 with GOMAXPROCS=1, request_log $REQUEST_LOG"
	TOLLGATE_PROXY_LISTEN="127.0.0.1:$PORT_TG" \
		TOLLGATE_ADMIN_LISTEN="127.0.0.1:$PORT_ADMIN" \
		TOLLGATE_STATUS_LISTEN="127.0.0.1:$PORT_STATUS" \
		TOLLGATE_DATA_DIR="$WORK/tollgate-data" \
		TOLLGATE_LOG_LEVEL=warn \
		TOLLGATE_REQUEST_LOG=$REQUEST_LOG \
		GOMAXPROCS=1 \
		taskset -c 0 "$TOLLGATE_BIN" standalone >"$WORK/tollgate.log" 2>&1 &
	TG_PID=$!
	PIDS+=("$TG_PID")
	ready=
	for _ in $(seq 150); do
		kill -0 "$TG_PID" 2>/dev/null || die "tollgate exited at start:"$'\n'"$(cat "$WORK/tollgate.log")"
		if [[ $(http_code "http://127.0.0.1:$PORT_STATUS/ready") == 200 ]]; then
			ready=1
			break
		fi
		sleep 0.1
	done
	[[ -n $ready ]] || die "tollgate not ready after 15s (GET /ready on :$PORT_STATUS):"$'\n'"$(cat "$WORK/tollgate.log")"

	# (c) is route r on /, (d) route p on /plugins with the plugins on it:
	# both are configured from the start so that the rounds can alternate.
	admin POST /services -d name=bench -d "url=http://127.0.0.1:$PORT_UP"
	admin POST /services/bench/routes -d name=r -d 'paths[]=/'
	admin POST /services/bench/routes -d name=p -d 'paths[]=/plugins'
	URL[c]="http://127.0.0.1:$PORT_TG/"
	URL[d]="http://127.0.0.1:$PORT_TG/plugins"
	HDR[d]="apikey: $APIKEY"
	PROCS[c]=$TG_PID
	PROCS[d]=$TG_PID
	SERVER_PIDS+=" $TG_PID"
	# The route reaches the proxy when the node rebuilds its snapshot.
	wait_code "${URL[c]}" 200 10
fi

if has_row d; then
	admin POST /consumers -d username=bench
	admin POST /consumers/bench/key-auth -d "key=$APIKEY"
	admin POST /routes/p/plugins -d name=key-auth
	admin POST /routes/p/plugins -d name=rate-limiting -d config.second=1000000000 -d config.policy=local
	admin POST /routes/p/plugins -d name=correlation-id
	admin GET /routes/p/plugins
	for p in key-auth rate-limiting correlation-id; do
		grep -q "\"name\":\"$p\"" "$WORK/admin.out" || die "plugin $p missing from GET /routes/p/plugins: $(cat "$WORK/admin.out")"
	done
	# Without a key the gateway must refuse: that proves key-auth runs.
	wait_code "${URL[d]}" 401 10
	wait_code "${URL[d]}" 200 10 -H "${HDR[d]}"
	if ! curl -s -D - -o /dev/null --max-time 5 -H "${HDR[d]}" "${URL[d]}" | grep -qi '^x-\?ratelimit-'; then
		note "warning: no RateLimit or X-RateLimit header in the response; is rate-limiting running?"
	fi
fi
if has_row c; then
	# (c) has no plugins: its answers must not carry (d)'s headers.
	if curl -s -D - -o /dev/null --max-time 5 "${URL[c]}" | grep -qi '^x-\?ratelimit-'; then
		die "(c) answered with rate-limit headers: the plugins of (d) run on (c)'s route"
	fi
fi

# ---------------------------------------------------------------- closed loop

in_rounds run_wrk
summarize RPS=W_RPS P99=W_P99 CPU_US=W_CPU UTIL=W_UTIL CORE1=W_CORE1 OTHER=max:W_OTHER

# Half of (c)'s req/s, or of the best nginx row when (c) is not measured.
if has_row c; then
	base_rps=${RPS[c]} HALF_OF="(c)"
elif has_row b; then
	base_rps=${RPS[b]} HALF_OF="(b)"
else
	base_rps=${RPS[a]} HALF_OF="(a)"
fi
HALF_RATE=$(awk -v r="$base_rps" 'BEGIN {printf "%d", r / 2}')
if [[ -n $HALF_RATE_SET ]]; then
	HALF_RATE=$HALF_RATE_SET HALF_OF="BENCH_HALF_RATE"
fi
((HALF_RATE > 0)) || die "half load rate is $HALF_RATE req/s"

# ---------------------------------------------------------------- open loop

in_rounds run_half "$HALF_RATE"
summarize HALF_P50=H_P50 HALF_P99=H_P99 LAG_P99=H_LAG HALF_CORE1=H_CORE1 HALF_OTHER=max:H_OTHER

# ---------------------------------------------------------------- wake-up floor

# A proxied request waits for the proxy's core to wake up when it arrives,
# and for core 1 when the proxy's request reaches the upstream. On a
# virtual machine a core that has gone idle can take milliseconds to run
# again, and then no proxy can add less than that at p99. cyclictest
# (rt-tests) measures it on core 0 with every server idle: a thread that
# sleeps 200 µs at a time, and how late each wake-up was. --laptop leaves
# the CPU's idle states as the proxies had them.
WAKE=""
if command -v cyclictest >/dev/null 2>&1; then
	note "measuring core 0's wake-up latency with cyclictest for ${HALF_DURATION}s"
	if taskset -c 0 cyclictest -a 0 -t 1 -i 200 -D "${HALF_DURATION}" -q --laptop -h 100000 \
		--histfile="$WORK/cyclictest.hist" >"$WORK/cyclictest.out" 2>&1; then
		WAKE=$(awk '!/^#/ && NF >= 2 {n[$1 + 0] = $2; t += $2}
			END {
				if (t == 0) exit 1
				split("0.5 0.99 0.999", qs, " ")
				for (i = 1; i <= 3; i++) {
					c = 0
					for (k = 0; k <= 100000; k++) { c += n[k]; if (c >= qs[i] * t) { q[i] = k; break } }
				}
				for (k = 100000; k >= 0 && !n[k]; k--) {}
				for (j = 1001; j <= 100000; j++) over += n[j]
				printf "p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms; %d of %d wake-ups over 1 ms", q[1] / 1000, q[2] / 1000, q[3] / 1000, k / 1000, over, t
			}' "$WORK/cyclictest.hist") || WAKE=""
	fi
	[[ -n $WAKE ]] || WARNINGS+=("cyclictest did not run: $(tail -3 "$WORK/cyclictest.out" 2>/dev/null)")
fi

# ---------------------------------------------------------------- report

cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
echo
echo "Proxy benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs (${cpu_model:-unknown}), kernel $(uname -r)"
echo "$(nginx -v 2>&1 | sed 's/.*: //'), wrk $(wrk -v 2>&1 | awk 'NR == 1 {print $2}')$(has_row c && echo ", $("$TOLLGATE_BIN" version 2>/dev/null || echo tollgate) (request_log $REQUEST_LOG)")"
echo "wrk -t1 -c$CONNS -d${DURATION}s --latency on core 1; proxies on core 0; upstream on core 1"
echo "medians of $ROUNDS rounds, rows measured in turn; other %: the most of any round"
echo
printf '%-52s %9s %8s %11s %6s %8s %8s\n' row "req/s" "p99 ms" "CPU µs/req" "CPU %" "core1 %" "other %"
for row in a b c d; do
	has_row "$row" || continue
	printf '%-52s %9.0f %8.3f %11.2f %6.0f %8.0f %8.0f\n' "${LABEL[$row]}" "${RPS[$row]}" "${P99[$row]}" "${CPU_US[$row]}" "${UTIL[$row]}" "${CORE1[$row]}" "${OTHER[$row]}"
done
echo

missed=0
# ratio NAME ARRAY NUM DEN OP TARGET prints the median over the rounds of
# ARRAY["NUM r"]/ARRAY["DEN r"], next to its target and each round's; OP
# is min (the ratio must be at least TARGET) or max (at most).
ratio() {
	local name=$1 num=$3 den=$4 op=$5 target=$6 r ok sym round rs=()
	local -n arr=$2
	for ((round = 1; round <= ROUNDS; round++)); do
		rs+=("$(awk -v n="${arr[$num $round]}" -v d="${arr[$den $round]}" 'BEGIN {printf "%.2f", n / d}')")
	done
	r=$(median "${rs[@]}")
	r=$(awk -v r="$r" 'BEGIN {printf "%.2f", r}')
	if awk -v r="$r" -v t="$target" -v op="$op" 'BEGIN {exit !(op == "min" ? r >= t : r <= t)}'; then
		ok=ok
	else
		ok=MISSED
		missed=1
	fi
	sym="≥"
	[[ $op == min ]] || sym="≤"
	printf '%-26s %6s   target %s %-4s %-6s   per round: %s\n' "$name" "$r" "$sym" "$target" "$ok" "$(IFS=' '; echo "${rs[*]}")"
}
if has_row b && has_row c; then
	ratio "(c)/(b) req/s" W_RPS c b min 0.9
	ratio "(c)/(b) CPU per request" W_CPU c b max 1.2
fi
if has_row c && has_row d; then
	ratio "(d)/(c) req/s" W_RPS d c min 0.9
fi

echo
if [[ $HALF_OF != BENCH_HALF_RATE ]]; then
	HALF_OF="half of $HALF_OF"
fi
echo "Open loop at ${HALF_RATE} req/s ($HALF_OF), ${HALF_DURATION}s, $CONNS connections, load/cmd/fixedrate on core 1"
echo "medians of $ROUNDS rounds; added p99: the median of each round's p99 minus (a)'s in that round"
printf '%-52s %8s %8s %13s %12s %8s %8s\n' row "p50 ms" "p99 ms" "added p99 ms" "gen lag p99" "core1 %" "other %"
for row in a b c d; do
	has_row "$row" || continue
	added=-
	if [[ $row != a ]]; then
		adds=()
		for ((round = 1; round <= ROUNDS; round++)); do
			adds+=("$(awk -v x="${H_P99[$row $round]}" -v a="${H_P99[a $round]}" 'BEGIN {printf "%.3f", x - a}')")
		done
		added=$(awk -v m="$(median "${adds[@]}")" 'BEGIN {printf "%.3f", m}')
	fi
	printf '%-52s %8.3f %8.3f %13s %12.3f %8.0f %8.0f' "${LABEL[$row]}" "${HALF_P50[$row]}" "${HALF_P99[$row]}" "$added" "${LAG_P99[$row]}" "${HALF_CORE1[$row]}" "${HALF_OTHER[$row]}"
	if [[ $row == c || $row == d ]]; then
		if awk -v x="$added" 'BEGIN {exit !(x <= 0.3)}'; then
			printf '   target ≤ 0.3   ok'
		else
			printf '   target ≤ 0.3   MISSED'
			missed=1
		fi
	fi
	echo
done
echo "(gen lag: how late the generator's own scheduler was, part of every latency in this table; core1 %: how busy the generator's and upstream's core was; other %: CPU used meanwhile by processes outside the benchmark, in % of one core)"
echo
if [[ -n $WAKE ]]; then
	echo "Wake-up latency of idle core 0 (cyclictest -i 200, ${HALF_DURATION}s, servers idle): $WAKE"
	echo "(a proxied request waits for both cores to wake; an added p99 within these stalls measures the machine, not the proxy)"
else
	echo "Wake-up latency of idle core 0: not measured (apt-get install -y rt-tests for cyclictest)"
fi

if ((${#WARNINGS[@]} > 0)); then
	echo
	for w in "${WARNINGS[@]}"; do
		echo "warning: $w"
	done
fi

if ((missed)) && [[ $STRICT == 1 ]]; then
	exit 3
fi

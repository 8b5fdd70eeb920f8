# bench-common.sh — sourced by the bench-*.sh scripts that build a Go
# benchmark command and run it; not run on its own.
#
# bench_run NAME PKG builds the command in PKG (./load/cmd/...) into a
# temporary directory, runs it from the repository's root and exits with
# its status. The command stops what it started on SIGINT or SIGTERM:
# either is passed on, and the script waits for it to finish (130 and 143
# then). The build directory is removed on exit, whatever the exit.

bench_run() {
	local name=$1 pkg=$2
	cd "$(dirname "${BASH_SOURCE[0]}")/.."

	command -v go >/dev/null 2>&1 || {
		echo "$name: FAIL: go not found: https://go.dev/dl/ (the version in go.mod)" >&2
		exit 1
	}

	BENCH_WORK=$(mktemp -d "${TMPDIR:-/tmp}/$name-build.XXXXXX")
	BENCH_CHILD=
	trap _bench_cleanup EXIT
	trap '_bench_forward INT; exit 130' INT
	trap '_bench_forward TERM; exit 143' TERM

	local bin
	bin=$BENCH_WORK/$(basename "$pkg")
	echo "$name: building ${pkg#./}" >&2
	go build -o "$bin" "$pkg"

	local rc=0
	"$bin" &
	BENCH_CHILD=$!
	wait "$BENCH_CHILD" || rc=$?
	BENCH_CHILD=
	exit "$rc"
}

# _bench_forward SIG passes SIG on to the benchmark and waits for it.
_bench_forward() {
	if [[ -n $BENCH_CHILD ]]; then
		kill -"$1" "$BENCH_CHILD" 2>/dev/null || true
		wait "$BENCH_CHILD" 2>/dev/null || true
	fi
}

_bench_cleanup() {
	if [[ -n $BENCH_CHILD ]] && kill -0 "$BENCH_CHILD" 2>/dev/null; then
		kill -TERM "$BENCH_CHILD" 2>/dev/null || true
		wait "$BENCH_CHILD" 2>/dev/null || true
	fi
	rm -rf "$BENCH_WORK"
}

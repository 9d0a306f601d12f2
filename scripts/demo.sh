#!/usr/bin/env bash
# The demo behind `make run`: start a worker on the embedded defaults (an
# in-process NATS server, SQLite, the in-process cache and the offline
# enricher unless NATS_URL, DATABASE_URL, REDIS_URL or LLM_PROVIDER say
# otherwise), publish a deterministic sample of news with reposts across
# sources, wait until the consumer has drained, print the top stories and a
# summary, and stop the worker with SIGTERM. The worker serves the operator's
# console at the URL the demo prints; run interactively (a terminal on
# stdin), the demo keeps the worker and its console up until Enter is
# pressed (DEMO_HOLD=0 skips the wait).
set -euo pipefail
# A relative NEWSFLOW_DATA_DIR or BIN means relative to where the demo was
# started, as --data-dir is for the programs.
START=$PWD
abs() { case "$1" in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$START" "$1" ;; esac; }
BIN=$(abs "${BIN:-$(dirname "$0")/../bin}")
COUNT=${DEMO_COUNT:-600}
DIR="$(abs "${NEWSFLOW_DATA_DIR:-./data}")/demo"
rm -rf "$DIR"
mkdir -p "$DIR"
export NEWSFLOW_DATA_DIR="$DIR"
export NEWSFLOW_LOG_FORMAT=console
LOG="$DIR/worker.log"

# Bold headings on a terminal only: no ANSI codes in a pipe or a file.
if [ -t 1 ]; then
	say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
else
	say() { printf '\n%s\n' "$*"; }
fi
fail() { echo "demo: $*" >&2; echo "--- last lines of $LOG:" >&2; tail -n 20 "$LOG" >&2 || true; exit 1; }

say "Starting a worker (data in $DIR, log in $LOG)"
"$BIN/worker" run --http-addr 127.0.0.1:0 --batch-wait 500ms --lag-interval 1s >"$LOG" 2>&1 &
WORKER=$!
trap 'kill -TERM $WORKER 2>/dev/null || true' EXIT

# The worker is ready when it has logged its start line.
for _ in $(seq 1 300); do
	grep -q "worker start" "$LOG" 2>/dev/null && break
	kill -0 $WORKER 2>/dev/null || fail "the worker exited at start"
	sleep 0.1
done
grep -q "worker start" "$LOG" || fail "the worker did not start within 30s"
grep -E "unset|embedded" "$LOG" | sed -E 's/^[^ ]+ +INFO +//; s/^/  /' || true
CONSOLE=$(grep -o '"console": "[^"]*"' "$LOG" | head -n1 | cut -d'"' -f4)
[ -n "$CONSOLE" ] && [ "$CONSOLE" != off ] && say "Console: $CONSOLE  (overview, workers, dead letters, stories; open it in a browser)"

say "Publishing $COUNT stories (30 % reposts of earlier stories by other sources)"
"$BIN/publisher" gen --count "$COUNT" --dup-content 0.3 --seed 42

say "Waiting for the workers to drain the stream"
drained=""
for _ in $(seq 1 600); do
	lag=$("$BIN/worker" lag --json --interval 100ms 2>/dev/null | head -n1 || true)
	if [[ $lag == *'"num_pending":0,'* && $lag == *'"num_ack_pending":0,'* ]]; then drained=yes; break; fi
	kill -0 $WORKER 2>/dev/null || fail "the worker died"
	sleep 0.1
done
[ -n "$drained" ] || fail "the stream did not drain within 60s (last: $lag)"
echo "  $lag"

say "Top stories (reposts collapsed)"
"$BIN/worker" top -n 10 --since 720h

unique=$("$BIN/worker" top -n 1000000 --since 87600h --json | wc -l)

if [ -t 0 ] && [ "${DEMO_HOLD:-1}" != 0 ] && [ -n "$CONSOLE" ]; then
	say "The console stays up at $CONSOLE until you press Enter"
	read -r _ || true
fi

say "Stopping the worker (SIGTERM)"
kill -TERM $WORKER
wait $WORKER || fail "the worker exited with status $?"
trap - EXIT

say "Summary"
echo "  unique stories in the database: $unique"
sed -n 's/.*worker summary[[:space:]]*//p' "$LOG" | tr -d '{}"' | tr ',' '\n' | sed 's/^ */  /; s/:/: /'

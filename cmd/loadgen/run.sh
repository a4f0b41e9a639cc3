#!/usr/bin/env bash
# Reproduces the load figures of issue 7 §5 end to end on PostgreSQL:
#   1. builds connect-doctor and loadgen, creates a fresh database, migrates,
#      starts `connect-doctor serve` (LOG_LEVEL=warn) trusting loadgen's
#      install key server;
#   2. installs TENANTS tenants (installs/s);
#   3. for each concurrency in CONCURRENCIES, one DURATION-long compare
#      run: the authenticated mix (page + context requests over all
#      tenants) and the /healthz baseline take turns in SLOT-long slots over
#      the same connections, so that drift in the shared machine's speed
#      hits both alike; each is measured over its own slots, and their
#      ratio is the figure;
#   4. a SOAK-long authenticated run sampling /metrics every 30 s (leak check);
#   5. the app's peak RSS (VmHWM), then stops the app and drops the database.
# JSON reports land in OUT; a Markdown summary is printed at the end.
#
#   cmd/loadgen/run.sh                          # 1,000 tenants, 64 and 256, 60 s each, 5 min soak
#   SOAK=0 DURATION=20s cmd/loadgen/run.sh      # quicker, no soak
#   HARNESS=1 SOAK=0 cmd/loadgen/run.sh         # authentication alone: the app's JWT
#                                               # middleware in front of a /healthz body
#                                               # (cmd/loadgen/appprof harness routes)
#
# Needs: go, psql, jq, curl, a PostgreSQL reachable at ADMIN_URL.
set -euo pipefail
cd "$(dirname "$0")/../.."

ADMIN_URL="${ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
TENANTS="${TENANTS:-1000}"
CONCURRENCIES="${CONCURRENCIES:-64 256}"
DURATION="${DURATION:-60s}"
SLOT="${SLOT:-2s}"
WARMUP="${WARMUP:-3s}"
SOAK="${SOAK:-5m}"               # 0 to skip
SOAK_CONCURRENCY="${SOAK_CONCURRENCY:-64}"
APP_PORT="${APP_PORT:-18080}"
KEYS_PORT="${KEYS_PORT:-19777}"
OUT="${OUT:-$(mktemp -d /tmp/loadgen-run.XXXXXX)}"
BIN="${BIN:-$OUT/bin}"
mkdir -p "$OUT" "$BIN"

log() { printf '==> %s\n' "$*" >&2; }

log "building into $BIN"
go build -o "$BIN/connect-doctor" ./cmd/connect-doctor
go build -o "$BIN/loadgen" ./cmd/loadgen
HARNESS="${HARNESS:-0}"
route_flags=()
if [ "$HARNESS" = 1 ]; then
  go build -o "$BIN/appprof" ./cmd/loadgen/appprof
  route_flags=(--page-path /loadgen/page --context-path /loadgen/context)
fi

db="loadgen_$(date +%s)_$$"
DB_URL="$(printf '%s' "$ADMIN_URL" | sed -E "s#/[^/?]*(\?|$)#/$db\1#")"
log "creating database $db"
psql -q "$ADMIN_URL" -c "CREATE DATABASE $db"

app_pid=""
cleanup() {
  if [ -n "$app_pid" ] && kill -0 "$app_pid" 2>/dev/null; then
    kill "$app_pid"; wait "$app_pid" 2>/dev/null || true
  fi
  psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
}
trap cleanup EXIT

export DATABASE_URL="$DB_URL"
export ENCRYPTION_KEY="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export BASE_URL="http://127.0.0.1:$APP_PORT" PORT="$APP_PORT"
export CONNECT_INSTALL_KEYS_URL="http://127.0.0.1:$KEYS_PORT"
export LOG_LEVEL=warn DATA_DIR="$OUT/data"
# /metrics is served on the public listener only behind a bearer token;
# loadgen reads the same variable.
export METRICS_TOKEN="${METRICS_TOKEN:-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')}"

"$BIN/connect-doctor" migrate >&2
if [ "$HARNESS" = 1 ]; then
  "$BIN/appprof" 2>"$OUT/app.log" &
else
  "$BIN/connect-doctor" serve 2>"$OUT/app.log" &
fi
app_pid=$!
for _ in $(seq 1 50); do
  curl -fs "$BASE_URL/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fs "$BASE_URL/readyz" >/dev/null
log "app pid $app_pid on $BASE_URL"

lg() { "$BIN/loadgen" --target "$BASE_URL" --app-pid "$app_pid" --warmup "$WARMUP" --json "$@"; }

log "install: $TENANTS tenants"
lg --mode install --tenants "$TENANTS" --concurrency 64 --keys-listen "127.0.0.1:$KEYS_PORT" >"$OUT/install.json"
seed="$(jq -r .seed "$OUT/install.json")"

for c in $CONCURRENCIES; do
  log "authenticated and baseline in alternating $SLOT slots, $c connections, $DURATION"
  lg --mode compare --seed "$seed" --tenants "$TENANTS" --concurrency "$c" --duration "$DURATION" --slot "$SLOT" "${route_flags[@]}" >"$OUT/compare-$c.json" || true
done

if [ "$SOAK" != "0" ]; then
  log "soak: authenticated, $SOAK_CONCURRENCY connections, $SOAK, /metrics every 30s"
  lg --mode run --seed "$seed" --tenants "$TENANTS" --concurrency "$SOAK_CONCURRENCY" --duration "$SOAK" --sample-every 30s >"$OUT/soak.json" || true
fi

hwm_kb="$(awk '/^VmHWM/ {print $2}' "/proc/$app_pid/status")"

# ---- summary (Markdown) ----------------------------------------------------
{
  echo "Load test: $TENANTS tenants on PostgreSQL, $(nproc) CPUs shared by the app and the load generator; $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  jq -r '.install | "Installs: \(.installed)/\(.tenants) in \(.seconds|.*100|round/100) s at concurrency \(.concurrency): **\(.installs_per_sec) installs/s**, p50 \(.latency.p50_ms) ms, p99 \(.latency.p99_ms) ms, errors \((.non_2xx|add // 0) + (.transport_errors|add // 0)); load average \(.host.loadavg_start)"' "$OUT/install.json"
  echo
  echo "Each row: one run of $DURATION in which the authenticated mix and the baseline take turns in $SLOT slots over the same connections; req/s of each over its own slots."
  echo
  echo "| connections | authenticated req/s | baseline /healthz req/s | ratio | p50 / p99 ms page | p50 / p99 ms context | p50 / p99 ms healthz | errors | load avg (start → end) |"
  echo "|---:|---:|---:|---:|---|---|---|---:|---|"
  for c in $CONCURRENCIES; do
    jq -r --arg c "$c" '.compare | "| \($c) | \(.auth_ok_per_sec) | \(.baseline_ok_per_sec) | **\(.ratio)** | \(.kinds.page.latency.p50_ms) / \(.kinds.page.latency.p99_ms) | \(.kinds.context.latency.p50_ms) / \(.kinds.context.latency.p99_ms) | \(.kinds.healthz.latency.p50_ms) / \(.kinds.healthz.latency.p99_ms) | \((.non_2xx|add // 0) + (.transport_errors|add // 0)) | \(.host.loadavg_start) → \(.host.loadavg_end) |"' "$OUT/compare-$c.json"
  done
  echo
  for c in $CONCURRENCIES; do
    jq -r --arg c "$c" '.compare | "Ratio at \($c) connections: authenticated/baseline = \(.ratio) (target ≥ 0.80), errors \((.non_2xx|add // 0) + (.transport_errors|add // 0))"' "$OUT/compare-$c.json"
  done
  if [ -f "$OUT/soak.json" ]; then
    echo
    jq -r '.run | "Soak: \(.seconds) s at \(.concurrency) connections, \(.ok_per_sec) req/s, errors \((.non_2xx|add // 0) + (.transport_errors|add // 0)); go_goroutines \(.app.leak_check.goroutines_start) → \(.app.leak_check.goroutines_end) under load, \(.app.leak_check.goroutines_idle_before) → \(.app.leak_check.goroutines_idle_after) idle; RSS \(.app.leak_check.rss_start_bytes/1048576|round) → \(.app.leak_check.rss_end_bytes/1048576|round) MiB; heap in use \(.app.leak_check.heap_inuse_start_bytes/1048576|round) → \(.app.leak_check.heap_inuse_end_bytes/1048576|round) MiB; flat: \(.app.leak_check.flat)"' "$OUT/soak.json"
    jq -r '.run.app.samples | map("\(.label)@\(.at_seconds|round)s: \(.go_goroutines) goroutines, \(.process_resident_memory_bytes/1048576|round) MiB") | "Samples: " + join("; ")' "$OUT/soak.json"
  fi
  echo
  echo "Peak RSS of the app (VmHWM): $((hwm_kb / 1024)) MiB"
  echo
  echo "Reports: $OUT"
} | tee "$OUT/summary.md"

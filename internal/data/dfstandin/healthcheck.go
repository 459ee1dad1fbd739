package dfstandin

// HealthcheckScript is installed as /usr/local/bin/healthcheck.sh: the
// operator's default probes exec it with /bin/sh. Same semantics as the
// official image's script — PING on $HEALTHCHECK_PORT answers PONG and the
// dataset is loaded (INFO PERSISTENCE has loading:0).
const HealthcheckScript = `#!/bin/sh
# Dragonfly-contract stand-in probe (redis-server behind dfe2e-dfstandin).
HOST="${HEALTHCHECK_HOST:-127.0.0.1}"
PORT="${HEALTHCHECK_PORT:-6379}"
timeout 3 redis-cli -h "$HOST" -p "$PORT" PING | grep -q PONG || exit 1
timeout 3 redis-cli -h "$HOST" -p "$PORT" INFO PERSISTENCE | grep -q 'loading:0' || exit 1
exit 0
`

#!/usr/bin/env bash
# Make the local PostgreSQL and RabbitMQ ready for `folio-bootstrap`: start them where they are installed on
# this machine but stopped, and switch RabbitMQ's management plugin on (the bootstrap and the tests use its
# HTTP API) where it is off. Servers elsewhere (FOLIO_POSTGRES_ADMIN_URL, FOLIO_RABBITMQ_MANAGEMENT_URL
# naming another host) are left alone. Where it cannot fix something, it says what to run and exits 1.
# RABBITMQ_NODENAME and the other RABBITMQ_* variables select the node, as for rabbitmqctl itself.
set -euo pipefail

PG_URL=${FOLIO_POSTGRES_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
MANAGEMENT_URL=${FOLIO_RABBITMQ_MANAGEMENT_URL:-http://guest:guest@127.0.0.1:15672}
WAIT=${FOLIO_LOCAL_SERVERS_WAIT:-120}

say() { echo "local_servers: $*" >&2; }

# host and port of a URL: scheme://[user[:password]@]host[:port][/...]
host_of() { local rest=${1#*://}; rest=${rest%%/*}; rest=${rest##*@}; echo "${rest%%:*}"; }
port_of() {
  local rest=${1#*://}; rest=${rest%%/*}; rest=${rest##*@}
  if [[ $rest == *:* ]]; then echo "${rest##*:}"; else echo "$2"; fi
}
is_local() { [[ $1 == 127.0.0.1 || $1 == localhost || $1 == ::1 || $1 == "[::1]" ]]; }

# Poll `$@` once a second until it succeeds or WAIT seconds have passed.
wait_for() { local _; for _ in $(seq "$WAIT"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done; return 1; }

postgres() {
  local host port
  host=$(host_of "$PG_URL"); port=$(port_of "$PG_URL" 5432)
  is_local "$host" || return 0
  command -v pg_isready >/dev/null || { say "pg_isready not found: is PostgreSQL installed?"; return 0; }
  pg_isready -q -h "$host" -p "$port" && return 0
  if command -v pg_ctlcluster >/dev/null && [[ -d /etc/postgresql ]]; then
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    say "PostgreSQL is not answering on $host:$port: starting cluster $version/main"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
  if ! wait_for pg_isready -q -h "$host" -p "$port"; then
    say "PostgreSQL does not answer on $host:$port. Start it (Debian: pg_ctlcluster <version> main start)"
    say "or point FOLIO_POSTGRES_ADMIN_URL at a running server."
    return 1
  fi
}

# Any HTTP answer counts (wrong credentials are the bootstrap's to report); 000 is no answer at all.
management_answers() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${MANAGEMENT_URL%/}/api/overview" || true)
  [[ $code != 000 ]]
}

rabbitmq() {
  local host
  host=$(host_of "$MANAGEMENT_URL")
  is_local "$host" || return 0
  management_answers && return 0
  if ! command -v rabbitmqctl >/dev/null; then
    say "the RabbitMQ management API does not answer at $host:$(port_of "$MANAGEMENT_URL" 15672), and no"
    say "rabbitmqctl is installed here: install RabbitMQ or point FOLIO_RABBITMQ_MANAGEMENT_URL at one."
    return 1
  fi
  if ! rabbitmqctl -q status >/dev/null 2>&1; then
    say "RabbitMQ is not running: starting it (rabbitmq-server -detached)"
    rabbitmq-server -detached || true
    # check_running fails at once while the node is down (await_startup would wait minutes for it).
    if ! wait_for rabbitmq-diagnostics -q check_running; then
      say "RabbitMQ did not start. Run \`rabbitmq-server -detached\` (as root or rabbitmq) and read its log."
      return 1
    fi
  fi
  if ! management_answers; then
    say "the management plugin is off: enabling it (rabbitmq-plugins enable rabbitmq_management)"
    if ! rabbitmq-plugins -q enable rabbitmq_management >/dev/null; then
      say "could not enable it. Run: sudo rabbitmq-plugins enable rabbitmq_management"
      return 1
    fi
  fi
  if ! wait_for management_answers; then
    say "the management API does not answer at ${MANAGEMENT_URL##*@}: check \`rabbitmq-plugins list\`"
    say "and the management listener (management.tcp.port), or set FOLIO_RABBITMQ_MANAGEMENT_URL."
    return 1
  fi
}

status=0
postgres || status=1
rabbitmq || status=1
exit "$status"

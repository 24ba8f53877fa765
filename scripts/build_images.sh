#!/usr/bin/env bash
# `make images`: build folio/<service>:<tag> for every service (or those named) from the repository root,
# each from the one services/Dockerfile with --build-arg SERVICE=<service> PORT=<its HTTP port>.
#
# With Docker where a Docker engine answers; otherwise with Podman, installed from Debian's packages when
# missing and run with compose/podman/containers.conf (runc, no raised ulimits). Where no registry can
# provide the base image python:3.11-slim (an air-gapped machine), a stand-in is built from Debian bookworm's
# packages (its python3 is 3.11) with debootstrap and imported under the same name; the Dockerfile is
# unchanged. The Debian mirror is the one this machine's apt already uses.
#
# Usage: scripts/build_images.sh [--engine] [service...]
#   --engine   only make sure an engine is there (installed and configured); build nothing
# Environment: FOLIO_IMAGE_TAG (default dev), FOLIO_DEBIAN_MIRROR (default: from /etc/apt/sources.list*),
#   FOLIO_PULL_TIMEOUT (seconds allowed for pulling the base image, default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TAG=${FOLIO_IMAGE_TAG:-dev}
BASE=python:3.11-slim
SUITE=bookworm
DOCKERFILE=services/Dockerfile
# Each service's HTTP port, as its settings default to it and docker-compose.yml's build args say
# (`make deploy-check` holds the three to one another).
declare -A PORTS=([catalog]=8001 [ordering]=8002 [rating]=8003 [notification]=8004)
# The tools image (folio-ops: the bootstrap compose runs to write the broker's definitions) is built by
# default after the services, or alone when named (`scripts/build_images.sh ops`). It serves no HTTP, but
# the recipe's EXPOSE wants a port.
declare -A TOOLS=([ops]=tools/ops)

say() { printf 'images: %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}

as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "needs root to run: $*"
  fi
}

apt_install() {
  command -v apt-get >/dev/null || die "install $* with your system's package manager, then run this again"
  say "installing $* from Debian's packages"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Sets ENGINE to docker or podman (and exports CONTAINERS_CONF for Podman).
choose_engine() {
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    ENGINE=docker
    return
  fi
  if ! command -v podman >/dev/null || ! command -v runc >/dev/null; then
    say "no Docker engine answers and Podman is missing"
    apt_install podman runc
  fi
  export CONTAINERS_CONF=${CONTAINERS_CONF:-$ROOT/compose/podman/containers.conf}
  ENGINE=podman
}

# The first http(s) URI apt uses for Debian's $SUITE (deb822 .sources files or one-line .list files).
debian_mirror() {
  if [ -n "${FOLIO_DEBIAN_MIRROR:-}" ]; then
    echo "$FOLIO_DEBIAN_MIRROR"
    return
  fi
  local files=()
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && files+=("$f")
  done
  [ ${#files[@]} -gt 0 ] || return 1
  awk -v suite="$SUITE" '
    function flush() { if (uris != "" && index(suites, " " suite " ")) print uris; uris = ""; suites = "" }
    FNR == 1 { flush() }
    /^deb[ \t]/ {
      for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i ~ /^https?:/) { if ($(i + 1) == suite) print $i; break }
      next
    }
    /^URIs:/ { uris = $2 }
    /^Suites:/ { suites = " " substr($0, 8) " " }
    /^[ \t]*$/ { flush() }
    END { flush() }
  ' "${files[@]}" | head -n 1 | grep .
}

build_standin_base() {
  command -v debootstrap >/dev/null || apt_install debootstrap
  local mirror
  mirror=$(debian_mirror) || die "no Debian $SUITE mirror in /etc/apt/sources.list*: set FOLIO_DEBIAN_MIRROR"
  say "the registry cannot provide $BASE: building a stand-in under that name from Debian $SUITE's packages"
  say "(python3 3.11, python3-venv, ca-certificates) with debootstrap from $mirror"
  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/folio-base.XXXXXX")
  # shellcheck disable=SC2064 # expand now: $dir is local
  trap "as_root rm -rf '$dir'" EXIT
  as_root debootstrap --variant=minbase --include=python3,python3-venv,python-is-python3,ca-certificates \
    "$SUITE" "$dir/root" "$mirror" >"$dir/debootstrap.log" 2>&1 \
    || die "debootstrap failed: $(tail -n 5 "$dir/debootstrap.log")"
  as_root rm -rf "$dir"/root/var/cache/apt/archives/*.deb "$dir"/root/var/lib/apt/lists/* "$dir"/root/tmp/*
  as_root tar -C "$dir/root" -c . | "$ENGINE" import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' \
    - "$BASE" >"$dir/import.log" 2>&1 || die "import failed: $(cat "$dir/import.log")"
  as_root rm -rf "$dir"
  trap - EXIT
  say "stand-in $BASE imported"
}

ensure_base() {
  if "$ENGINE" image inspect "$BASE" >/dev/null 2>&1; then
    return
  fi
  say "pulling $BASE"
  if timeout "${FOLIO_PULL_TIMEOUT:-60}" "$ENGINE" pull -q "$BASE" >/dev/null 2>&1; then
    return
  fi
  build_standin_base
}

build() {
  local name=$1 args
  args=(build --file "$DOCKERFILE" --tag "folio/$name:$TAG" --build-arg "SERVICE=$name")
  if [ -n "${TOOLS[$name]:-}" ]; then
    args+=(--build-arg "PACKAGE=${TOOLS[$name]}" --build-arg "COMMAND=folio-bootstrap" --build-arg "PORT=8000")
  else
    args+=(--build-arg "PORT=${PORTS[$name]}")
  fi
  if [ "$ENGINE" = podman ]; then
    # Podman reads only the root .dockerignore unless told; the Dockerfile's own keeps the context small.
    # The docker format keeps the HEALTHCHECK (OCI images have none).
    args+=(--ignorefile "$DOCKERFILE.dockerignore" --network host --format docker)
    # pip inside the build trusts what this machine trusts (a TLS-inspecting proxy's CA, say); mounted for
    # the build only, never copied into an image.
    [ -d /etc/ssl/certs ] && args+=(--volume /etc/ssl/certs:/etc/ssl/certs:ro)
  fi
  say "building folio/$name:$TAG with $ENGINE"
  local started=$SECONDS
  "$ENGINE" "${args[@]}" . >"$LOGS/$name.log" 2>&1 || die "folio/$name failed; the log: $LOGS/$name.log
$(tail -n 20 "$LOGS/$name.log")"
  say "built folio/$name:$TAG in $((SECONDS - started)) s"
}

main() {
  local only_engine=0 services=()
  for arg in "$@"; do
    case $arg in
      --engine) only_engine=1 ;;
      -*) die "unknown option $arg" ;;
      *) services+=("$arg") ;;
    esac
  done
  local named=${#services[@]}
  [ ${#services[@]} -gt 0 ] || services=(catalog ordering rating notification)
  # The compose test runs the tools image too (with --no-build), so the default builds it after the services.
  [ "$named" -gt 0 ] || services+=("${!TOOLS[@]}")
  for name in "${services[@]}"; do
    [ -n "${PORTS[$name]:-}${TOOLS[$name]:-}" ] || die "unknown image $name (known: ${!PORTS[*]} ${!TOOLS[*]})"
  done
  choose_engine
  say "engine: $ENGINE"
  [ "$only_engine" = 1 ] && return
  ensure_base
  LOGS=$ROOT/.run/images
  mkdir -p "$LOGS"
  # One after the other: two builds at once took as long here, and each built the stages the images share
  # (the base, the venv) again, so that the next build found only one of the copies in its cache.
  for name in "${services[@]}"; do
    build "$name"
  done
}

main "$@"

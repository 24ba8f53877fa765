#!/usr/bin/env bash
# The programs some tests drive besides Python: promtool (the alert rules' unit tests) and Chromium (the
# EventCatalog site opened headless). Each is installed from Debian's packages where it is missing and we
# may (root with apt-get); elsewhere this says what to install, and those tests skip outside CI and fail in it.
# Container engines are `make images`' business (scripts/build_images.sh).
set -euo pipefail

say() { echo "test_tools: $*" >&2; }

missing=()
command -v promtool >/dev/null || missing+=(prometheus)
command -v chromium >/dev/null || [[ -x /usr/bin/chromium ]] || missing+=(chromium)
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  say "missing: ${missing[*]}; install them (Debian: apt-get install ${missing[*]})"
  exit 0
fi

say "installing ${missing[*]} from Debian's packages"
# Debian's prometheus package would start a Prometheus server: we want its promtool only, so no daemon
# may start while it installs (policy-rc.d answering 101 forbids it).
policy=/usr/sbin/policy-rc.d
placed=false
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && placed=true
fi
trap '$placed && rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null

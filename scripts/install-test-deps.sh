#!/usr/bin/env bash
# Installs the Debian packages the test suites need, when they are missing (run before `npm test`
# by npm's pretest hook, and by .ci/run):
#   java            AWS DynamoDB Local (the storage suite runs against it as well as dynalite)
#   promtool, prometheus   the operations tests (config/rules checks, a real Prometheus)
#   docker-compose  validates docker-compose.yml without a Docker daemon
set -euo pipefail

need=()
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
[ "${#need[@]}" -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "npm test needs Debian packages: ${need[*]} (apt-get install -y ${need[*]})" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "npm test needs: java (a JRE), prometheus (with promtool), docker-compose; install them with your package manager" >&2
  exit 1
fi
echo "installing Debian packages for the test suites: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The prometheus package starts a system service on install; the tests run their own instances.
if [[ " ${need[*]} " == *" prometheus "* ]]; then
  if command -v systemctl >/dev/null 2>&1; then "${sudo[@]}" systemctl stop prometheus >/dev/null 2>&1 || true; fi
  "${sudo[@]}" pkill -x prometheus >/dev/null 2>&1 || true
fi

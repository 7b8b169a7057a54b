#!/usr/bin/env bash
# Installs and starts what the farm's demo and tests need on a Debian machine:
# Blender and OpenImageIO tools (apt), moto's S3 server and the FLIP reference
# (pip), and a running RabbitMQ. Safe to run again; does nothing that is done.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
while read -r pkg; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done < .ci/apt-packages.txt
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]] && ! command -v sudo >/dev/null; then
    echo "error: these Debian packages are missing: ${missing[*]}" >&2
    echo "       install them as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  echo "installing ${missing[*]} (apt)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# A distribution's own Python refuses system-wide installs (PEP 668); this
# machine is the farm's test box, so install there anyway.
if ! python3 -m pip install -q -r .ci/requirements.txt 2>/tmp/pip-err.log \
  && ! python3 -m pip install -q --break-system-packages -r .ci/requirements.txt 2>/tmp/pip-err.log; then
  cat /tmp/pip-err.log >&2
  echo "error: pip could not install .ci/requirements.txt" >&2
  exit 1
fi

if ! (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
  if command -v rabbitmq-server >/dev/null; then
    echo "starting RabbitMQ"
    rabbitmq-server -detached
  else
    echo "error: RabbitMQ is not running on 127.0.0.1:5672 and rabbitmq-server is not installed" >&2
    echo "       install it: apt-get install -y rabbitmq-server" >&2
    exit 1
  fi
fi
for _ in $(seq 1 60); do
  if rabbitmq-diagnostics -q check_port_connectivity >/dev/null 2>&1; then
    break
  fi
  sleep 1
done
# The coordinator makes one RabbitMQ user per enrolled worker through the
# management HTTP API.
if ! rabbitmq-plugins -q list -e rabbitmq_management 2>/dev/null | grep -q rabbitmq_management; then
  echo "enabling RabbitMQ's management plugin"
  rabbitmq-plugins -q enable rabbitmq_management >/dev/null
fi
for _ in $(seq 1 60); do
  if (exec 3<>/dev/tcp/127.0.0.1/15672) 2>/dev/null; then
    break
  fi
  sleep 1
done

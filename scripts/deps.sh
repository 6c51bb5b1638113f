#!/usr/bin/env bash
# Installs what mpx needs to build and test, from Debian packages; does nothing for packages
# already there. Used by scripts/test.sh and scripts/demo.sh.
set -euo pipefail
# python3-zmq, python3-nacl and python3-msgpack: the independent client that checks mpx's
# protocol and crypto against code mpx did not write (tests/independent_client.py).
packages=(build-essential cmake pkg-config libzmq3-dev libmsgpack-dev libsodium-dev
          libssl-dev libcmocka-dev zlib1g-dev uthash-dev iproute2 python3 python3-zmq python3-nacl python3-msgpack
          "$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

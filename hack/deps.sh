#!/usr/bin/env bash
# The host tools the tests run, as command-or-file:Debian-package.
#   hack/deps.sh          installs the missing ones (`make deps`; root or sudo, apt-get)
#   hack/deps.sh --check  only names the missing ones and exits 2 (`make test`,
#                         which must never change the machine it tests on)
set -euo pipefail
tools=(
  redis-server:redis-server
  redis-cli:redis-tools
  redis-benchmark:redis-tools
  /bin/busybox:busybox-static
  ldd:libc-bin
  tar:tar
)
missing=() need=()
for t in "${tools[@]}"; do
  cmd=${t%%:*} pkg=${t#*:}
  if [[ $cmd == /* ]]; then [ -e "$cmd" ] && continue
  else command -v "$cmd" >/dev/null 2>&1 && continue; fi
  missing+=("$cmd")
  [[ " ${need[*]-} " == *" $pkg "* ]] || need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "${1-}" = --check ]; then
  echo "missing host tools the tests run: ${missing[*]} (Debian packages: ${need[*]})" >&2
  echo "install them with: make deps   (as root or with sudo; elsewhere install those packages yourself)" >&2
  exit 2
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "missing: ${missing[*]} — no apt-get here: install ${need[*]} with your package manager, then re-run" >&2; exit 2
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "missing: ${missing[*]} — run as root or: sudo apt-get install -y ${need[*]}" >&2; exit 2; }
  sudo=sudo
fi
echo "installing Debian packages: ${need[*]}" >&2
$sudo apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Whatever apt-get installed must now be found.
exec "$0" --check

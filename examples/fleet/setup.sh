#!/usr/bin/env sh
# Make the example fleet of examples/fleet/inventory.yml: 12 emulated machines and 2 running emulated BMCs
# (https on 127.0.0.1:18443 and :18444), all on firmware 1 and trusting a new release key, plus a signed
# image fw-2.0.0.fwup; and install the fwup.fleet collection where ansible.cfg looks for it.
# `sh examples/fleet/setup.sh stop` stops the BMCs.
set -eu
cd "$(dirname "$0")/../.."
root=.fwup/fleet
fwup() { node bin/fwup.js "$@"; }
if [ "${1:-}" = stop ]; then
  for b in bmc01 bmc02; do fwup machine stop --target "emu:$root/$b" 2>/dev/null || true; done
  exit 0
fi
ansible-galaxy collection install ./ansible -p .ansible/collections --force >/dev/null
mkdir -p "$root"
for b in bmc01 bmc02; do fwup machine stop --target "emu:$root/$b" 2>/dev/null || true; done
fwup keygen "$root/release" --force >/dev/null
fwup pack fixtures/payloads/fw-2.0.0.bin -o "$root/fw-2.0.0.fwup" --force --version 2.0.0 --lsv 1 --svn 1 --sign "$root/release.key" >/dev/null
for i in 01 02 03 04 05 06 07 08 09 10 11 12; do
  fwup machine init "$root/host$i" --force --cpus 2 --flash-size 4M --trust "$root/release.pub" >/dev/null
done
umask 077
[ -f "$root/bmc-password" ] || node -e "process.stdout.write(require('crypto').randomBytes(18).toString('base64url'))" > "$root/bmc-password"
port=18443
for b in bmc01 bmc02; do
  fwup machine init "$root/$b" --force --cpus 2 --flash-size 4M --trust "$root/release.pub" >/dev/null
  FWUP_REDFISH_USER=fleet FWUP_REDFISH_PASSWORD="$(cat "$root/bmc-password")" fwup machine start --target "emu:$root/$b" --redfish "127.0.0.1:$port" --tls
  port=$((port + 1))
done
echo "fleet ready: ansible-playbook -i examples/fleet/inventory.yml ansible/playbooks/rollout.yml -e image=$root/fw-2.0.0.fwup"

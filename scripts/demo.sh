#!/usr/bin/env sh
# The README's quick start: the main job end to end on the emulated default target (./.fwup/machine):
# make a signing key, pack and sign an image, create the machine trusting the key, stage the image,
# apply it warm (IPI rendezvous, state save, processor-only reset, firmware update, restore, resume),
# and show the outcome.
set -eu
cd "$(dirname "$0")/.."
fwup() { node bin/fwup.js "$@"; }
mkdir -p .fwup/demo
fwup keygen .fwup/demo/release --force
fwup pack fixtures/payloads/fw-2.0.0.bin -o .fwup/demo/fw-2.0.0.fwup --force --version 2.0.0 --lsv 1 --svn 1 \
  --sign .fwup/demo/release.key --description "quick start image"
fwup machine init --force --cpus 4 --trust .fwup/demo/release.pub
fwup stage .fwup/demo/fw-2.0.0.fwup
fwup apply --warm
fwup status

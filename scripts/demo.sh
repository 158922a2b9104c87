#!/usr/bin/env sh
# The README's quick start: the main job end to end on the emulated default target.
set -eu
cd "$(dirname "$0")/.."
fwup() { node bin/fwup.js "$@"; }
mkdir -p .fwup/demo
fwup keygen .fwup/demo/release --force
fwup pack fixtures/payloads/fw-2.0.0.bin -o .fwup/demo/fw-2.0.0.fwup --version 2.0.0 --lsv 1 --svn 1 \
  --sign .fwup/demo/release.key --description "quick start image"
fwup inspect .fwup/demo/fw-2.0.0.fwup --key .fwup/demo/release.pub

/** The environment variables fwup reads, for --help and the man page. */
export const ENVIRONMENT: ReadonlyArray<readonly [name: string, meaning: string]> = [
  ['FWUP_TARGET', 'the target when --target is not given (emu:DIR, flashrom:PROGRAMMER[:PARAMS], uefi)'],
  ['NO_COLOR', 'no colours, like --no-color'],
  ['FWUP_FAULT', 'emulated targets: inject a power cut or fault at a named point (see docs/testing.md)'],
  ['XDG_CACHE_HOME', 'downloads are cached in $XDG_CACHE_HOME/fwup (default ~/.cache/fwup)'],
  ['XDG_STATE_HOME', 'records of host targets (flashrom, uefi) are kept in $XDG_STATE_HOME/fwup (default ~/.local/state/fwup)'],
  ['NODE_EXTRA_CA_CERTS', 'a PEM file of extra certificate authorities for https downloads'],
  ['FWUP_REBOOT_COMMAND', 'replaces systemctl reboot / reboot (tests, unusual systems)'],
];

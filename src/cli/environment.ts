/** The environment variables fwup reads, for --help and the man page. */
export const ENVIRONMENT: ReadonlyArray<readonly [name: string, meaning: string]> = [
  ['FWUP_TARGET', 'the target when --target is not given (emu:DIR, flashrom:PROGRAMMER[:PARAMS], uefi, redfish:https://BMC)'],
  ['NO_COLOR', 'no colours, like --no-color'],
  ['FWUP_FAULT', 'emulated targets: inject a power cut or fault at a named point (see docs/testing.md)'],
  ['XDG_CACHE_HOME', 'downloads are cached in $XDG_CACHE_HOME/fwup (default ~/.cache/fwup)'],
  ['XDG_STATE_HOME', 'records of host targets (flashrom, uefi, redfish) are kept in $XDG_STATE_HOME/fwup (default ~/.local/state/fwup)'],
  ['NODE_EXTRA_CA_CERTS', 'a PEM file of extra certificate authorities for https downloads'],
  ['FWUP_REDFISH_USER', 'redfish: the BMC user (with FWUP_REDFISH_PASSWORD; or --credentials FILE); machine start --redfish: the emulated BMC\'s account'],
  ['FWUP_REDFISH_PASSWORD', 'redfish: the BMC password (never give it on the command line)'],
  ['FWUP_MACHINE_START_TIMEOUT', 'seconds machine start waits for the machine (and its BMC) to come up (default 30)'],
  ['FWUP_REBOOT_COMMAND', 'replaces systemctl reboot / reboot (tests, unusual systems)'],
];

import { EXIT, type ExitCode } from './exit-codes.js';

/**
 * Every error code fwup can report, with the exit code it maps to. Codes are stable identifiers
 * for scripts (`--json` prints them); messages and hints are for people.
 */
export const ERROR_CODES = {
  USAGE: EXIT.USAGE,
  INTERNAL: EXIT.INTERNAL,
  FAILURE: EXIT.FAILURE,
  NOTHING_TO_DO: EXIT.NOTHING_TO_DO,

  FILE_NOT_FOUND: EXIT.NOT_FOUND,
  FILE_EXISTS: EXIT.FAILURE,
  FILE_IO: EXIT.FAILURE,
  KEY_NOT_FOUND: EXIT.NOT_FOUND,
  KEY_INVALID: EXIT.USAGE,

  IMAGE_UNKNOWN_FORMAT: EXIT.INVALID_IMAGE,
  IMAGE_TRUNCATED: EXIT.INVALID_IMAGE,
  IMAGE_BAD_FIELD: EXIT.INVALID_IMAGE,
  IMAGE_TOO_LARGE: EXIT.INVALID_IMAGE,
  IMAGE_HEADER_CRC: EXIT.INTEGRITY,
  IMAGE_PAYLOAD_CRC: EXIT.INTEGRITY,
  IMAGE_SHA256: EXIT.INTEGRITY,
  IMAGE_SIGNATURE_INVALID: EXIT.SIGNATURE,
  IMAGE_SIGNATURE_UNKNOWN_KEY: EXIT.SIGNATURE,
  IMAGE_UNSIGNED: EXIT.SIGNATURE,
  CAPSULE_INVALID: EXIT.INVALID_IMAGE,

  POLICY_PLATFORM: EXIT.POLICY,
  POLICY_DOWNGRADE: EXIT.POLICY,
  POLICY_SECURITY_VERSION: EXIT.POLICY,
  POLICY_TOO_LARGE: EXIT.POLICY,
  POLICY_EMPTY: EXIT.POLICY,
  IMAGE_SIZE_MISMATCH: EXIT.POLICY,

  TARGET_BUSY: EXIT.BUSY,
  TARGET_NOT_FOUND: EXIT.NOT_FOUND,
  TARGET_INVALID: EXIT.USAGE,
  TARGET_CORRUPT: EXIT.TARGET,
  TARGET_UNSUPPORTED: EXIT.TARGET,
  NVRAM_FULL: EXIT.TARGET,
  NVRAM_CORRUPT: EXIT.TARGET,
  NOT_STAGED: EXIT.NOT_FOUND,
  TARGET_CHANGED: EXIT.TARGET,

  FLASH_VIOLATION: EXIT.INTERNAL,
  FLASH_VERIFY: EXIT.FAILURE,
  FLASH_WRITE_PROTECTED: EXIT.TARGET,
  CAPSULE_REJECTED: EXIT.FAILURE,
  POWER_CUT: EXIT.POWER_CUT,

  MACHINE_TIMEOUT: EXIT.TIMEOUT,
  MACHINE_FAILURE: EXIT.FAILURE,
  OUTCOME_FAILED: EXIT.OUTCOME,
  FIRMWARE_REJECTED: EXIT.OUTCOME,

  HELPER_FAILED: EXIT.FAILURE,
  HELPER_NOT_FOUND: EXIT.NOT_FOUND,
  PERMISSION_DENIED: EXIT.PERMISSION,

  NET_DNS: EXIT.NETWORK,
  NET_REFUSED: EXIT.NETWORK,
  NET_UNREACHABLE: EXIT.NETWORK,
  NET_TLS: EXIT.NETWORK,
  NET_HTTP_STATUS: EXIT.NETWORK,
  NET_TIMEOUT: EXIT.TIMEOUT,
  NET_TOO_LARGE: EXIT.NETWORK,
  NET_REDIRECTS: EXIT.NETWORK,
  NET_INTERRUPTED: EXIT.NETWORK,
  NET_DIGEST_MISMATCH: EXIT.INTEGRITY,
  NET_FAILED: EXIT.NETWORK,
  CACHE_BUSY: EXIT.BUSY,

  INTERRUPTED: EXIT.INTERRUPTED,
  TERMINATED: EXIT.TERMINATED,
} as const satisfies Record<string, ExitCode>;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * What to do about each kind of error, for the errors raised without a hint of their own: every error
 * a user sees comes with one. Most call sites give a more specific hint; these are the floor.
 */
export const DEFAULT_HINTS: Readonly<Record<ErrorCode, string>> = {
  USAGE: 'see fwup --help, or fwup COMMAND --help',
  INTERNAL: 'this is a bug in fwup; please report it with the command and the output of --verbose',
  FAILURE: 'see the message; --verbose shows more detail',
  NOTHING_TO_DO: 'nothing was changed',
  FILE_NOT_FOUND: 'check the path',
  FILE_EXISTS: 'pass --force to replace it',
  FILE_IO: 'check the path, its permissions and the free space of its file system',
  KEY_NOT_FOUND: 'check the path of the key; fwup keygen NAME makes a key pair',
  KEY_INVALID: 'give the public key NAME.pub made by fwup keygen NAME (or a PEM or DER certificate)',
  IMAGE_UNKNOWN_FORMAT: 'known formats: .fwup and UEFI FMP capsules; for a raw payload give --version',
  IMAGE_TRUNCATED: 'the file was cut short: fetch or copy it again',
  IMAGE_BAD_FIELD: 'the image is malformed (or made by a newer fwup): rebuild it with fwup pack',
  IMAGE_TOO_LARGE: 'this is not an update image fwup can take',
  IMAGE_HEADER_CRC: 'the header was changed or damaged after it was packed: fetch the image again',
  IMAGE_PAYLOAD_CRC: 'the payload was changed or damaged after it was packed: fetch the image again',
  IMAGE_SHA256: 'the bytes were changed or damaged: fetch the image again',
  IMAGE_SIGNATURE_INVALID: 'the image was changed after signing, or signed by another key with the same id',
  IMAGE_SIGNATURE_UNKNOWN_KEY: 'trust the signing key on the target (fwup machine init --trust KEY.pub), or check it with fwup inspect --key',
  IMAGE_UNSIGNED: 'sign it (fwup pack --sign KEY); only a development machine takes unsigned images, with --allow-unsigned',
  CAPSULE_INVALID: 'the capsule breaks one of edk2\'s structure rules (the message names it): rebuild it',
  POLICY_PLATFORM: 'use the image built for this platform',
  POLICY_DOWNGRADE: 'pass --allow-older to install an older version (the security version still applies)',
  POLICY_SECURITY_VERSION: 'the security version never goes down: use an image whose security version is at least the target\'s',
  POLICY_TOO_LARGE: 'use a target with more room (fwup machine init --flash-size), or a smaller image',
  POLICY_EMPTY: 'check that the right file was given',
  IMAGE_SIZE_MISMATCH: 'use the image made for this chip or region',
  TARGET_BUSY: 'wait for the other command to finish, or set FWUP_LOCK_TIMEOUT (seconds) to wait longer',
  TARGET_NOT_FOUND: 'check --target; fwup targets lists what this host has',
  TARGET_INVALID: 'use emu:DIR, flashrom:PROGRAMMER[:PARAMS] or uefi',
  TARGET_CORRUPT: 'fwup status shows what is damaged, fwup machine boot repairs what it can; else re-create the machine with fwup machine init --force',
  TARGET_UNSUPPORTED: 'this target cannot do that: see docs/targets.md',
  NVRAM_FULL: 'fwup unstage frees the update request; else re-create the machine',
  NVRAM_CORRUPT: 'fwup machine boot rebuilds NVRAM around its intact records',
  NOT_STAGED: 'stage an image first: fwup stage IMAGE',
  TARGET_CHANGED: 'stage the image again',
  FLASH_VIOLATION: 'this is a bug in fwup; please report it',
  FLASH_VERIFY: 'the flash did not keep what was written and nothing uses it: try again, or check the device',
  FLASH_WRITE_PROTECTED: 'nothing was changed: firmware state is written by the firmware alone, and a protected chip must be unprotected first',
  CAPSULE_REJECTED: 'the kernel or the firmware refused the capsule (the message says why)',
  POWER_CUT: 'the next command on this machine (or fwup machine boot) runs the recovery boot',
  MACHINE_TIMEOUT: 'nothing was changed: retry, or raise --timeout',
  MACHINE_FAILURE: 'see machine.log in the machine directory',
  OUTCOME_FAILED: 'the previous firmware was restored: see the report',
  FIRMWARE_REJECTED: 'fwup status shows the status the firmware recorded; stage the image again',
  HELPER_FAILED: 'the helper\'s own message is above; --verbose shows more',
  HELPER_NOT_FOUND: 'install the helper the message names',
  PERMISSION_DENIED: 'run fwup as root, or pass --sudo',
  NET_DNS: 'check the host name and this machine\'s DNS',
  NET_REFUSED: 'check the URL\'s host and port, and that the server runs',
  NET_UNREACHABLE: 'check the network route to the server',
  NET_TLS: 'check the server\'s certificate (NODE_EXTRA_CA_CERTS adds a CA)',
  NET_HTTP_STATUS: 'check the URL; the server answered with an error',
  NET_TIMEOUT: 'the server is slow or stalled: retry (an interrupted download resumes), or raise --timeout/--idle-timeout',
  NET_TOO_LARGE: 'raise --max-size if the file is really that large',
  NET_REDIRECTS: 'check the URL; the server redirects in a loop or too often',
  NET_INTERRUPTED: 'run the command again: the download resumes where it stopped',
  NET_DIGEST_MISMATCH: 'the server sent a different file than the one pinned with --sha256 (fileSha256)',
  NET_FAILED: 'check the URL',
  CACHE_BUSY: 'another fwup is downloading the same URL: wait for it',
  INTERRUPTED: 'run the command again; fwup status shows the target\'s state',
  TERMINATED: 'run the command again; fwup status shows the target\'s state',
};

export function exitCodeFor(code: ErrorCode): ExitCode {
  return ERROR_CODES[code];
}

// The one place where error codes become process exit codes. docs/exit-codes.md and `fwup --help`
// are generated from / checked against this table (test/exit-codes.test.ts).

export const EXIT = {
  OK: 0,
  FAILURE: 1,
  NOTHING_TO_DO: 2,
  NOT_FOUND: 3,
  USAGE: 4,
  INVALID_IMAGE: 5,
  INTEGRITY: 6,
  SIGNATURE: 7,
  POLICY: 8,
  BUSY: 9,
  TARGET: 10,
  POWER_CUT: 11,
  NETWORK: 12,
  TIMEOUT: 13,
  PERMISSION: 14,
  OUTCOME: 15,
  INTERNAL: 70,
  INTERRUPTED: 130,
  TERMINATED: 143,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** What each exit code means, for operators and scripts (rendered into --help and docs). */
export const EXIT_MEANINGS: ReadonlyArray<readonly [ExitCode, string, string]> = [
  [EXIT.OK, 'ok', 'the command did what was asked'],
  [EXIT.FAILURE, 'failure', 'the operation failed (a helper or the target reported an error)'],
  [EXIT.NOTHING_TO_DO, 'nothing to do', 'the target is already in the requested state'],
  [EXIT.NOT_FOUND, 'not found', 'a file, key, machine or staged update does not exist'],
  [EXIT.USAGE, 'usage', 'bad command line: unknown option, missing or malformed argument'],
  [EXIT.INVALID_IMAGE, 'invalid image', 'the image is malformed: unknown format, bad magic, truncated, bad field'],
  [EXIT.INTEGRITY, 'integrity', 'a CRC-32 or SHA-256 does not match: the bytes were changed or damaged'],
  [EXIT.SIGNATURE, 'signature', 'the signature is invalid, from an unknown key, or missing where required'],
  [EXIT.POLICY, 'policy', 'refused by policy: downgrade, security version, wrong platform'],
  [EXIT.BUSY, 'busy', 'another fwup holds the target lock, or the target is running an update'],
  [EXIT.TARGET, 'target', 'the target is unusable: corrupt or missing state, wrong flash size, full NVRAM'],
  [EXIT.POWER_CUT, 'power cut', 'an injected power cut (FWUP_FAULT) stopped the command; the next command recovers'],
  [EXIT.NETWORK, 'network', 'a download or a BMC connection failed: DNS, refused, TLS, HTTP status, too large, interrupted'],
  [EXIT.TIMEOUT, 'timeout', 'an operation did not finish in time (download, CPU rendezvous, lock, a BMC\'s task)'],
  [EXIT.PERMISSION, 'permission', 'root (or write access) is needed and not held; a BMC refused the account; a credentials file is readable by others'],
  [EXIT.OUTCOME, 'outcome', 'the update ran but its outcome check failed; the previous firmware was restored'],
  [EXIT.INTERNAL, 'internal error', 'a bug in fwup: please report it with the output of --verbose'],
  [EXIT.INTERRUPTED, 'interrupted', 'stopped by Ctrl-C (SIGINT): the message says what was interrupted and what state the target is in'],
  [EXIT.TERMINATED, 'terminated', 'stopped by SIGTERM: the message says what was interrupted and what state the target is in'],
];

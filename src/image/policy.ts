import { FwupError } from '../errors/fwup-error.js';
import { reportError, type ImageReport } from './report.js';
import { installedBytes } from './format.js';
import { formatByName } from './registry.js';
import { formatBytes } from '../util/units.js';

/** What a target knows about itself that decides whether an image may be installed. */
export interface PolicyFacts {
  platform: string | null;
  activeVersionNumber: number | null;
  /** The installed firmware's lowest supported version: images below it are refused. */
  lowestSupportedVersion: number;
  securityVersion: number;
  /** The target has trusted keys: .fwup images must carry a valid signature by one of them. */
  hasTrustedKeys: boolean;
  /** The target has trusted certificates: capsules must carry a valid PKCS#7 signature chaining to one. */
  hasTrustedCerts?: boolean;
  /** The target firmware's FMP image type GUID: a capsule's payload must name it (capsules name no platform). */
  imageTypeId?: string | null;
  /** A development machine may take unsigned images when the user passes --allow-unsigned. */
  development: boolean;
  /** What to say about --allow-unsigned on this target (default: the emulated development machine's words). */
  unsignedHint?: string;
  /** Bytes the image itself may have (STAGING), and bytes a firmware slot holds once it is installed. */
  capacity: { image: number; slot: number };
}

export interface PolicyOptions {
  allowOlder: boolean;
  allowUnsigned: boolean;
  allowReinstall: boolean;
}

/**
 * Every rule an image must pass before anything is written, in order: integrity, size, platform,
 * signature, security version (never relaxed), version (relaxed by --allow-older), same version.
 * The same function runs in `stage` and in the emulated firmware.
 */
export function checkPolicy(r: ImageReport, facts: PolicyFacts, opts: PolicyOptions, what = 'image'): FwupError | null {
  const integrity = reportError(r, what, 'target');
  if (integrity) return integrity;
  if (r.payloadSize === 0) {
    return new FwupError('POLICY_EMPTY', `${what} has an empty payload: there is nothing to install`, {
      hint: 'check that the right file was given (an empty or truncated payload)',
    });
  }
  if (r.totalSize > facts.capacity.image) {
    return new FwupError('POLICY_TOO_LARGE', `${what} is ${r.totalSize} bytes (${formatBytes(r.totalSize)}); the target takes images of at most ${facts.capacity.image} bytes`, {
      hint: 'use a machine with a larger flash (fwup machine init --flash-size)',
    });
  }
  const slot = installedBytes(formatByName(r.format), r, facts.platform ?? '');
  if (slot > facts.capacity.slot) {
    return new FwupError('POLICY_TOO_LARGE', `${what} needs ${slot} bytes in a firmware slot (its header included); a slot holds ${facts.capacity.slot}`, {
      hint: 'use a machine with a larger flash (fwup machine init --flash-size), or a smaller payload',
    });
  }
  const capsule = r.format === 'capsule';
  // A capsule's "platform" is its payload's image type GUID, compared with the firmware's own.
  // A target that states no image type (undefined) matches capsules by its platform id, as the uefi
  // target does with the ESRT; one that states null takes no capsules.
  const ours = capsule && facts.imageTypeId !== undefined ? facts.imageTypeId : facts.platform;
  if (capsule && facts.imageTypeId === null) {
    return new FwupError('POLICY_PLATFORM', `${what} is a UEFI capsule; this target takes no capsules`, { hint: 'use a .fwup image' });
  }
  if (r.platform !== null && ours !== null && r.platform.toUpperCase() !== ours.toUpperCase()) {
    return new FwupError('POLICY_PLATFORM', `${what} is for ${capsule ? 'image type' : 'platform'} ${JSON.stringify(r.platform)}, the target is ${JSON.stringify(ours)}`, {
      hint: 'use the image built for this platform',
    });
  }
  const trusted = capsule ? Boolean(facts.hasTrustedCerts) : facts.hasTrustedKeys;
  const sig = r.signature.status;
  if (sig === 'unsigned') {
    if (!(opts.allowUnsigned && facts.development)) {
      return new FwupError('IMAGE_UNSIGNED', `${what} is not signed`, {
        hint: facts.development
          ? (facts.unsignedHint ?? 'pass --allow-unsigned to install an unsigned image on this development machine')
          : 'sign it (fwup pack --sign KEY); only a development machine takes unsigned images, with --allow-unsigned',
      });
    }
  } else if (trusted && sig !== 'valid') {
    return new FwupError('IMAGE_SIGNATURE_UNKNOWN_KEY', `${what} is signed by ${capsule ? 'a certificate' : `key ${r.signature.keyId}`}, which this target does not trust`, {
      hint: capsule ? 'the target trusts the certificates given to fwup machine init --trust-cert' : 'sign with a key the target trusts (fwup machine init --trust KEY.pub)',
    });
  }
  if (r.securityVersion < facts.securityVersion) {
    return new FwupError('POLICY_SECURITY_VERSION', `${what} has security version ${r.securityVersion}, the target requires at least ${facts.securityVersion}`, {
      hint: 'the security version never goes down: this image has known vulnerabilities fixed in the installed firmware',
    });
  }
  if (!opts.allowOlder) {
    if (r.versionNumber < facts.lowestSupportedVersion) {
      return new FwupError('POLICY_DOWNGRADE', `${what} version ${r.version} is below the lowest supported version ${hex(facts.lowestSupportedVersion)}`, {
        hint: 'pass --allow-older to install it anyway (the security version still applies)',
      });
    }
    if (facts.activeVersionNumber !== null && r.versionNumber < facts.activeVersionNumber) {
      return new FwupError('POLICY_DOWNGRADE', `${what} version ${r.version} is older than the installed ${hex(facts.activeVersionNumber)}`, {
        hint: 'pass --allow-older to downgrade (the security version still applies)',
      });
    }
  }
  if (!opts.allowReinstall && facts.activeVersionNumber !== null && r.versionNumber === facts.activeVersionNumber) {
    return new FwupError('NOTHING_TO_DO', `version ${r.version} is already installed`, { hint: 'pass --allow-reinstall to install it again' });
  }
  return null;
}

function hex(n: number): string {
  return `0x${n.toString(16).toUpperCase().padStart(8, '0')}`;
}

import type { Context } from '../core/context.js';
import type { GlobalOptions, Outcome } from './outcome.js';
import { HW_OPTIONS, REDFISH_OPTIONS } from './target-options.js';

/** A command's action, loaded only when that command runs (keeps `fwup --version` fast). */
export interface CommandModule {
  [action: string]: (ctx: Context, args: string[], opts: Record<string, unknown>, global: GlobalOptions) => Promise<Outcome>;
  run(ctx: Context, args: string[], opts: Record<string, unknown>, global: GlobalOptions): Promise<Outcome>;
}

export interface OptionSpec {
  flags: string;
  description: string;
  default?: string | boolean;
  /** Can be given several times; the values arrive as an array. */
  repeatable?: boolean;
}

export interface CommandSpec {
  /** "inspect", or "machine init" for a subcommand of a group. */
  name: string;
  args: string;
  summary: string;
  options: OptionSpec[];
  examples: string[];
  load: () => Promise<CommandModule>;
  /** The module's export to call (default `run`), so related commands can share one module. */
  action?: string;
}

/** Options every command takes (declared on the program and on each command, so either position works). */
export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  { flags: '--json', description: 'machine-readable output on stdout (errors too)' },
  { flags: '-q, --quiet', description: 'print only errors' },
  { flags: '-v, --verbose', description: 'print more detail (and stack traces of internal errors)' },
  { flags: '--no-color', description: 'no colours (also: NO_COLOR)' },
  { flags: '--target <spec>', description: 'the machine to act on: emu:DIR, flashrom:PROGRAMMER[:PARAMS], uefi, redfish:https://BMC[:PORT][/redfish/v1/Systems/ID] (default: FWUP_TARGET)' },
  { flags: '--sysroot <dir>', description: 'look up /sys, /dev, /proc and the ESP under DIR (default /; for fixture trees)' },
];

/** The emulated machine's Redfish BMC (machine start and run). */
const BMC_OPTIONS: OptionSpec[] = [
  { flags: '--redfish <host:port>', description: 'serve a Redfish BMC for the machine there (port 0: any free port); credentials from FWUP_REDFISH_USER/FWUP_REDFISH_PASSWORD, else generated and shown once' },
  { flags: '--tls', description: 'with --redfish: HTTPS with a self-signed certificate made at start (written to redfish-tls.crt in the machine directory)' },
  { flags: '--allow-unsigned', description: 'with --redfish: take unsigned images (development machines only, as stage --allow-unsigned)' },
];

export const COMMANDS: CommandSpec[] = [
  {
    name: 'keygen',
    args: '<name>',
    summary: 'make an Ed25519 signing key pair: NAME.key (private, mode 0600) and NAME.pub',
    options: [{ flags: '--force', description: 'overwrite an existing key pair' }],
    examples: ['fwup keygen release'],
    load: () => import('./commands/keygen.js'),
  },
  {
    name: 'pack',
    args: '[payload]',
    summary: 'pack a firmware payload into a .fwup update image, a UEFI FMP capsule (--format capsule), or an image into an LVFS cabinet (--format cab)',
    options: [
      { flags: '-o, --output <file>', description: 'the image to write (required)' },
      { flags: '--format <format>', description: 'fwup (the native image), capsule (UEFI FMP capsule, as edk2 GenerateCapsule makes) or cab (an LVFS cabinet around an image, as fwupdtool build-cabinet makes)', default: 'fwup' },
      { flags: '--version <version>', description: 'firmware version: N, 0xN, A.B.C or A.B.C.D (required; a capsule\'s FwVersion)' },
      { flags: '--platform <id>', description: '.fwup: platform id the image is for', default: 'fwup-emu' },
      { flags: '--lsv <version>', description: 'lowest supported version this image may replace', default: '0' },
      { flags: '--svn <n>', description: '.fwup: security version (anti-rollback counter)', default: '0' },
      { flags: '--sign <key>', description: '.fwup: sign with this private key (NAME.key)' },
      { flags: '--description <text>', description: '.fwup: a description stored in the image' },
      { flags: '--cold-only', description: '.fwup: mark the image as needing a full (cold) reset to apply' },
      { flags: '--guid <guid>', description: 'capsule: UpdateImageTypeId of the payload (required)' },
      { flags: '--capflag <flag>', description: 'capsule: PersistAcrossReset or InitiateReset (repeatable, or comma-separated)', repeatable: true },
      { flags: '--capoemflag <n>', description: 'capsule: OEM flags, the low 16 bits of Flags', default: '0' },
      { flags: '--update-image-index <n>', description: 'capsule: UpdateImageIndex, 1-based', default: '1' },
      { flags: '--hardware-instance <n>', description: 'capsule: UpdateHardwareInstance (64-bit; 0 = every instance)', default: '0' },
      { flags: '--monotonic-count <n>', description: 'capsule: MonotonicCount signed with the payload (64-bit)', default: '0' },
      { flags: '--embedded-driver <file>', description: 'capsule: an embedded driver placed before the payloads (repeatable)', repeatable: true },
      { flags: '--signer-cert <pem>', description: 'capsule, cab: sign with this certificate (a cab: its jcat); its file may also hold the key (like edk2 TestCert.pem)' },
      { flags: '--signer-key <pem>', description: 'capsule, cab: the signer\'s private key, when not in --signer-cert' },
      { flags: '--other-cert <pem>', description: 'capsule, cab: a certificate to carry in the signature, e.g. the intermediate CA (repeatable)', repeatable: true },
      { flags: '--trusted-cert <pem>', description: 'capsule: check that the new signature verifies against this CA certificate' },
      { flags: '--json-config <file>', description: 'capsule: payloads described by a GenerateCapsule -j JSON file instead of PAYLOAD and the payload options' },
      { flags: '--metainfo <file>', description: 'cab: the firmware.metainfo.xml to carry (default: one made from --id, --name, --guid and the payload)' },
      { flags: '--id <id>', description: 'cab: the component id, e.g. com.example.laptop.firmware' },
      { flags: '--name <name>', description: 'cab: the component name (default: the id)' },
      { flags: '--version-format <format>', description: 'cab: LVFS::VersionFormat: plain, number, hex, pair, triplet, quad or bcd (default for a capsule: number)' },
      { flags: '--compress', description: 'cab: MSZIP-compress the cabinet (as gcab -c -z)' },
      { flags: '--force', description: 'replace OUT if it exists (without it, pack never overwrites a file)' },
    ],
    examples: [
      'fwup pack firmware.bin -o firmware.fwup --version 1.2.0 --sign release.key',
      'fwup pack firmware.bin -o firmware.fwup --version 7 --lsv 5 --svn 2 --description "fixes boot hang"',
      'fwup pack firmware.bin -o firmware.cap --format capsule --guid 6A1A7B26-53D9-4C6C-9E76-3E2C8C1F0F4A --version 0x20A --lsv 0x200 --capflag PersistAcrossReset',
      'fwup pack firmware.bin -o signed.cap --format capsule --guid 6A1A7B26-53D9-4C6C-9E76-3E2C8C1F0F4A --version 0x20A --lsv 0x200 --monotonic-count 7 --signer-cert TestCert.pem --other-cert TestSub.pub.pem --trusted-cert TestRoot.pub.pem',
      'fwup pack -o multi.cap --format capsule --json-config payloads.json',
      'fwup pack firmware.cap -o firmware.cab --format cab --id com.example.laptop.firmware --signer-cert vendor.pem --signer-key vendor.key',
    ],
    load: () => import('./commands/pack.js'),
  },
  {
    name: 'inspect',
    args: '<image>',
    summary: 'show every header field of an image (.fwup, UEFI capsule or LVFS cabinet) and verify its CRC-32, SHA-256 and signature',
    options: [
      { flags: '--key <pub>', description: 'public key to verify a .fwup signature with (repeatable)', repeatable: true },
      { flags: '--cert <pem>', description: 'trusted X.509 certificate (PEM or DER) for capsule PKCS#7 signatures (repeatable)', repeatable: true },
      { flags: '--version <version>', description: 'treat a file without a known header as a raw payload of this version' },
    ],
    examples: [
      'fwup inspect firmware.fwup --key release.pub',
      'fwup inspect firmware.fwup --json',
      'fwup inspect firmware.cap --cert TestRoot.pub.pem',
      'fwup inspect firmware.cab --json',
    ],
    load: () => import('./commands/inspect.js'),
  },
  {
    name: 'machine init',
    args: '[dir]',
    summary: 'create an emulated machine: machine.json and flash.img with factory firmware 1 in slot A',
    options: [
      { flags: '--cpus <n>', description: 'emulated CPUs, 1 to 64', default: '4' },
      { flags: '--flash-size <size>', description: 'flash size, e.g. 128M (the default: slots of 32 MiB)', default: '128M' },
      { flags: '--trust <pub>', description: 'trust this public key for signed images (repeatable)', repeatable: true },
      { flags: '--trust-cert <pem>', description: 'trust this X.509 certificate for signed UEFI capsules (repeatable)', repeatable: true },
      { flags: '--image-type-guid <guid>', description: 'the firmware\'s FMP image type GUID that capsules must name' },
      { flags: '--flash-timing <chip|file.json>', description: 'model a real chip\'s datasheet timing (W25Q128JV, or a JSON file): apply reports the downtime on it' },
      { flags: '--platform <id>', description: 'platform id images must name', default: 'fwup-emu' },
      { flags: '--development', description: 'allow unsigned images (with --allow-unsigned) even with trusted keys' },
      { flags: '--install <strategy>', description: 'how updates are installed: in-place (stage writes the inactive slot; the default) or copy (stage writes STAGING, the firmware copies it)' },
      { flags: '--force', description: 'replace an existing machine (its flash is lost)' },
    ],
    examples: ['fwup machine init', 'fwup machine init lab/m1 --cpus 16 --flash-size 128M --trust release.pub'],
    load: () => import('./commands/machine-init.js'),
  },
  {
    name: 'stage',
    args: '<image>',
    summary: 'validate an update image (a file or an http(s) URL) and store it with an update request on the target',
    options: [
      { flags: '--allow-older', description: 'allow a version older than the installed one or below its lowest supported version' },
      { flags: '--allow-unsigned', description: 'allow an unsigned image (development machines only)' },
      { flags: '--allow-reinstall', description: 'allow the version that is already installed' },
      { flags: '--version <version>', description: 'stage a raw payload (no header) as this version' },
      { flags: '--sha256 <hex>', description: 'for a URL: the SHA-256 the downloaded file must have' },
      { flags: '--timeout <seconds>', description: 'for a URL: longest wait for response headers', default: '30' },
      { flags: '--idle-timeout <seconds>', description: 'for a URL: longest wait for the next byte', default: '30' },
      { flags: '--max-size <size>', description: 'for a URL: refuse a larger download', default: '1G' },
      { flags: '--max-redirects <n>', description: 'for a URL: follow at most this many redirects', default: '5' },
      { flags: '--allow-http-redirect', description: 'for a URL: follow a redirect from https to http' },
      HW_OPTIONS.dryRun,
      HW_OPTIONS.sudo,
      HW_OPTIONS.region,
      HW_OPTIONS.layout,
      HW_OPTIONS.ifd,
      HW_OPTIONS.delivery,
      HW_OPTIONS.esp,
      HW_OPTIONS.ignorePower,
      ...REDFISH_OPTIONS,
      HW_OPTIONS.serveAddress,
      HW_OPTIONS.pushMethod,
      HW_OPTIONS.applyTime,
      HW_OPTIONS.taskTimeout,
    ],
    examples: [
      'fwup stage firmware.fwup',
      'fwup stage firmware.fwup --target emu:lab/m1 --json',
      'fwup stage https://fw.example.com/fw-2.1.0.fwup --sha256 8103feafac2ac65dc4711a109224340b173afca7ccfeafae11f337fc94be89af',
      'fwup stage firmware.fwup --dry-run',
      'fwup stage chip.bin --target flashrom:internal --allow-unsigned --sudo',
      'fwup stage bios.bin --target flashrom:internal --region bios --ifd --allow-unsigned',
      'fwup stage firmware.cap --target uefi --capsule-delivery disk',
      'fwup stage bios.fwup --target redfish:https://10.0.0.5 --ca bmc-ca.pem',
    ],
    load: () => import('./commands/stage.js'),
  },
  {
    name: 'status',
    args: '',
    summary: 'show the target: active firmware, staged update, last attempt, security version, NVRAM use (uefi: the ESRT and the outcome after a reboot)',
    options: [HW_OPTIONS.esp, ...REDFISH_OPTIONS],
    examples: ['fwup status', 'fwup status --json', 'fwup status --target uefi', 'fwup status --target redfish:https://10.0.0.5 --ca bmc-ca.pem'],
    load: () => import('./commands/status.js'),
  },
  {
    name: 'unstage',
    args: '',
    summary: 'remove the staged update request (uefi: every capsule, or one with --component GUID, and undo a delivery a crash cut short)',
    options: [HW_OPTIONS.sudo, { flags: '--dry-run', description: 'list what would be removed, change nothing' }, ...REDFISH_OPTIONS],
    examples: ['fwup unstage', 'fwup unstage --target uefi --component 6DCBD5ED-E82D-4C44-BDA1-7194199AD92A'],
    load: () => import('./commands/unstage.js'),
  },
  {
    name: 'apply',
    args: '',
    summary: 'apply the staged update: IPI rendezvous, state save, processor-only reset, firmware update, restore, outcome check',
    options: [
      { flags: '--warm', description: 'processor-only reset: every CPU keeps its state (the default)' },
      { flags: '--cold', description: 'full reset (the baseline): RAM is lost and the OS restarts' },
      { flags: '--timeout <seconds>', description: 'how long CPUs may take to acknowledge and restart (default 5; redfish: how long the BMC\'s task and the host\'s reset may take, default 900)' },
      { flags: '--no-confirm', description: 'leave the new firmware on trial (the next reset reverts it)' },
      { flags: '--no-reboot', description: 'flashrom, uefi: install or hand over the update but do not reboot the host after --warm/--cold' },
      HW_OPTIONS.dryRun,
      HW_OPTIONS.sudo,
      ...REDFISH_OPTIONS,
    ],
    examples: [
      'fwup apply --warm',
      'fwup apply --cold --json',
      'fwup apply --warm --target emu:lab/m1 --timeout 2',
      'fwup apply --target flashrom:internal --sudo',
      'fwup apply --warm --target uefi',
      'fwup apply --warm --target uefi --dry-run',
      'fwup apply --cold --target redfish:https://10.0.0.5 --ca bmc-ca.pem --timeout 1200',
    ],
    load: () => import('./commands/apply.js'),
  },
  {
    name: 'rollback',
    args: '',
    summary: 'go back to the previous firmware slot by the same warm path (refused if the security version forbids)',
    options: [
      { flags: '--timeout <seconds>', description: 'how long CPUs may take to acknowledge and restart', default: '5' },
      { flags: '--no-confirm', description: 'leave it on trial' },
      HW_OPTIONS.dryRun,
      HW_OPTIONS.sudo,
    ],
    examples: ['fwup rollback', 'fwup rollback --target flashrom:internal --sudo'],
    load: () => import('./commands/rollback.js'),
  },
  {
    name: 'history',
    args: '',
    summary: 'the target\'s update history (newest last; redfish: fwup\'s records and the BMC\'s task list)',
    options: [...REDFISH_OPTIONS],
    examples: ['fwup history', 'fwup history --json'],
    load: () => import('./commands/history.js'),
  },
  {
    name: 'targets',
    args: '',
    summary: 'list what fwup can update here: emulated machines, flashrom (installed? version), UEFI ESRT entries',
    options: [],
    examples: ['fwup targets', 'fwup targets --json', 'fwup targets --sysroot tests/fixture-root'],
    load: () => import('./commands/targets.js'),
  },
  {
    name: 'machine boot',
    args: '',
    summary: 'cold-boot the emulated machine\'s firmware now (the recovery boot after a power cut)',
    options: [],
    examples: ['fwup machine boot'],
    load: () => import('./commands/machine-boot.js'),
  },
  {
    name: 'fetch',
    args: '<url>',
    summary: 'download an image (http or https) through the cache, verify it, and write it to a file',
    options: [
      { flags: '-o, --output <file>', description: 'the file to write (required); replaced atomically, untouched on failure' },
      { flags: '--sha256 <hex>', description: 'the SHA-256 the whole file must have; a cached copy with it is reused without a request' },
      { flags: '--key <pub>', description: 'public key to verify the signature with (repeatable)', repeatable: true },
      { flags: '--version <version>', description: 'accept a file without a known header as a raw payload of this version' },
      { flags: '--timeout <seconds>', description: 'longest wait for the response headers of each request', default: '30' },
      { flags: '--idle-timeout <seconds>', description: 'longest wait for the next byte of the body', default: '30' },
      { flags: '--max-size <size>', description: 'refuse a larger file (e.g. 64M, 2G)', default: '1G' },
      { flags: '--max-redirects <n>', description: 'follow at most this many redirects', default: '5' },
      { flags: '--allow-http-redirect', description: 'follow a redirect from https to plain http (refused by default)' },
    ],
    examples: [
      'fwup fetch https://example.com/fw-2.1.0.fwup -o fw.fwup --key release.pub',
      'fwup fetch https://example.com/fw-2.1.0.fwup -o fw.fwup --sha256 8103feafac2ac65dc4711a109224340b173afca7ccfeafae11f337fc94be89af --json',
      'fwup fetch http://10.0.0.5/payload.bin -o payload.bin --version 7 --idle-timeout 120',
    ],
    load: () => import('./commands/fetch.js'),
  },
  {
    name: 'machine start',
    args: '',
    summary: 'run the emulated machine in the background (pid file, control socket and log in its directory), optionally with a Redfish BMC',
    options: BMC_OPTIONS,
    examples: ['fwup machine start', 'fwup machine start --target emu:lab/m1', 'fwup machine start --redfish 127.0.0.1:8443 --tls'],
    load: () => import('./commands/machine-service.js'),
    action: 'start',
  },
  {
    name: 'machine run',
    args: '',
    summary: 'run the emulated machine in the foreground until it is stopped (what machine start launches)',
    options: BMC_OPTIONS,
    examples: ['fwup machine run'],
    load: () => import('./commands/machine-service.js'),
    action: 'run',
  },
  {
    name: 'machine status',
    args: '',
    summary: 'a running machine: uptime, per-CPU step counters, firmware version',
    options: [],
    examples: ['fwup machine status --json'],
    load: () => import('./commands/machine-service.js'),
    action: 'status',
  },
  {
    name: 'machine stop',
    args: '',
    summary: 'stop the running machine',
    options: [],
    examples: ['fwup machine stop'],
    load: () => import('./commands/machine-service.js'),
    action: 'stop',
  },
  {
    name: 'completion',
    args: '<shell>',
    summary: 'print a shell completion script for bash, zsh or fish (generated from this command table)',
    options: [],
    examples: ['fwup completion bash > /etc/bash_completion.d/fwup', 'fwup completion zsh > "${fpath[1]}/_fwup"', 'fwup completion fish > ~/.config/fish/completions/fwup.fish'],
    load: () => import('./commands/completion.js'),
  },
];

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) fwup developers
# MIT License (see LICENSE or https://opensource.org/licenses/MIT)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: fwup_update
short_description: Stage and apply a firmware image with fwup, and check the outcome
version_added: "0.1.0"
description:
  - Verifies the image (C(fwup inspect)), reads what runs (C(fwup status)), and when the target does not
    already run the image's version (active and confirmed), stages it (C(fwup stage)) and applies it
    (C(fwup apply --warm) or C(--cold)), whose outcome check must pass.
  - Idempotent, with C(changed=false) and nothing run when the version is already active and confirmed.
  - In check mode fwup's C(--dry-run) validates the image against the target and reports what would be
    sent or written; nothing changes.
  - For a BMC (C(redfish:) target) run it on the controller (C(delegate_to) C(localhost)); the account is
    passed to fwup in its environment and is never part of the results.
options:
  image:
    description: The update image (C(.fwup), a UEFI capsule, or what the target takes) on the host that runs fwup.
    type: path
    required: true
  sha256:
    description: The SHA-256 the image file must have (fwup's C(fileSha256)); checked before anything else.
    type: str
  target:
    description: fwup's C(--target); default the host's default machine.
    type: str
  mode:
    description: C(warm) (the method without a reboot) or C(cold) (a full reset).
    type: str
    choices: [warm, cold]
    default: warm
  allow_older:
    description: Allow a version older than the installed one (the security version still applies).
    type: bool
    default: false
  allow_unsigned:
    description: Allow an unsigned image (development machines only).
    type: bool
    default: false
  timeout:
    description: Seconds the apply may take (fwup's C(--timeout); default fwup's, 5 s for CPUs, 900 s for a BMC).
    type: int
  confirm:
    description: Confirm the new firmware after a good outcome; false leaves it on trial.
    type: bool
    default: true
  fwup_path:
    description: The fwup command, or a path to it.
    type: str
    default: fwup
  redfish_user:
    description: The BMC user for a C(redfish:) target.
    type: str
  redfish_password:
    description: The BMC password for a C(redfish:) target (never logged).
    type: str
  credentials_file:
    description: A mode 0600 file with the BMC account (C(--credentials)).
    type: path
  ca:
    description: The CA certificate the BMC's TLS certificate must chain to (C(--ca)).
    type: path
  insecure:
    description: Do not verify the BMC's certificate.
    type: bool
    default: false
  allow_http:
    description: Allow a plain http BMC.
    type: bool
    default: false
  component:
    description: The BMC firmware inventory item to update.
    type: str
author:
  - fwup developers (!UNKNOWN)
'''

EXAMPLES = r'''
- name: Update the firmware without a reboot
  fwup.fleet.fwup_update:
    image: /srv/firmware/fw-2.1.0.fwup
    sha256: 8103feafac2ac65dc4711a109224340b173afca7ccfeafae11f337fc94be89af
    mode: warm

- name: Update a server through its BMC
  fwup.fleet.fwup_update:
    image: /srv/firmware/bios-2.1.0.fwup
    target: "redfish:https://{{ bmc_address }}"
    ca: /etc/pki/bmc-ca.pem
    mode: cold
    redfish_user: "{{ vault_bmc_user }}"
    redfish_password: "{{ vault_bmc_password }}"
  delegate_to: localhost
'''

RETURN = r'''
verdict:
  description: C(updated), C(unchanged) (already active and confirmed), C(would update) (check mode), or C(failed).
  returned: always
  type: str
version_before:
  description: The version that ran before.
  returned: always
  type: str
version_after:
  description: The version that runs now (the image's after an update).
  returned: always
  type: str
image:
  description: The image as fwup read it (C(version), C(fileSha256), C(payloadSha256), C(format)).
  returned: always
  type: dict
downtime_ms:
  description: The downtime the apply caused (the warm apply's measured downtime; for a BMC the whole apply).
  returned: when an apply ran
  type: float
checks:
  description: fwup's outcome checks (C(name), C(ok), C(detail)).
  returned: when an apply ran
  type: list
  elements: dict
report:
  description: fwup's whole apply report.
  returned: when an apply ran
  type: dict
plan:
  description: In check mode, every write or request fwup would perform.
  returned: check mode
  type: list
  elements: dict
error:
  description: fwup's error (C(code), C(message), C(hint), C(exitCode)) and the step that failed.
  returned: failure
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fwup.fleet.plugins.module_utils.fwup_cli import (
    TARGET_ARGS, FwupFailure, active_version, downtime_ms, run_fwup, target_options)


def main():
    spec = dict(TARGET_ARGS)
    spec.update(
        image=dict(type='path', required=True),
        sha256=dict(type='str'),
        mode=dict(type='str', choices=['warm', 'cold'], default='warm'),
        allow_older=dict(type='bool', default=False),
        allow_unsigned=dict(type='bool', default=False),
        timeout=dict(type='int'),
        confirm=dict(type='bool', default=True),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    result = dict(changed=False, verdict='failed', version_before=None, version_after=None, image=None)
    if p['timeout'] is not None and p['timeout'] <= 0:
        module.fail_json(msg='timeout must be a positive number of seconds, not %d' % p['timeout'], **result)
    if p['sha256'] is not None and not (len(p['sha256']) == 64 and all(c in '0123456789abcdefABCDEF' for c in p['sha256'])):
        module.fail_json(msg='sha256 must be 64 hexadecimal digits (the image file\'s SHA-256)', **result)
    targets = target_options(p)
    step = 'inspect'
    try:
        image = run_fwup(module, p, 'inspect', ['inspect', p['image']])
        result['image'] = dict((k, image.get(k)) for k in ('version', 'versionNumber', 'fileSha256', 'payloadSha256', 'format'))
        if p['sha256'] and image.get('fileSha256') != p['sha256'].lower():
            module.fail_json(msg='%s has SHA-256 %s, not the pinned %s: nothing was changed' % (p['image'], image.get('fileSha256'), p['sha256'].lower()),
                             error=dict(code='SHA256_MISMATCH', step='inspect', message='the image is not the one pinned',
                                        hint='check the file and the sha256 you pinned'), **result)
        step = 'status'
        status = run_fwup(module, p, 'status', ['status'] + targets)
        before, trial = active_version(status)
        result['version_before'] = before
        result['version_after'] = before
        if before is not None and before == image.get('version') and not trial:
            result['verdict'] = 'unchanged'
            module.exit_json(msg='%s already runs %s (confirmed): nothing to do' % (status.get('target'), before), **result)
        stage_args = ['stage', p['image']] + targets
        if p['allow_older']:
            stage_args.append('--allow-older')
        if p['allow_unsigned']:
            stage_args.append('--allow-unsigned')
        if before is not None and before == image.get('version'):
            stage_args.append('--allow-reinstall')  # on trial: install it again and confirm it
        if module.check_mode:
            step = 'stage'
            planned = run_fwup(module, p, 'stage', stage_args + ['--dry-run'])
            result.update(changed=True, verdict='would update', version_after=image.get('version'), plan=planned.get('plan', []))
            module.exit_json(msg='would update %s from %s to %s' % (status.get('target'), before, image.get('version')), **result)
        step = 'stage'
        staged = run_fwup(module, p, 'stage', stage_args)
        result['changed'] = True
        result['staged'] = staged.get('staged')
        step = 'apply'
        apply_args = ['apply', '--%s' % p['mode']] + targets
        if p['timeout'] is not None:
            apply_args += ['--timeout', str(p['timeout'])]
        if not p['confirm']:
            apply_args.append('--no-confirm')
        # Hardware targets reboot the host after --warm/--cold: the fleet's own step decides that.
        if status.get('kind') in ('flashrom', 'uefi'):
            apply_args.append('--no-reboot')
        applied = run_fwup(module, p, 'apply', apply_args)
    except FwupFailure as e:
        doc = e.document or {}
        report = doc.get('report')
        if report is not None:
            result.update(report=report, checks=report.get('checks', []), downtime_ms=downtime_ms(report))
            after = (report.get('after') or {}).get('version')
            if after is not None:
                result['version_after'] = after
        err = dict(e.error)
        err['step'] = step
        module.fail_json(msg='fwup %s failed: %s: %s (hint: %s)' % (step, err.get('code'), err.get('message'), err.get('hint')), error=err, rc=e.rc, **result)
    report = applied.get('report') or {}
    result.update(
        verdict='updated', version_after=(report.get('after') or {}).get('version', image.get('version')),
        report=report, checks=report.get('checks', []), downtime_ms=downtime_ms(report),
    )
    module.exit_json(msg='%s: %s -> %s' % (applied.get('target'), result['version_before'], result['version_after']), **result)


if __name__ == '__main__':
    main()

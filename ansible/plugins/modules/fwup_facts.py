#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) fwup developers
# MIT License (see LICENSE or https://opensource.org/licenses/MIT)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: fwup_facts
short_description: Read a machine's firmware state with fwup
version_added: "0.1.0"
description:
  - Runs C(fwup status --json) for the target and returns it as the C(fwup) fact
    (active version, whether it is on trial, the staged update, the last attempt, the security version).
  - Read-only; supports check mode.
options:
  target:
    description: fwup's C(--target) (C(emu:DIR), C(flashrom:PROGRAMMER), C(uefi), C(redfish:https://BMC)); default the host's default machine.
    type: str
  fwup_path:
    description: The fwup command, or a path to it.
    type: str
    default: fwup
  redfish_user:
    description: The BMC user for a C(redfish:) target (passed in fwup's environment, never its command line).
    type: str
  redfish_password:
    description: The BMC password for a C(redfish:) target.
    type: str
  credentials_file:
    description: A mode 0600 file with the BMC account (C(--credentials)).
    type: path
  ca:
    description: The CA certificate the BMC's TLS certificate must chain to (C(--ca)).
    type: path
  insecure:
    description: Do not verify the BMC's certificate (C(--insecure)).
    type: bool
    default: false
  allow_http:
    description: Allow a plain http BMC (C(--allow-http)).
    type: bool
    default: false
  component:
    description: The BMC firmware inventory item (C(--component)).
    type: str
author:
  - fwup developers (!UNKNOWN)
'''

EXAMPLES = r'''
- name: Read the firmware state
  fwup.fleet.fwup_facts:
    target: emu:/var/lib/fwup/machine

- name: Read a server's firmware through its BMC (on the controller)
  fwup.fleet.fwup_facts:
    target: redfish:https://bmc01.example.com
    redfish_user: "{{ vault_bmc_user }}"
    redfish_password: "{{ vault_bmc_password }}"
  delegate_to: localhost
'''

RETURN = r'''
ansible_facts:
  description: The C(fwup) fact.
  returned: success
  type: dict
  contains:
    fwup:
      description: C(target), C(kind), C(active_version), C(trial), C(staged_version), C(last_attempt), C(security_version)
        and C(status) (fwup's whole status document).
      type: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fwup.fleet.plugins.module_utils.fwup_cli import (
    TARGET_ARGS, FwupFailure, active_version, run_fwup, staged_version, target_options)


def main():
    module = AnsibleModule(argument_spec=dict(TARGET_ARGS), supports_check_mode=True)
    try:
        status = run_fwup(module, module.params, 'status', ['status'] + target_options(module.params))
    except FwupFailure as e:
        module.fail_json(msg='fwup status: %s' % e, error=e.error, rc=e.rc)
    version, trial = active_version(status)
    fact = dict(
        target=status.get('target'),
        kind=status.get('kind'),
        active_version=version,
        trial=trial,
        staged_version=staged_version(status),
        last_attempt=status.get('lastAttempt'),
        security_version=status.get('securityVersion'),
        status=status,
    )
    module.exit_json(changed=False, ansible_facts=dict(fwup=fact))


if __name__ == '__main__':
    main()

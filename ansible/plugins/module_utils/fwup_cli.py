# -*- coding: utf-8 -*-
# Copyright (c) fwup developers
# MIT License (see LICENSE or https://opensource.org/licenses/MIT)
"""Run fwup with --json and read what it says: the one place the modules talk to fwup."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

# The options every module passes through to fwup's target (redfish ones only matter for redfish:).
TARGET_ARGS = dict(
    target=dict(type='str'),
    fwup_path=dict(type='str', default='fwup'),
    redfish_user=dict(type='str'),
    redfish_password=dict(type='str', no_log=True),
    credentials_file=dict(type='path'),
    ca=dict(type='path'),
    insecure=dict(type='bool', default=False),
    allow_http=dict(type='bool', default=False),
    component=dict(type='str'),
)


class FwupFailure(Exception):
    """fwup exited non-zero: its error code, message, hint and exit code, and the document it printed."""

    def __init__(self, step, rc, error, document, stderr):
        self.step = step
        self.rc = rc
        self.error = error
        self.document = document
        self.stderr = stderr
        super(FwupFailure, self).__init__('%s: %s' % (error.get('code'), error.get('message')))


def fwup_argv(module, params):
    """The fwup command: a name on PATH, or a path (bin/fwup.js of a checkout works as well)."""
    path = params['fwup_path']
    if '/' in path:
        return [path]
    found = module.get_bin_path(path)
    if not found:
        module.fail_json(msg='fwup is not installed on %s: %r is not on PATH' % ('this host', path),
                         error=dict(code='FWUP_NOT_FOUND', message='fwup not found', hint='install fwup (npm install -g fwup) or set fwup_path'))
    return [found]


def target_options(params, redfish_only=False):
    """--target and the options that say how to reach it."""
    out = []
    if params.get('target'):
        out += ['--target', params['target']]
    if params.get('credentials_file'):
        out += ['--credentials', params['credentials_file']]
    if params.get('ca'):
        out += ['--ca', params['ca']]
    if params.get('insecure'):
        out.append('--insecure')
    if params.get('allow_http'):
        out.append('--allow-http')
    if params.get('component'):
        out += ['--component', params['component']]
    return out


def secret_environment(params):
    """The BMC account travels in fwup's environment, never on its command line."""
    env = {}
    if params.get('redfish_user'):
        env['FWUP_REDFISH_USER'] = params['redfish_user']
    if params.get('redfish_password'):
        env['FWUP_REDFISH_PASSWORD'] = params['redfish_password']
    return env


def run_fwup(module, params, step, args, allow_failure=False):
    """Run `fwup ARGS --json`; returns the JSON document, raises FwupFailure when fwup reports an error."""
    argv = fwup_argv(module, params) + args + ['--json']
    rc, out, err = module.run_command(argv, environ_update=secret_environment(params), check_rc=False)
    try:
        doc = json.loads(out) if out.strip() else {}
    except ValueError:
        module.fail_json(msg='fwup %s printed something that is not JSON (exit %d)' % (step, rc), rc=rc, stdout=out, stderr=err,
                         error=dict(code='FWUP_OUTPUT', message='not JSON', hint='check fwup_path: it must be fwup'))
    if rc != 0 or 'error' in doc:
        error = doc.get('error') or dict(code='UNKNOWN', message=err.strip() or 'fwup exited %d' % rc, hint='', exitCode=rc)
        if allow_failure:
            return doc
        raise FwupFailure(step, rc, error, doc, err)
    return doc


def active_version(status):
    """What runs now, from `fwup status --json`, for every kind of target."""
    kind = status.get('kind')
    if kind == 'emu':
        fw = status.get('firmware') or {}
        return fw.get('version'), bool(fw.get('trial'))
    if kind == 'redfish':
        comp = status.get('component') or {}
        return comp.get('version'), False
    if kind == 'flashrom':
        # A chip has no version of its own: the last image fwup wrote there is what runs.
        last = status.get('lastWrite') or {}
        return last.get('version'), False
    if kind == 'uefi':
        entries = status.get('esrt') or []
        return (str(entries[0].get('fwVersion')) if entries else None), False
    return None, False


def staged_version(status):
    staged = status.get('staged')
    if not staged:
        return None
    if 'version' in staged:
        return staged.get('version')
    image = staged.get('image') or {}
    return image.get('version')


def downtime_ms(report):
    """The host's downtime an apply caused: the warm apply's measured downtime, else the whole apply."""
    if not isinstance(report, dict):
        return None
    if 'downtimeMs' in report:
        return report['downtimeMs']
    return report.get('totalMs')

# -*- coding: utf-8 -*-
# Copyright (c) fwup developers
# MIT License (see LICENSE or https://opensource.org/licenses/MIT)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: rollout_summary
type: aggregate
short_description: One table at the end of a fwup rollout (host, before, after, verdict, downtime)
version_added: "0.1.0"
description:
  - Collects what M(fwup.fleet.fwup_facts) and M(fwup.fleet.fwup_update) reported for every host and prints
    one table when the playbook ends, also when the rollout halted (the hosts of later batches show
    C(not attempted)).
  - Optionally writes the same summary as JSON.
requirements:
  - enable it in ansible.cfg (C(callbacks_enabled = fwup.fleet.rollout_summary)) or C(ANSIBLE_CALLBACKS_ENABLED)
options:
  summary_file:
    description: Write the summary as JSON to this file.
    type: path
    env:
      - name: FWUP_ROLLOUT_SUMMARY
    ini:
      - section: fwup_rollout_summary
        key: summary_file
'''

import json
import re

from ansible.plugins.callback import CallbackBase

FACTS = ('fwup.fleet.fwup_facts', 'fwup_facts')
UPDATE = ('fwup.fleet.fwup_update', 'fwup_update')


def _natural(host):
    """A sort key that puts host2 before host10."""
    return [int(t) if t.isdigit() else t for t in re.split(r'(\d+)', host)]


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'fwup.fleet.rollout_summary'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.hosts = {}
        self.order = []

    def _row(self, host):
        if host not in self.hosts:
            self.hosts[host] = dict(host=host, before=None, after=None, verdict='not attempted', downtime_ms=None, error=None)
            self.order.append(host)
        return self.hosts[host]

    def _record(self, result, failed):
        action = result._task.action
        res = result._result
        host = result._host.get_name()
        if action in FACTS and not failed:
            fact = (res.get('ansible_facts') or {}).get('fwup') or {}
            row = self._row(host)
            if row['verdict'] == 'not attempted':
                row['before'] = fact.get('active_version')
                row['after'] = fact.get('active_version')
        elif action in UPDATE:
            row = self._row(host)
            if res.get('version_before') is not None:
                row['before'] = res.get('version_before')
            row['after'] = res.get('version_after', row['after'])
            row['downtime_ms'] = res.get('downtime_ms')
            if failed:
                err = res.get('error') or {}
                row['verdict'] = 'failed'
                row['error'] = '%s: %s' % (err.get('code', '?'), err.get('message', res.get('msg', '')))
            else:
                row['verdict'] = res.get('verdict', 'updated')
        elif action in ('ansible.builtin.command', 'command') and 'rollback' in str(res.get('cmd', '')) and not failed:
            row = self._row(host)
            row['verdict'] = 'failed, rolled back'

    def v2_runner_on_ok(self, result):
        self._record(result, False)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, True)

    def v2_playbook_on_stats(self, stats):
        # Hosts in natural order (host2 before host10), whatever order the forks finished in.
        rows = [self.hosts[h] for h in sorted(self.order, key=_natural)]
        if not rows:
            return
        head = ('host', 'before', 'after', 'verdict', 'downtime')
        cells = [[r['host'], str(r['before'] or '-'), str(r['after'] or '-'), r['verdict'],
                  '%.1f ms' % r['downtime_ms'] if isinstance(r['downtime_ms'], (int, float)) else '-'] for r in rows]
        widths = [max(len(head[i]), *(len(c[i]) for c in cells)) for i in range(len(head))]

        def line(c):
            return '  '.join(c[i].ljust(widths[i]) for i in range(len(c))).rstrip()

        self._display.display('\nfwup rollout summary')
        self._display.display(line(head))
        for c, r in zip(cells, rows):
            self._display.display(line(c) + ('  (%s)' % r['error'] if r['error'] else ''))
        counts = {}
        for r in rows:
            counts[r['verdict']] = counts.get(r['verdict'], 0) + 1
        self._display.display(', '.join('%d %s' % (n, v) for v, n in sorted(counts.items())))
        path = self.get_option('summary_file')
        if path:
            with open(path, 'w') as f:
                json.dump(dict(hosts=rows, counts=counts), f, indent=2)

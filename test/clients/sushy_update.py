"""Drive the emulated Redfish BMC with OpenStack sushy (Debian's python3-sushy).

Prints one JSON document of what sushy saw. On failure it prints {"error": ...} (the exception's
class, text and HTTP status) and exits 1, with the traceback on stderr.

  sushy_update.py --url URL --user U --password P [--auth session|basic|session-or-basic]
                  [--verify PATH|true|false] inspect
  sushy_update.py ... update --image-uri URI [--timeout S]
"""

import argparse
import importlib.metadata
import json
import sys
import time
import traceback

import sushy
from sushy import auth as sushy_auth
from sushy import taskmonitor
from sushy.resources.updateservice import constants as up_cons

SYSTEM = '/redfish/v1/Systems/1'
# sushy's names for the task states that end a task.
DONE = {'Completed', 'Exception', 'Killed', 'Cancelled', 'Interrupted'}


def value(x):
    """An enum member as its Redfish value (sushy maps most properties to enums)."""
    return getattr(x, 'value', x)


def connect(a):
    verify = {'true': True, 'false': False}.get(a.verify, a.verify)
    kind = {'session': sushy_auth.SessionAuth, 'basic': sushy_auth.BasicAuth,
            'session-or-basic': sushy_auth.SessionOrBasicAuth}[a.auth]
    auth = kind(username=a.user, password=a.password)
    root = sushy.Sushy(a.url, auth=auth, verify=verify)
    return root, auth


def inventory(us):
    # Fresh collections each time: sushy caches the property on the UpdateService object.
    col = us.firmware_inventory
    col.refresh(force=True)
    items = {}
    for m in col.get_members():
        items[m.identity] = {'version': m.version, 'updateable': m.updateable,
                             'software_id': m.software_id,
                             'health': value(m.status.health) if m.status else None}
    return items


def inspect(root, auth):
    system = root.get_system(SYSTEM)
    us = root.get_update_service()
    inv = inventory(us)
    session = auth.get_session_resource_id() if isinstance(auth, sushy_auth.SessionAuth) else None
    return {
        'root': {'redfish_version': root.redfish_version, 'uuid': root.uuid, 'product': root.product},
        'auth': {'class': type(auth).__name__, 'session': session,
                 'x_auth_token': bool(isinstance(auth, sushy_auth.SessionAuth) and auth.get_session_key())},
        'system': {'identity': system.identity, 'power_state': value(system.power_state),
                   'bios_version': system.bios_version,
                   'reset_values': sorted(value(v) for v in system.get_allowed_reset_system_values())},
        'update_service': {'identity': us.identity, 'service_enabled': us.service_enabled,
                           # sushy has no public accessor for the action's target.
                           'simple_update_target': us._get_simple_update_element().target_uri},
        'inventory': inv,
        # What the BMC holds now (a refused login must leave neither a session nor a task behind).
        'sessions': sorted(root.get_session_service().sessions.members_identities),
        'tasks': {k: value(v) for k, v in root.get_task_service().tasks.summary.items()},
        'firmware_version': inv.get('SystemFirmware', {}).get('version'),
    }


def task_doc(t):
    return {'identity': t.identity, 'task_state': value(t.task_state), 'task_status': value(t.task_status),
            'percent_complete': t.percent_complete, 'task_monitor': t.task_monitor,
            'messages': [{'message_id': m.message_id, 'message_args': m.message_args,
                          'severity': value(m.severity), 'message': m.message} for m in t.messages]}


def update(root, a):
    us = root.get_update_service()
    before = inventory(us)['SystemFirmware']['version']
    target = us.firmware_inventory.get_member(
        '/redfish/v1/UpdateService/FirmwareInventory/SystemFirmware').path
    tm = us.simple_update(a.image_uri, targets=[target], transfer_protocol=up_cons.UPDATE_PROTOCOL_HTTP)
    accepted = tm.response
    out = {'firmware_before': before, 'targets': [target],
           'accepted': {'status_code': accepted.status_code, 'location': accepted.headers.get('Location'),
                        'body_odata_id': accepted.json().get('@odata.id'),
                        'body_task_state': accepted.json().get('TaskState')},
           # sushy follows the body's @odata.id (the Task) rather than Location (the task monitor).
           'sushy_task_monitor_uri': tm.task_monitor_uri}

    # sushy's own wait: it ends on the first response that is not 202.
    t0 = time.monotonic()
    tm.wait(a.timeout)
    body = tm.response.json() if tm.response.content else {}
    out['sushy_wait'] = {'seconds': round(time.monotonic() - t0, 3), 'status_code': tm.response.status_code,
                         'is_processing': tm.is_processing, 'task_state_at_return': body.get('TaskState')}

    # The DMTF task monitor (Location): 202 while the task runs, then 200 with the Task.
    # Not root.get_task_monitor(): it loads sushy's packaged standard registries, which Debian's
    # python3-sushy does not ship (FileNotFoundError .../sushy/standard_registries/).
    monitor = taskmonitor.TaskMonitor(root._conn, accepted.headers['Location'],
                                      redfish_version=root.redfish_version, registries=root.lazy_registries)
    deadline = time.monotonic() + a.timeout
    polls = []
    while monitor.is_processing:
        polls.append(monitor.response.headers.get('Retry-After'))
        if time.monotonic() > deadline:
            raise RuntimeError('the task monitor still answers 202 after %ss' % a.timeout)
        # sushy returns Retry-After as a string: time.sleep wants a number (its own wait() breaks).
        time.sleep(min(float(monitor.sleep_for), 1.0))
        monitor.refresh()
    final = monitor.response.json()
    out['monitor'] = {'uri': monitor.task_monitor_uri, 'polls_202': len(polls), 'retry_after': polls[:1],
                      'final_status_code': monitor.response.status_code, 'final_task_state': final.get('TaskState')}

    # The Task resource through sushy's TaskService, polled on TaskState until it ends.
    tasks = root.get_task_service().tasks
    task = tasks.get_member(out['accepted']['body_odata_id'])
    while value(task.task_state) not in DONE:
        if time.monotonic() > deadline:
            raise RuntimeError('task %s is still %s after %ss' % (task.identity, value(task.task_state), a.timeout))
        time.sleep(0.2)
        task.refresh()
    out['task'] = task_doc(task)
    out['task_summary'] = {k: value(v) for k, v in tasks.summary.items()}
    out['firmware_after'] = inventory(us)['SystemFirmware']['version']
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--url', required=True)
    p.add_argument('--user', required=True)
    p.add_argument('--password', required=True)
    p.add_argument('--auth', default='session', choices=['session', 'basic', 'session-or-basic'])
    p.add_argument('--verify', default='true')
    sub = p.add_subparsers(dest='action', required=True)
    sub.add_parser('inspect')
    u = sub.add_parser('update')
    u.add_argument('--image-uri', required=True)
    u.add_argument('--timeout', type=float, default=40)
    a = p.parse_args()
    try:
        root, auth = connect(a)
        doc = inspect(root, auth) if a.action == 'inspect' else update(root, a)
        doc['sushy_version'] = importlib.metadata.version('sushy')
        auth.close()
    except Exception as e:  # noqa: BLE001 - report whatever sushy raised, to the test
        traceback.print_exc()
        print(json.dumps({'error': {'type': type(e).__name__, 'module': type(e).__module__, 'message': str(e),
                                    'status_code': getattr(e, 'status_code', None)}}))
        sys.exit(1)
    print(json.dumps(doc))


if __name__ == '__main__':
    main()

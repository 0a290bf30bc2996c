#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Progress of large messages from Python: example 7 of the Python
# socketwrapper package ("custom framing with progress") needs no framing of
# its own any more: set progress-threshold, connect two signals.

import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import swtap  # noqa: E402
from swtap import PRIORITY, check, equal, iterate_until, msg, pair, test  # noqa: E402

SIZE = 1024 * 1024


def recorder(arrow, reports, lines):
    """A progress handler printing percentages as example 7 does."""
    def on_progress(connection, done, total):
        reports.append((done, total, threading.get_ident()))
        lines.append(f'{arrow} {100 * done / total:6.2f}%')
    return on_progress


def check_reports(reports, total, thread):
    check(2 <= len(reports) <= 101, f'{len(reports)} reports')
    dones = [done for done, _, _ in reports]
    equal(dones, sorted(set(dones)))
    equal({t for _, t, _ in reports}, {total})
    equal({ident for _, _, ident in reports}, {thread})
    equal(reports[-1][0], total)


@test
def example_7_progress():
    parent, child = pair()
    parent.props.progress_threshold = SIZE
    child.set_progress_threshold(SIZE)
    equal(child.get_progress_threshold(), SIZE)
    sent, received, lines = [], [], []
    parent.connect('send-progress', recorder('<', sent, lines))
    child.connect('receive-progress', recorder('>', received, lines))
    result = {}

    def child_main():
        result['message'] = child.receive_message(swtap.TIMEOUT, None)

    thread = threading.Thread(target=child_main)
    thread.start()
    payload = os.urandom(1024) * 1024
    lines.append(f'Sending {len(payload)} bytes!')
    check(parent.send_message(msg(payload), swtap.TIMEOUT, None))
    thread.join()
    lines.append(f'Received {result["message"].get_size()} bytes!')
    for line in lines:
        print(f'# {line}')

    equal(result['message'].get_data(), payload)
    check_reports(sent, SIZE, threading.get_ident())
    check_reports(received, SIZE, thread.ident)
    check('< 100.00%' in lines and '> 100.00%' in lines)


@test
def below_threshold_reports_nothing():
    a, b = pair()
    a.props.progress_threshold = 11
    b.props.progress_threshold = 0
    reports = []
    a.connect('send-progress', lambda c, d, t: reports.append((d, t)))
    b.connect('receive-progress', lambda c, d, t: reports.append((d, t)))
    check(a.send_message(msg(b'0123456789'), swtap.TIMEOUT, None))
    equal(b.receive_message(swtap.TIMEOUT, None).get_data(), b'0123456789')
    equal(reports, [])


@test
def async_receive_reports_before_callback():
    a, b = pair()
    b.props.progress_threshold = SIZE
    reports, state = [], {}
    b.connect('receive-progress',
              lambda c, done, total: reports.append((done, total, 'result' in state)))

    def on_received(connection, result):
        state['result'] = connection.receive_message_finish(result)

    def on_sent(connection, result):
        state['sent'] = connection.send_message_finish(result)

    b.receive_message_async(PRIORITY, None, on_received)
    a.send_message_async(msg(bytes(SIZE)), PRIORITY, None, on_sent)
    iterate_until(lambda: 'result' in state and 'sent' in state)
    equal(state['result'].get_size(), SIZE)
    check(len(reports) >= 2)
    equal([late for _, _, late in reports], [False] * len(reports))
    equal(reports[-1][:2], (SIZE, SIZE))


swtap.run()

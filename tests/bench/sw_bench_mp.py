#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Python multiprocessing.connection contender for tests/bench/sw-bench.c.

Usage: sw_bench_mp.py ROLE DATA_FD REPORT_FD GO_FD SIZE COUNT BUDGET

ROLE is send, recv (throughput: COUNT messages of SIZE bytes), ping (64-byte
round trips for BUDGET seconds) or pong (echo until EOF). The protocol on
REPORT_FD/GO_FD is sw-bench's: write "R" once set up, wait for one byte on
GO_FD, then report one line.  Times are time.monotonic(), which is
CLOCK_MONOTONIC on Linux, the clock the C side uses: the parent subtracts the
sender's start from the receiver's end, so the measurement is the same as
for the C contenders and excludes interpreter start-up.
"""

import multiprocessing.connection
import os
import sys
import time


def percentile(sorted_values, q):
    # Same rank rule as sw-bench.c's percentile().
    return sorted_values[int((len(sorted_values) - 1) * q)]


def main():
    role = sys.argv[1]
    data_fd, report_fd, go_fd = (int(a) for a in sys.argv[2:5])
    size, count = int(sys.argv[5]), int(sys.argv[6])
    budget = float(sys.argv[7])
    # multiprocessing expects a blocking fd (socketpair(2) gives one, but be
    # explicit: the C side may hand over an end it made non-blocking).
    os.set_blocking(data_fd, True)
    conn = multiprocessing.connection.Connection(data_fd)
    report = os.fdopen(report_fd, 'w', buffering=1)
    report.write('R\n')
    os.read(go_fd, 1)

    if role == 'send':
        message = bytes(i & 0xff for i in range(size))
        t0 = time.monotonic()
        for _ in range(count):
            conn.send_bytes(message)
        report.write('T %.9f -1\n' % t0)
    elif role == 'recv':
        for _ in range(count):
            if len(conn.recv_bytes()) != size:
                sys.exit('python recv: wrong size')
        t1 = time.monotonic()
        report.write('T %.9f -1\n' % t1)
    elif role == 'ping':
        message = bytes(64)
        latencies = []
        end = time.monotonic() + budget
        i = 0
        while i < 200000 and (i < 200 or time.monotonic() < end):
            t = time.monotonic()
            conn.send_bytes(message)
            conn.recv_bytes()
            latencies.append(time.monotonic() - t)
            i += 1
        # The first round trips warm caches and the peer's allocator.
        latencies = sorted(latencies[100:])
        report.write('L %.3f %.3f\n' % (percentile(latencies, 0.50) * 1e6,
                                        percentile(latencies, 0.99) * 1e6))
    elif role == 'pong':
        while True:
            try:
                message = conn.recv_bytes()
            except EOFError:
                break
            conn.send_bytes(message)
    else:
        sys.exit('unknown role ' + role)
    report.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())

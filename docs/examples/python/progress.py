import os
import gi
gi.require_version('Sw', '1')
from gi.repository import Sw

def say(line: str) -> None:
    # One write per line: parent and child print at the same time.
    print(line + '\n', end='', flush=True)

def progress(arrow: str):
    def on_progress(connection: Sw.Connection, done: int, total: int) -> None:
        say(f'{arrow} {100 * done / total:6.2f}%')
    return on_progress

with Sw.socketpair(framing=True) as (parent_duplex, child_duplex):
    parent_duplex.progress_threshold = 1024 * 1024  # report messages from 1 MiB
    child_duplex.progress_threshold = 1024 * 1024
    child_duplex.inheritable = True
    child_pid = os.fork()  # replace with your own multiprocessing fork logic
    child_duplex.inheritable = False  # important, prevent socket leaks!

    if child_pid:
        parent_duplex.connect('send-progress', progress('<'))
        payload = os.urandom(1024) * 1024
        say(f'Sending {len(payload)} bytes!')
        parent_duplex.send(payload)
    else:
        child_duplex.connect('receive-progress', progress('>'))
        say(f'Received {len(child_duplex.recv())} bytes!')

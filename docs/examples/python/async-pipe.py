import asyncio
import os
import gi
gi.require_version('Sw', '1')
from gi.repository import Sw

async def parent(readable: Sw.Connection) -> None:
    print(f'Message {await readable.recv_async()!r} received')

async def child(writable: Sw.Connection) -> None:
    await writable.send_async(b'Hello world!')

with Sw.pipe(framing=True) as (parent_reader, child_writer):
    child_writer.inheritable = True
    child_pid = os.fork()  # replace with your own process fork/spawn logic
    child_writer.inheritable = False  # important, prevent socket leaks!

    asyncio.run(parent(parent_reader) if child_pid else child(child_writer))

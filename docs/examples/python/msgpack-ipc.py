import os
import gi
gi.require_version('Sw', '1')
from gi.repository import Sw

with Sw.pipe(framing=Sw.MsgPackFraming, codec=Sw.MsgPackCodec) as (parent_reader, child_writer):
    child_writer.inheritable = True
    child_pid = os.fork()  # replace with your own process fork/spawn logic
    child_writer.inheritable = False  # important, prevent socket leaks!

    if child_pid:
        print(f'Message {parent_reader.recv()!r} received')
    else:
        child_writer.send({'data': b'Hello world!'})

import concurrent.futures
import gi
gi.require_version('Sw', '1')
from gi.repository import Sw

def child(child_fileno: int) -> None:
    child_writer = Sw.Connection.fromfd(child_fileno)
    child_writer.send(b'Hello World')

if __name__ == '__main__':
    with (Sw.pipe(framing=True) as (parent_reader, child_writer),
          concurrent.futures.ThreadPoolExecutor() as pool):
        pool.submit(child, child_writer.fileno())
        print(f'Message {parent_reader.recv()!r} received')

import asyncio
import multiprocessing
import multiprocessing.connection
import gi
gi.require_version('Sw', '1')
from gi.repository import Sw

def child(conn: multiprocessing.connection.Connection) -> None:

    async def main() -> None:
        with Sw.Connection.fromfd(conn, framing=Sw.MultiprocessingFraming) as child_duplex:
            print(f'Message {await child_duplex.recv_async()!r} received in child')
            await child_duplex.send_async(b'Hello parent!')

    asyncio.run(main())

if __name__ == '__main__':
    parent_conn, child_conn = multiprocessing.Pipe()
    with parent_conn, child_conn:
        child_process = multiprocessing.Process(target=child, args=(child_conn,))
        child_process.start()

        parent_conn.send_bytes(b'Hello child!')
        print(f'Message {parent_conn.recv_bytes()!r} received in parent')
        child_process.join(1)

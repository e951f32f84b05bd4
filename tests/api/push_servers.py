"""A station's own servers, on loopback, for push delivery's tests and bench.

    python push_servers.py sftp --root DIR --user U --password P [--port N] [--key FILE] [--quota BYTES]
    python push_servers.py ftp  --root DIR --user U --password P [--port N] [--rate BYTES_PER_S]

Prints `PORT <n>` once listening, then serves until killed. The SFTP server
is asyncssh's, kept inside ROOT (chroot), password only; `--quota` makes
every write past that many bytes of a file fail as a full disk does
(SSH_FX_FAILURE, "No space left on device"). The FTP server is
pyftpdlib's; `--rate` throttles its data connections.
"""

import argparse
import asyncio
import os
import sys


def sftp(args):
    import asyncssh

    class Server(asyncssh.SSHServer):
        def begin_auth(self, username):
            return True

        def password_auth_supported(self):
            return True

        def validate_password(self, username, password):
            return username == args.user and password == args.password

    class Sftp(asyncssh.SFTPServer):
        def __init__(self, chan):
            super().__init__(chan, chroot=args.root.encode())

        def write(self, file_obj, offset, data):
            if args.quota is not None and offset + len(data) > args.quota:
                raise asyncssh.SFTPFailure("No space left on device")
            return super().write(file_obj, offset, data)

    async def main():
        if args.key and os.path.exists(args.key):
            key = asyncssh.read_private_key(args.key)
        else:
            key = asyncssh.generate_private_key("ssh-ed25519")
            if args.key:
                key.write_private_key(args.key)
        server = await asyncssh.create_server(
            Server, "127.0.0.1", args.port, server_host_keys=[key], sftp_factory=Sftp, allow_scp=False
        )
        print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
        await asyncio.Future()

    asyncio.run(main())


def ftp(args):
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler, ThrottledDTPHandler
    from pyftpdlib.servers import FTPServer

    authorizer = DummyAuthorizer()
    authorizer.add_user(args.user, args.password, args.root, perm="elradfmwMT")

    class Handler(FTPHandler):
        pass

    Handler.authorizer = authorizer
    Handler.permit_foreign_addresses = False
    if args.rate:
        class Throttled(ThrottledDTPHandler):
            read_limit = args.rate

        Handler.dtp_handler = Throttled
    server = FTPServer(("127.0.0.1", args.port), Handler)
    print(f"PORT {server.socket.getsockname()[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=["sftp", "ftp"])
    p.add_argument("--root", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--key")
    p.add_argument("--quota", type=int)
    p.add_argument("--rate", type=int)
    a = p.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    (sftp if a.kind == "sftp" else ftp)(a)

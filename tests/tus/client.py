"""Drives the hub with tuspy, the Python tus client, as a station's tool would.

    client.py start  ENDPOINT TOKEN FILE PROGRAM CHUNK KILL_AT
        creates the upload, prints its URL, uploads chunk by chunk and, once
        past KILL_AT bytes, kills itself (SIGKILL: no cleanup, like a crash)
    client.py resume ENDPOINT TOKEN FILE URL CHUNK
        resumes the upload at URL from the offset the hub reports, to the end
"""
import os
import signal
import sys

from tusclient import client


def main():
    mode, endpoint, token, path = sys.argv[1:5]
    tus = client.TusClient(endpoint, headers={"Authorization": f"Bearer {token}"})
    if mode == "start":
        program, chunk, kill_at = sys.argv[5], int(sys.argv[6]), int(sys.argv[7])
        uploader = tus.uploader(
            path,
            chunk_size=chunk,
            metadata={"program": program, "role": "master", "filename": "Thời sự tối.mp4", "filetype": "video/mp4"},
            upload_checksum=True,
        )
        uploader.set_url(uploader.create_url())
        print(uploader.url, flush=True)
        size = uploader.get_file_size()
        while uploader.offset < size:
            uploader.upload_chunk()
            if uploader.offset >= kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
    elif mode == "resume":
        url, chunk = sys.argv[5], int(sys.argv[6])
        uploader = tus.uploader(path, url=url, chunk_size=chunk, upload_checksum=True)
        uploader.upload()
        print(uploader.offset, flush=True)
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()

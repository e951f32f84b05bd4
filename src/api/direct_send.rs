//! Local files sent from the page cache straight to the socket
//! (`sendfile(2)`), as nginx sends them, instead of being read into a
//! buffer, copied into actix-http's write buffer and written from there:
//! three copies of every byte where sendfile makes none (BENCHMARKS.md,
//! scenario 3).
//!
//! actix-http writes every body through its own buffer, so this goes beside
//! it. Each connection's socket is a [`DirectSocket`], whose handle
//! ([`Direct`]) a request finds in its connection data. A download's body
//! ([`SendFile`]) gives the handle its file and waits. actix-http writes the
//! response head and then, as after every write it completes, calls the
//! socket's `poll_flush` with its buffer empty: there the socket sends the
//! file, as fast as the client takes it, and wakes the body, which ends.
//! The response goes out with its `Content-Length` and no chunking, so
//! actix-http adds no bytes of its own around the file's.
//!
//! The worker that sends may wait for the disk when the file is not in the
//! page cache, as nginx's does with `sendfile on`; the part ahead of the send
//! is asked of the disk beforehand, off the async threads
//! (`POSIX_FADV_WILLNEED`), so that it mostly does not.

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use actix_web::body::{BodySize, MessageBody, SizedStream};
use actix_web::http::Method;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

use crate::exchange::FileSend;

/// The most one `sendfile` call is asked to send (nginx's
/// `sendfile_max_chunk` is 2 MiB too).
const CALL: usize = 2 * 1024 * 1024;
/// The most sent in one turn of the worker before other connections get theirs.
const TURN: u64 = 16 * 1024 * 1024;
/// How far ahead of the send the disk is asked for the file, in steps of this.
const AHEAD: u64 = 8 * 1024 * 1024;

/// A file being sent on a connection.
struct Job {
    /// Which response it belongs to, so that only that one's body takes it.
    id: u64,
    send: FileSend,
    at: u64,
    /// Up to where the disk was asked for the file.
    asked: u64,
    /// The body, woken when the file is sent (or could not be).
    body: Waker,
    /// How it ended, once it has.
    ended: Option<io::Result<()>>,
}

#[derive(Default)]
struct Slot {
    job: RefCell<Option<Job>>,
    next_id: Cell<u64>,
}

/// A connection's handle for sending a file on it, in the request's
/// connection data.
#[derive(Clone)]
pub struct Direct(Rc<Slot>);

/// A connection's socket, which sends the file its handle was given once
/// actix-http's buffer is empty; otherwise the socket itself.
pub struct DirectSocket {
    io: TcpStream,
    slot: Rc<Slot>,
    /// Whether the socket holds partial segments back (`TCP_CORK`), as it
    /// does while a file goes.
    corked: bool,
}

impl DirectSocket {
    pub fn new(io: TcpStream) -> Self {
        DirectSocket {
            io,
            slot: Rc::default(),
            corked: false,
        }
    }

    /// The handle for the request's connection data.
    pub fn direct(&self) -> Direct {
        Direct(self.slot.clone())
    }

    /// Sends what is left of the job's file; `Ready` once all is sent or the
    /// send failed, with the job's body woken.
    fn send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut job = self.slot.job.borrow_mut();
        let Some(job) = job.as_mut().filter(|j| j.ended.is_none()) else {
            if self.corked {
                // A send let go of before its end: what is held goes.
                self.corked = !cork(&self.io, false);
            }
            return Poll::Ready(Ok(()));
        };
        let end = job.send.local.range.end;
        if !self.corked {
            // Only full segments while the file goes (nginx's `tcp_nopush`).
            // Measured on loopback, 12 rounds against nginx: sendfile alone
            // 0.77-0.80 of nginx, with this 0.96-1.0; the buffered path
            // 0.70 with it or without.
            self.corked = cork(&self.io, true);
        }
        let mut turn = 0;
        let ended = loop {
            if job.at >= end {
                break Ok(());
            }
            if turn >= TURN {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            job.ask_ahead();
            if let Err(e) = std::task::ready!(self.io.poll_write_ready(cx)) {
                break Err(e);
            }
            let want = usize::try_from(end - job.at).unwrap_or(usize::MAX).min(CALL);
            let file = &job.send.local.file;
            match self
                .io
                .try_io(Interest::WRITABLE, || sendfile(&self.io, file, job.at, want))
            {
                // The file is shorter than when it was opened.
                Ok(0) => {
                    break Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the file shrank while sent",
                    ))
                }
                Ok(n) => {
                    job.at += n as u64;
                    job.send.tally.add(n as u64);
                    turn += n as u64;
                }
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {}
                Err(e) => break Err(e),
            }
        };
        let failed = ended.as_ref().err().map(|e| io::Error::new(e.kind(), e.to_string()));
        if self.corked {
            // The last partial segment goes now.
            self.corked = !cork(&self.io, false);
        }
        job.ended = Some(ended);
        job.body.wake_by_ref();
        match failed {
            Some(e) => Poll::Ready(Err(e)),
            None => Poll::Ready(Ok(())),
        }
    }
}

impl Job {
    /// Asks the disk for the part of the file ahead of the send, off the
    /// async threads, a step at a time.
    fn ask_ahead(&mut self) {
        let end = self.send.local.range.end;
        while self.asked < end && self.asked < self.at + 2 * AHEAD {
            let (file, from) = (self.send.local.file.clone(), self.asked);
            let len = AHEAD.min(end - from);
            self.asked += len;
            tokio::task::spawn_blocking(move || {
                let (Ok(from), Ok(len)) = (libc::off_t::try_from(from), libc::off_t::try_from(len)) else {
                    return;
                };
                // SAFETY: a plain system call on a file descriptor the
                // closure keeps open; it only advises the kernel.
                unsafe { libc::posix_fadvise(file.as_raw_fd(), from, len, libc::POSIX_FADV_WILLNEED) };
            });
        }
    }
}

/// Sets `TCP_CORK` on `socket` (on: only full segments go; off: what is
/// held goes); whether it could.
fn cork(socket: &TcpStream, on: bool) -> bool {
    let value: libc::c_int = on.into();
    // SAFETY: a plain system call on a descriptor borrowed for it, with a
    // pointer to an int that lives through the call and its size.
    let done = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_CORK,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    done == 0
}

/// `sendfile(2)`: up to `count` bytes of `file` from `at` to `socket`.
fn sendfile(socket: &TcpStream, file: &std::fs::File, at: u64, count: usize) -> io::Result<usize> {
    let mut offset = libc::off_t::try_from(at).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: both descriptors are open for the call (borrowed), and the
    // kernel writes only the offset it is given a pointer to.
    let n = unsafe { libc::sendfile(socket.as_raw_fd(), file.as_raw_fd(), &mut offset, count) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

impl AsyncRead for DirectSocket {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for DirectSocket {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    /// actix-http calls this once everything it wrote has been taken, and
    /// so only then does a file waiting to be sent go.
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.send(cx))?;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The body of a response whose file the connection sends.
pub struct SendFile {
    direct: Direct,
    /// The file, until it is handed to the connection as job `id`.
    send: Option<FileSend>,
    id: u64,
}

impl MessageBody for SendFile {
    type Error = io::Error;

    /// Unknown to actix-http, which then adds nothing of its own: the
    /// response carries the `Content-Length` ([`respond`]).
    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        let slot = &this.direct.0;
        if let Some(send) = this.send.take() {
            this.id = slot.next_id.get();
            slot.next_id.set(this.id + 1);
            let at = send.local.range.start;
            *slot.job.borrow_mut() = Some(Job {
                id: this.id,
                send,
                at,
                asked: at,
                body: cx.waker().clone(),
                ended: None,
            });
            // actix-http writes the head, then flushes the socket, which sends.
            return Poll::Pending;
        }
        let mut job = slot.job.borrow_mut();
        match job.as_mut().filter(|j| j.id == this.id) {
            Some(j) if j.ended.is_none() => {
                j.body.clone_from(cx.waker());
                Poll::Pending
            }
            Some(_) => match job.take().and_then(|j| j.ended) {
                Some(Err(e)) => Poll::Ready(Some(Err(e))),
                _ => Poll::Ready(None),
            },
            None => Poll::Ready(None),
        }
    }
}

impl Drop for SendFile {
    /// A response let go of before its file was sent (the client left):
    /// the connection stops sending it, and the tally tells the ledger what
    /// went.
    fn drop(&mut self) {
        if self.send.is_none() {
            let mut job = self.direct.0.job.borrow_mut();
            if job.as_ref().is_some_and(|j| j.id == self.id) {
                job.take();
            }
        }
    }
}

/// The answer `res` with the `length` bytes of `send`: sent by the
/// connection itself for a `GET` on one that can ([`DirectSocket`]), read
/// and streamed otherwise.
pub fn respond(mut res: HttpResponseBuilder, req: &HttpRequest, length: u64, send: FileSend) -> HttpResponse {
    let whole = send.local.range.end - send.local.range.start == length;
    match req.conn_data::<Direct>() {
        // A file shorter than the catalog says goes the read way, which
        // fails the response when the bytes run out.
        Some(direct) if req.method() == Method::GET && length > 0 && whole => res.no_chunking(length).body(SendFile {
            direct: direct.clone(),
            send: Some(send),
            id: 0,
        }),
        _ => res.body(SizedStream::new(length, send.into_stream())),
    }
}

//! A watch on each connection's request heads, below actix-http, so that the
//! heads actix-http itself refuses are answered as every other refusal is:
//! with a problem document.
//!
//! actix-http answers some heads before the application sees them, with a
//! bare status and no body: a request line over 64 KiB (its URI type holds
//! no more) gets `400`, a head over its 128 KiB buffer or with more than 96
//! headers gets `431`, and a head it cannot parse gets `400`. The guard
//! holds each head back until its blank line has arrived (or a limit below
//! actix-http's is passed), checks it with the same parser actix-http uses,
//! and then either hands it on unchanged or hands on, in its place, a short
//! request that names the refusal (`pxhub-refused-head: 414`); the limits
//! middleware ([`super::limits::request_head`]) answers that one with the
//! problem document, in order with any answer still being written, and the
//! connection closes after it.
//!
//! Bodies are never held or copied twice: after a head with a
//! `Content-Length`, that many bytes pass straight through; a head the guard
//! does not follow to its end (chunked bodies, upgrades) turns the guard off
//! for the rest of the connection, leaving actix-http as it was.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The header of the request handed on in place of a refused head.
pub const REFUSED_HEAD: &str = "pxhub-refused-head";

/// The longest request line handed on: actix-http's URI holds at most
/// 65,534 bytes, and the method and version take some of them.
const MAX_REQUEST_LINE: usize = 65_000;
/// The largest head handed on: below actix-http's 128 KiB buffer.
const MAX_HEAD: usize = 120 * 1024;
/// actix-http reads at most 96 headers.
const MAX_HEADERS: usize = 96;
/// How much of a refused request is read and dropped, so that closing the
/// connection does not reset it before the client has read the answer.
const DRAIN: usize = 1024 * 1024;
/// How much is read from the socket at once while a head arrives.
const READ_CHUNK: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a head: bytes are held until its blank line.
    Head,
    /// This many bytes of a body pass through.
    Body(u64),
    /// A head the guard does not follow: everything passes through.
    Blind,
    /// A refusal was handed on: what arrives is read and dropped.
    Refused { drained: usize },
}

/// A connection whose request heads are checked before actix-http reads them.
pub struct HeadGuard<S> {
    io: S,
    state: State,
    /// Bytes read from the socket and not yet classified.
    inbox: Vec<u8>,
    /// Bytes classified and not yet handed to actix-http, from `out_at`.
    out: Vec<u8>,
    out_at: usize,
    /// Where the scan of the head in `inbox` stopped, the length of the line
    /// being read there, and how many lines the head has so far.
    scanned: usize,
    line: usize,
    lines: usize,
}

/// What a held head turned out to be.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Still arriving.
    Partial,
    /// Whole and readable: `len` bytes, followed by a body of this many
    /// bytes, or by something the guard does not follow (`None`).
    Pass { len: usize, body: Option<u64> },
    /// Refused with this status.
    Refuse(u16),
}

impl<S> HeadGuard<S> {
    pub fn new(io: S) -> Self {
        HeadGuard {
            io,
            state: State::Head,
            inbox: Vec::new(),
            out: Vec::new(),
            out_at: 0,
            scanned: 0,
            line: 0,
            lines: 0,
        }
    }

    /// The connection under the guard.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// Moves what can be classified from `inbox` to `out`.
    fn classify(&mut self) {
        loop {
            match self.state {
                State::Body(left) if !self.inbox.is_empty() => {
                    let n = (left.min(self.inbox.len() as u64)) as usize;
                    self.out.extend(self.inbox.drain(..n));
                    self.state = if left == n as u64 {
                        State::Head
                    } else {
                        State::Body(left - n as u64)
                    };
                }
                State::Blind => {
                    self.out.append(&mut self.inbox);
                    return;
                }
                State::Refused { .. } => {
                    self.inbox.clear();
                    return;
                }
                State::Head if !self.inbox.is_empty() => match self.judge() {
                    Verdict::Partial => return,
                    Verdict::Pass { len, body } => {
                        self.out.extend(self.inbox.drain(..len));
                        self.state = match body {
                            Some(0) => State::Head,
                            Some(n) => State::Body(n),
                            None => State::Blind,
                        };
                        (self.scanned, self.line, self.lines) = (0, 0, 0);
                    }
                    Verdict::Refuse(status) => {
                        tracing::info!(
                            status,
                            held = self.inbox.len(),
                            "a request head was refused before routing"
                        );
                        self.out.extend_from_slice(
                            format!("GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n{REFUSED_HEAD}: {status}\r\n\r\n")
                                .as_bytes(),
                        );
                        self.inbox.clear();
                        self.state = State::Refused { drained: 0 };
                        return;
                    }
                },
                _ => return,
            }
        }
    }

    /// Scans the held head's new bytes for its blank line and its limits.
    fn judge(&mut self) -> Verdict {
        let mut end = None;
        for (i, &b) in self.inbox.iter().enumerate().skip(self.scanned) {
            match b {
                b'\n' => {
                    if self.line == 0 && self.lines > 0 {
                        end = Some(i + 1);
                        break;
                    }
                    if self.line > 0 {
                        self.lines += 1;
                    }
                    self.line = 0;
                }
                b'\r' => {}
                _ => {
                    self.line += 1;
                    if self.lines == 0 && self.line > MAX_REQUEST_LINE {
                        return Verdict::Refuse(414);
                    }
                }
            }
        }
        self.scanned = self.inbox.len();
        match end {
            Some(len) => read_head(&self.inbox[..len]),
            None if self.inbox.len() > MAX_HEAD || self.lines > MAX_HEADERS + 1 => Verdict::Refuse(431),
            None => Verdict::Partial,
        }
    }

    /// Hands what is classified to actix-http; whether anything was.
    fn hand_on(&mut self, buf: &mut ReadBuf<'_>) -> bool {
        if self.out_at == self.out.len() {
            return false;
        }
        let n = buf.remaining().min(self.out.len() - self.out_at);
        buf.put_slice(&self.out[self.out_at..self.out_at + n]);
        self.out_at += n;
        if self.out_at == self.out.len() {
            self.out.clear();
            self.out_at = 0;
        }
        true
    }
}

/// Reads a whole head with the parser actix-http uses and the rules it adds
/// (a `Host` in HTTP/1.1, one `Content-Length` of digits, `chunked` the only
/// transfer coding, and not with a length), and what follows it.
fn read_head(head: &[u8]) -> Verdict {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(head) {
        Ok(httparse::Status::Complete(len)) if len == head.len() => {}
        Ok(_) => return Verdict::Refuse(400),
        Err(httparse::Error::TooManyHeaders) => return Verdict::Refuse(431),
        Err(_) => return Verdict::Refuse(400),
    }
    let (method, path) = (req.method.unwrap_or_default(), req.path.unwrap_or_default());
    if http::Method::from_bytes(method.as_bytes()).is_err() {
        return Verdict::Refuse(400);
    }
    if http::Uri::try_from(path).is_err() {
        return Verdict::Refuse(if path.len() > MAX_REQUEST_LINE { 414 } else { 400 });
    }
    let named = |name: &'static str| req.headers.iter().filter(move |h| h.name.eq_ignore_ascii_case(name));
    let http11 = req.version == Some(1);
    let hosts = named("host").count();
    let lengths: Vec<&[u8]> = named("content-length").map(|h| h.value).collect();
    let codings: Vec<&[u8]> = named("transfer-encoding").map(|h| h.value).collect();
    let length = match lengths[..] {
        [] => None,
        [v] => match std::str::from_utf8(v)
            .ok()
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        {
            Some(v) => v.parse::<u64>().ok(),
            None => return Verdict::Refuse(400),
        },
        _ => return Verdict::Refuse(400),
    };
    let refused = (http11 && hosts != 1)
        || hosts > 1
        || (lengths.len() == 1 && length.is_none())
        || (!codings.is_empty() && (!http11 || codings.len() > 1 || !lengths.is_empty()))
        || codings
            .first()
            .is_some_and(|c| !c.trim_ascii().eq_ignore_ascii_case(b"chunked"))
        || (!http11 && method == "POST" && length.is_none());
    if refused {
        return Verdict::Refuse(400);
    }
    let len = head.len();
    if !codings.is_empty() || method == "CONNECT" || named("upgrade").next().is_some() {
        return Verdict::Pass { len, body: None };
    }
    Verdict::Pass {
        len,
        body: Some(length.unwrap_or(0)),
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for HeadGuard<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.hand_on(buf) {
                return Poll::Ready(Ok(()));
            }
            match this.state {
                // A body with nothing held and no more room than the body
                // has left: straight from the socket.
                State::Body(left) if this.inbox.is_empty() && buf.remaining() as u64 <= left => {
                    let before = buf.filled().len();
                    std::task::ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
                    let n = (buf.filled().len() - before) as u64;
                    if n > 0 {
                        this.state = if left == n { State::Head } else { State::Body(left - n) };
                    }
                    return Poll::Ready(Ok(()));
                }
                State::Blind if this.inbox.is_empty() => return Pin::new(&mut this.io).poll_read(cx, buf),
                State::Refused { drained } => {
                    // The refusal is handed on; actix-http answers it and
                    // closes. Until then what arrives is dropped, and the end
                    // of the stream is not passed on before the answer.
                    if drained >= DRAIN {
                        return Poll::Pending;
                    }
                    let mut scratch = [0u8; 8192];
                    let mut sink = ReadBuf::new(&mut scratch);
                    std::task::ready!(Pin::new(&mut this.io).poll_read(cx, &mut sink))?;
                    if sink.filled().is_empty() {
                        return Poll::Pending;
                    }
                    this.state = State::Refused {
                        drained: drained + sink.filled().len(),
                    };
                }
                _ => {
                    let mut chunk = [0u8; READ_CHUNK];
                    let mut part = ReadBuf::new(&mut chunk);
                    std::task::ready!(Pin::new(&mut this.io).poll_read(cx, &mut part))?;
                    if part.filled().is_empty() {
                        // The client closed: what is held is handed on as it
                        // is, for actix-http to see the same end.
                        this.out.append(&mut this.inbox);
                        this.state = State::Blind;
                        this.hand_on(buf);
                        return Poll::Ready(Ok(()));
                    }
                    this.inbox.extend_from_slice(part.filled());
                    this.classify();
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for HeadGuard<S> {
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

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// What actix-http would read through the guard from `input`, sent in
    /// pieces of `piece` bytes.
    async fn through(input: Vec<u8>, piece: usize) -> Vec<u8> {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        let writer = tokio::spawn(async move {
            for part in input.chunks(piece.max(1)) {
                client.write_all(part).await.unwrap();
            }
            client
        });
        let mut guard = HeadGuard::new(server);
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match tokio::time::timeout(std::time::Duration::from_millis(300), guard.read(&mut buf)).await {
                Ok(Ok(0)) | Err(_) => break,
                Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
                Ok(Err(e)) => panic!("{e}"),
            }
        }
        drop(writer);
        seen
    }

    fn refusal(status: u16) -> Vec<u8> {
        format!("GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n{REFUSED_HEAD}: {status}\r\n\r\n")
            .into_bytes()
    }

    #[tokio::test]
    async fn requests_and_bodies_pass_unchanged_whatever_the_pieces() {
        let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut input = format!("PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        input.extend_from_slice(&body);
        // A body that looks like a head (and a line far over the limits)
        // passes as bytes.
        let sly = format!("GET /{} HTTP/1.1\r\n\r\n", "b".repeat(70_000));
        input.extend_from_slice(
            format!("POST /b HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n", sly.len()).as_bytes(),
        );
        input.extend_from_slice(sly.as_bytes());
        input.extend_from_slice(b"GET /c HTTP/1.1\r\nhost: x\r\n\r\n");
        for piece in [1, 7, 4096, 1 << 20] {
            assert_eq!(through(input.clone(), piece).await, input, "in pieces of {piece}");
        }
    }

    #[tokio::test]
    async fn an_overlong_request_line_is_refused_with_414() {
        let input = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(80_000)).into_bytes();
        assert_eq!(through(input, 5000).await, refusal(414));
        // Without its end: refused as soon as it is too long.
        let input = format!("GET /{}", "a".repeat(300_000)).into_bytes();
        assert_eq!(through(input, 5000).await, refusal(414));
    }

    #[tokio::test]
    async fn overlong_heads_and_too_many_headers_are_refused_with_431() {
        let mut input = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..20 {
            input.extend_from_slice(format!("x-filler-{i}: {}\r\n", "b".repeat(8000)).as_bytes());
        }
        assert_eq!(through(input, 3000).await, refusal(431));
        let mut input = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..120 {
            input.extend_from_slice(format!("x-{i}: 1\r\n").as_bytes());
        }
        input.extend_from_slice(b"\r\n");
        assert_eq!(through(input, 100).await, refusal(431));
    }

    #[tokio::test]
    async fn unreadable_heads_are_refused_with_400_after_good_ones() {
        let good = b"GET /a HTTP/1.1\r\nhost: x\r\n\r\n".to_vec();
        for bad in [
            &b"G\x01T / HTTP/1.1\r\nhost: x\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nhost: x\r\nno colon here\r\n\r\n",
            b"GET / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nhost: x\r\nhost: y\r\n\r\n",
            b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 12x\r\n\r\n",
            b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ncontent-length: 1\r\n\r\n",
            b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ntransfer-encoding: chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: gzip\r\n\r\n",
            b"POST / HTTP/1.0\r\n\r\n",
        ] {
            let mut input = good.clone();
            input.extend_from_slice(bad);
            let mut expected = good.clone();
            expected.extend(refusal(400));
            assert_eq!(through(input, 10).await, expected, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[tokio::test]
    async fn chunked_bodies_turn_the_guard_off() {
        let mut input = b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
        input.extend_from_slice(format!("{:x}\r\n{}\r\n0\r\n\r\n", 70_000, "c".repeat(70_000)).as_bytes());
        assert_eq!(through(input.clone(), 999).await, input);
    }
}

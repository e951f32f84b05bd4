//! FTP targets (suppaftp on tokio): binary transfers, passive mode with the
//! data connection sent to the address of the control connection (which the
//! guard judged), never to one the server names.

use std::net::SocketAddr;

use suppaftp::tokio::{AsyncFtpStream, AsyncNoTlsStream, TransferStream};
use suppaftp::types::FileType;
use suppaftp::{FtpError, Status};
use tokio::io::AsyncWriteExt;

use super::send::{dropped, Failure, IO_TIMEOUT};

pub(super) struct Ftp(AsyncFtpStream);

/// An FTP error in the station's words.
fn refused(e: &FtpError) -> Failure {
    match e {
        FtpError::UnexpectedResponse(r) => Failure::Retry(
            match r.status {
                Status::NotLoggedIn | Status::InvalidCredentials => "the server refused the user name or password",
                Status::ExceededStorage | Status::RequestedActionNotTaken => {
                    "the server is full: it has no space left for the file"
                }
                Status::FileUnavailable => "the server refused to write there (no such folder, or permission denied)",
                _ => "the server refused the operation",
            }
            .into(),
        ),
        _ => dropped("the connection dropped"),
    }
}

async fn timed<T>(f: impl std::future::Future<Output = Result<T, FtpError>>) -> Result<T, Failure> {
    match tokio::time::timeout(IO_TIMEOUT, f).await {
        Ok(r) => r.map_err(|e| refused(&e)),
        Err(_) => Err(dropped("the server stopped answering")),
    }
}

pub(super) async fn connect(addr: SocketAddr, user: &str, password: &str) -> Result<Ftp, Failure> {
    let tcp = tokio::time::timeout(IO_TIMEOUT, tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| Failure::Retry("could not connect: timed out".into()))?
        .map_err(|_| Failure::Retry("could not connect".into()))?;
    let mut ftp = timed(AsyncFtpStream::connect_with_stream(tcp)).await?;
    ftp.set_passive_nat_workaround(true);
    timed(ftp.login(user, password)).await?;
    timed(ftp.transfer_type(FileType::Binary)).await?;
    Ok(Ftp(ftp))
}

pub(super) struct Writer(TransferStream<AsyncNoTlsStream>);

impl Writer {
    pub(super) async fn write(&mut self, chunk: &[u8]) -> Result<(), Failure> {
        match tokio::time::timeout(IO_TIMEOUT, self.0.write_all(chunk)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(dropped("the connection dropped")),
            Err(_) => Err(dropped("the server stopped taking data")),
        }
    }

    pub(super) async fn finish(self) -> Result<(), Failure> {
        timed(self.0.finish()).await
    }
}

impl Ftp {
    pub(super) async fn size(&mut self, path: &str) -> Result<Option<u64>, Failure> {
        match tokio::time::timeout(IO_TIMEOUT, self.0.size(path)).await {
            Ok(Ok(n)) => Ok(Some(n as u64)),
            Ok(Err(FtpError::UnexpectedResponse(r))) if r.status == Status::FileUnavailable => Ok(None),
            Ok(Err(e)) => Err(refused(&e)),
            Err(_) => Err(dropped("the server stopped answering")),
        }
    }

    pub(super) async fn remove(&mut self, path: &str) -> Result<(), Failure> {
        match tokio::time::timeout(IO_TIMEOUT, self.0.rm(path)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(FtpError::UnexpectedResponse(r))) if r.status == Status::FileUnavailable => Ok(()),
            Ok(Err(e)) => Err(refused(&e)),
            Err(_) => Err(dropped("the server stopped answering")),
        }
    }

    pub(super) async fn rename(&mut self, from: &str, to: &str) -> Result<(), Failure> {
        timed(self.0.rename(from, to)).await
    }

    /// Appends to `path` (made when absent): the server's file already holds
    /// `offset` bytes, which the caller read with [`Ftp::size`].
    pub(super) async fn writer(&mut self, path: &str, _offset: u64) -> Result<Writer, Failure> {
        Ok(Writer(timed(self.0.append_with_stream(path)).await?))
    }

    pub(super) async fn close(mut self) {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), self.0.quit()).await;
    }
}

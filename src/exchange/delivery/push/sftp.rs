//! SFTP targets: an SSH connection (russh) with a password, the host key
//! learnt at the first connection and held to afterwards, and the SFTP
//! subsystem (russh-sftp) over it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::keys::{HashAlg, PublicKeyOrCertificate};
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::client::fs::File;
use russh_sftp::client::SftpSession;
use russh_sftp::protocol::{OpenFlags, StatusCode};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use super::send::{dropped, Failure, IO_TIMEOUT};

/// Holds the server to the host key it showed first (none yet: any, and
/// the key seen is kept).
struct Client {
    expected: Option<String>,
    seen: Arc<Mutex<Option<String>>>,
}

impl russh::client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(&mut self, key: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let fingerprint = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.fingerprint(HashAlg::Sha256).to_string(),
            PublicKeyOrCertificate::Certificate(c) => c.public_key().fingerprint(HashAlg::Sha256).to_string(),
        };
        let ok = self.expected.as_deref().is_none_or(|e| e == fingerprint);
        *self.seen.lock().expect("seen key") = Some(fingerprint);
        Ok(ok)
    }
}

/// An SFTP session on a target.
pub(super) struct Sftp {
    session: SftpSession,
    _ssh: russh::client::Handle<Client>,
}

/// Connects to `addr` and logs in; returns the session and the host key's
/// fingerprint.
pub(super) async fn connect(
    addr: SocketAddr,
    user: &str,
    password: &str,
    host_key: Option<&str>,
) -> Result<(Sftp, String), Failure> {
    let tcp = tokio::time::timeout(IO_TIMEOUT, tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| Failure::Retry("could not connect: timed out".into()))?
        .map_err(|_| Failure::Retry("could not connect".into()))?;
    let _ = tcp.set_nodelay(true);
    let seen = Arc::new(Mutex::new(None));
    let config = Arc::new(russh::client::Config {
        inactivity_timeout: Some(IO_TIMEOUT),
        ..Default::default()
    });
    let handler = Client {
        expected: host_key.map(str::to_owned),
        seen: seen.clone(),
    };
    let connected = tokio::time::timeout(IO_TIMEOUT, russh::client::connect_stream(config, tcp, handler)).await;
    let mut ssh = match connected {
        Ok(Ok(ssh)) => ssh,
        Ok(Err(russh::Error::UnknownKey)) => {
            return Err(Failure::Final(
                "the server's host key is not the one it showed at the first delivery; if it changed on purpose, \
                 remove the target and add it again"
                    .into(),
            ))
        }
        _ => return Err(dropped("the SSH connection could not be set up")),
    };
    let fingerprint = seen.lock().expect("seen key").clone().unwrap_or_default();
    let auth = tokio::time::timeout(IO_TIMEOUT, ssh.authenticate_password(user, password))
        .await
        .map_err(|_| dropped("signing in timed out"))?
        .map_err(|_| dropped("the connection dropped while signing in"))?;
    if !auth.success() {
        return Err(Failure::Retry("the server refused the user name or password".into()));
    }
    let channel = ssh
        .channel_open_session()
        .await
        .map_err(|_| dropped("the server did not open a session"))?;
    channel
        .request_subsystem(true, "sftp")
        .await
        .map_err(|_| Failure::Retry("the server does not offer SFTP".into()))?;
    let session = tokio::time::timeout(IO_TIMEOUT, SftpSession::new(channel.into_stream()))
        .await
        .map_err(|_| dropped("the SFTP session did not start"))?
        .map_err(|e| refused(&e))?;
    session.set_timeout(IO_TIMEOUT.as_secs());
    Ok((Sftp { session, _ssh: ssh }, fingerprint))
}

/// An SFTP error in the station's words.
fn refused(e: &SftpError) -> Failure {
    match e {
        SftpError::Status(s) => Failure::Retry(
            match s.status_code {
                StatusCode::NoSuchFile => "the folder does not exist on the server",
                StatusCode::PermissionDenied => "the server refused to write there (permission denied)",
                StatusCode::Failure => "the server could not write the file (is its disk full?)",
                StatusCode::OpUnsupported => "the server does not support this operation",
                _ => "the server refused the operation",
            }
            .into(),
        ),
        _ => dropped("the connection dropped"),
    }
}

fn is_missing(e: &SftpError) -> bool {
    matches!(e, SftpError::Status(s) if s.status_code == StatusCode::NoSuchFile)
}

/// A file being written.
pub(super) struct Writer(File);

impl Writer {
    pub(super) async fn write(&mut self, chunk: &[u8]) -> Result<(), Failure> {
        match tokio::time::timeout(IO_TIMEOUT, self.0.write_all(chunk)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(io_failure(&e)),
            Err(_) => Err(dropped("the server stopped taking data")),
        }
    }

    pub(super) async fn finish(mut self) -> Result<(), Failure> {
        match tokio::time::timeout(IO_TIMEOUT, async {
            self.0.flush().await?;
            self.0.shutdown().await
        })
        .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(io_failure(&e)),
            Err(_) => Err(dropped("the server did not confirm the write")),
        }
    }
}

/// russh-sftp's file I/O errors carry the status as text.
fn io_failure(e: &std::io::Error) -> Failure {
    let text = e.to_string();
    if text.contains("Failure") || text.contains("No space") {
        Failure::Retry("the server could not write the file (is its disk full?)".into())
    } else if text.contains("Permission denied") {
        Failure::Retry("the server refused to write there (permission denied)".into())
    } else {
        dropped("the connection dropped")
    }
}

impl Sftp {
    /// The size of `path`, or `None` when there is none.
    pub(super) async fn size(&mut self, path: &str) -> Result<Option<u64>, Failure> {
        match self.session.metadata(path).await {
            Ok(m) => Ok(Some(m.size.unwrap_or(0))),
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(refused(&e)),
        }
    }

    pub(super) async fn remove(&mut self, path: &str) -> Result<(), Failure> {
        match self.session.remove_file(path).await {
            Ok(()) => Ok(()),
            Err(e) if is_missing(&e) => Ok(()),
            Err(e) => Err(refused(&e)),
        }
    }

    pub(super) async fn rename(&mut self, from: &str, to: &str) -> Result<(), Failure> {
        self.session.rename(from, to).await.map_err(|e| refused(&e))
    }

    /// Opens `path` to write from byte `offset` on (made when absent).
    pub(super) async fn writer(&mut self, path: &str, offset: u64) -> Result<Writer, Failure> {
        let flags = OpenFlags::CREATE | OpenFlags::WRITE;
        let mut file = self
            .session
            .open_with_flags(path, flags)
            .await
            .map_err(|e| refused(&e))?;
        file.seek(std::io::SeekFrom::Start(offset))
            .await
            .map_err(|e| io_failure(&e))?;
        Ok(Writer(file))
    }

    pub(super) async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.session.close()).await;
    }
}

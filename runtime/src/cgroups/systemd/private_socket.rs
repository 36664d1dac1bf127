//! systemd's private socket (`/run/systemd/private`), what runc (through
//! go-systemd) falls back to when there is no system bus: a peer-to-peer
//! D-Bus connection, root only.
//!
//! On it systemd signs its messages with the sender
//! `org.freedesktop.systemd1`, a well-known name, where D-Bus puts a unique
//! name (`:1.42`). zbus reads the sender field as a unique name and its
//! connection thread panics on such a message. So the read side of the
//! socket goes through [`SenderFix`], which overwrites such a sender in
//! place with a unique name of the same length (nothing else moves); the
//! authentication lines before the messages pass unchanged. Nothing rcrun
//! does looks at the sender on this connection: only systemd is on it.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;

use zbus::connection::socket::{BoxedSplit, ReadHalf, Split};
use zbus::Connection;

pub(super) const ADDRESS: &str = "unix:path=/run/systemd/private";
const PATH: &str = "/run/systemd/private";
/// D-Bus header field 7: SENDER.
const FIELD_SENDER: u8 = 7;
const FIXED_HEADER: usize = 16;

/// A peer-to-peer connection to systemd's private socket.
pub(super) async fn connect() -> zbus::Result<Connection> {
    let stream = UnixStream::connect(PATH)?;
    let (read, write) = BoxedSplit::from(async_io::Async::new(stream)?).take();
    let read: Box<dyn ReadHalf> = Box::new(SenderFix {
        inner: read,
        raw: Vec::new(),
        out: Vec::new(),
        fds: Vec::new(),
    });
    zbus::connection::Builder::socket(Split::new(read, write))
        .p2p()
        .build()
        .await
}

/// The read half of the private socket, handing zbus one authentication
/// line or one whole (fixed) message at a time.
#[derive(Debug)]
struct SenderFix {
    inner: Box<dyn ReadHalf>,
    /// Received, not yet framed.
    raw: Vec<u8>,
    /// Framed and fixed, not yet handed out.
    out: Vec<u8>,
    fds: Vec<OwnedFd>,
}

impl SenderFix {
    /// Reads more from the socket into `raw`; false at end of file.
    async fn fill(&mut self) -> std::io::Result<bool> {
        let mut buf = [0u8; 4096];
        let (n, fds) = self.inner.recvmsg(&mut buf).await?;
        self.fds.extend(fds);
        self.raw.extend_from_slice(&buf[..n]);
        Ok(n > 0)
    }

    /// Moves the next line or message from `raw` to `out`.
    async fn frame(&mut self) -> std::io::Result<()> {
        if self.raw.is_empty() && !self.fill().await? {
            return Ok(());
        }
        if !matches!(self.raw[0], b'l' | b'B') {
            // An authentication line ("OK <guid>", "AGREE_UNIX_FD"...):
            // no message starts with anything but its endianness byte.
            let end = self
                .raw
                .windows(2)
                .position(|w| w == b"\r\n")
                .map_or(self.raw.len(), |i| i + 2);
            self.out = self.raw.drain(..end).collect();
            return Ok(());
        }
        while self.raw.len() < FIXED_HEADER {
            if !self.fill().await? {
                self.out = std::mem::take(&mut self.raw);
                return Ok(());
            }
        }
        let total = message_len(&self.raw);
        while self.raw.len() < total {
            if !self.fill().await? {
                self.out = std::mem::take(&mut self.raw);
                return Ok(());
            }
        }
        self.out = self.raw.drain(..total).collect();
        fix_sender(&mut self.out);
        Ok(())
    }
}

#[async_trait::async_trait]
impl ReadHalf for SenderFix {
    async fn recvmsg(&mut self, buf: &mut [u8]) -> std::io::Result<(usize, Vec<OwnedFd>)> {
        if self.out.is_empty() {
            self.frame().await?;
        }
        let n = buf.len().min(self.out.len());
        buf[..n].copy_from_slice(&self.out[..n]);
        self.out.drain(..n);
        Ok((n, std::mem::take(&mut self.fds)))
    }

    fn can_pass_unix_fd(&self) -> bool {
        self.inner.can_pass_unix_fd()
    }

    async fn peer_credentials(&mut self) -> std::io::Result<zbus::fdo::ConnectionCredentials> {
        self.inner.peer_credentials().await
    }

    fn auth_mechanism(&self) -> zbus::AuthMechanism {
        self.inner.auth_mechanism()
    }
}

fn u32_at(m: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = m.get(at..at + 4)?.try_into().ok()?;
    Some(if m[0] == b'l' {
        u32::from_le_bytes(b)
    } else {
        u32::from_be_bytes(b)
    })
}

fn align(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

/// A message's length from its fixed header (at least 16 bytes of it).
fn message_len(m: &[u8]) -> usize {
    let body = u32_at(m, 4).unwrap_or(0) as usize;
    let fields = u32_at(m, 12).unwrap_or(0) as usize;
    align(FIXED_HEADER + fields, 8) + body
}

/// Whether zbus takes `name` as a sender (a unique name, or the bus).
fn is_unique_name(name: &[u8]) -> bool {
    name == b"org.freedesktop.DBus"
        || (name.first() == Some(&b':')
            && name[1..].contains(&b'.')
            && name[1..].split(|&c| c == b'.').all(|e| {
                !e.is_empty()
                    && e.iter()
                        .all(|c| c.is_ascii_alphanumeric() || b"_-".contains(c))
            }))
}

/// Overwrites a SENDER header field that is not a unique name with
/// `:a.aaa…` of the same length. A header it cannot walk stays as it is.
fn fix_sender(m: &mut [u8]) {
    let Some(fields_len) = u32_at(m, 12) else {
        return;
    };
    let end = (FIXED_HEADER + fields_len as usize).min(m.len());
    let mut at = FIXED_HEADER;
    while at < end {
        at = align(at, 8);
        let (Some(&code), Some(&sig_len)) = (m.get(at), m.get(at + 1)) else {
            return;
        };
        let sig = m
            .get(at + 2..at + 2 + sig_len as usize)
            .unwrap_or(&[])
            .to_vec();
        at += 3 + sig_len as usize;
        match sig.as_slice() {
            b"s" | b"o" => {
                at = align(at, 4);
                let Some(len) = u32_at(m, at) else { return };
                let (start, len) = (at + 4, len as usize);
                let Some(s) = m.get_mut(start..start + len) else {
                    return;
                };
                if code == FIELD_SENDER && len >= 4 && !is_unique_name(s) {
                    s.fill(b'a');
                    s[0] = b':';
                    s[2] = b'.';
                }
                at = start + len + 1;
            }
            b"g" => at += 1 + *m.get(at).unwrap_or(&0) as usize + 1,
            b"u" => at = align(at, 4) + 4,
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little-endian signal header with PATH then SENDER, no body.
    fn header(sender: &str) -> Vec<u8> {
        let mut f = vec![1u8, 1, b'o', 0];
        f.extend(2u32.to_le_bytes());
        f.extend(b"/a\0");
        while f.len() % 8 != 0 {
            f.push(0);
        }
        f.extend([FIELD_SENDER, 1, b's', 0]);
        f.extend((sender.len() as u32).to_le_bytes());
        f.extend(sender.as_bytes());
        f.push(0);
        let mut m = vec![b'l', 4, 0, 1];
        m.extend(0u32.to_le_bytes());
        m.extend(7u32.to_le_bytes());
        m.extend((f.len() as u32).to_le_bytes());
        m.extend(f);
        while m.len() % 8 != 0 {
            m.push(0);
        }
        m
    }

    #[test]
    fn a_well_known_sender_becomes_a_unique_name_of_the_same_length() {
        let mut m = header("org.freedesktop.systemd1");
        let len = m.len();
        assert_eq!(message_len(&m), len);
        fix_sender(&mut m);
        let want = header(":a.aaaaaaaaaaaaaaaaaaaaa");
        assert_eq!(m, want);
        assert!(is_unique_name(b":a.aaaaaaaaaaaaaaaaaaaaa"));
    }

    #[test]
    fn unique_names_are_left_alone() {
        for s in [":1.42", "org.freedesktop.DBus"] {
            let mut m = header(s);
            fix_sender(&mut m);
            assert_eq!(m, header(s), "{s}");
        }
    }
}

//! A real SMTP server on loopback, in process, for the outbound tests and
//! the outbox benchmark (`examples/outbox_bench.rs` includes this file).
//!
//! It speaks enough ESMTP for lettre (EHLO/HELO, MAIL, RCPT, DATA with dot
//! unstuffing, RSET, NOOP, QUIT), keeps every accepted message (envelope and
//! raw bytes) in memory, and can be told to answer the end of DATA with a
//! 4xx for the next N messages or with a 5xx. Each connection gets a thread.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One accepted message.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The DATA bytes, dot-unstuffed, without the final `.` line.
    pub data: Vec<u8>,
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    transient_left: AtomicUsize,
    permanent: AtomicBool,
    refused: AtomicUsize,
    connections: AtomicUsize,
    stop: AtomicBool,
}

/// A running sink; stops when dropped.
pub struct SmtpSink {
    pub port: u16,
    shared: Arc<Shared>,
}

impl SmtpSink {
    /// On a free port.
    pub fn start() -> SmtpSink {
        SmtpSink::start_on(0)
    }

    /// On `port` (0 = any).
    pub fn start_on(port: u16) -> SmtpSink {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the SMTP sink");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                s.connections.fetch_add(1, Ordering::SeqCst);
                let s = s.clone();
                std::thread::spawn(move || {
                    let _ = session(stream, &s);
                });
            }
        });
        SmtpSink { port, shared }
    }

    /// `smtp://127.0.0.1:PORT?tls=none`
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port)
    }

    /// Answer `451` to the next `n` messages.
    pub fn fail_next_transient(&self, n: usize) {
        self.shared.transient_left.store(n, Ordering::SeqCst);
    }

    /// Answer `550` to every message while on.
    pub fn set_permanent_failure(&self, on: bool) {
        self.shared.permanent.store(on, Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.shared.received.lock().unwrap().len()
    }

    /// Messages answered with 4xx or 5xx.
    pub fn refused(&self) -> usize {
        self.shared.refused.load(Ordering::SeqCst)
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Waits until `n` messages were accepted; false on timeout.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.count() >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.count() >= n
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn session(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_millis(500)))?;
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    out.write_all(b"220 sink.test ESMTP ready\r\n")?;
    let mut mail_from = String::new();
    let mut rcpt_to: Vec<String> = Vec::new();
    let mut line = Vec::new();
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        line.clear();
        match read_line(&mut reader, &mut line, shared) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(e),
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        let upper = text.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            out.write_all(b"250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")?;
        } else if upper.starts_with("HELO") {
            out.write_all(b"250 sink.test\r\n")?;
        } else if upper.starts_with("MAIL FROM:") {
            mail_from = address(&text["MAIL FROM:".len()..]);
            rcpt_to.clear();
            out.write_all(b"250 2.1.0 OK\r\n")?;
        } else if upper.starts_with("RCPT TO:") {
            rcpt_to.push(address(&text["RCPT TO:".len()..]));
            out.write_all(b"250 2.1.5 OK\r\n")?;
        } else if upper == "DATA" {
            out.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
            let mut data = Vec::new();
            loop {
                line.clear();
                if read_line(&mut reader, &mut line, shared)? == 0 {
                    return Ok(());
                }
                if line == b".\r\n" || line == b".\n" {
                    break;
                }
                let unstuffed = if line.starts_with(b"..") { &line[1..] } else { &line[..] };
                data.extend_from_slice(unstuffed);
            }
            if shared.permanent.load(Ordering::SeqCst) {
                shared.refused.fetch_add(1, Ordering::SeqCst);
                out.write_all(b"550 5.7.1 Recipient refused by sink policy\r\n")?;
            } else if shared
                .transient_left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                shared.refused.fetch_add(1, Ordering::SeqCst);
                out.write_all(b"451 4.3.0 Temporary failure, try again later\r\n")?;
            } else {
                shared.received.lock().unwrap().push(Received {
                    mail_from: mail_from.clone(),
                    rcpt_to: std::mem::take(&mut rcpt_to),
                    data,
                });
                out.write_all(b"250 2.0.0 Accepted\r\n")?;
            }
        } else if upper == "RSET" {
            mail_from.clear();
            rcpt_to.clear();
            out.write_all(b"250 2.0.0 OK\r\n")?;
        } else if upper.starts_with("NOOP") {
            out.write_all(b"250 2.0.0 OK\r\n")?;
        } else if upper == "QUIT" {
            out.write_all(b"221 2.0.0 Bye\r\n")?;
            return Ok(());
        } else {
            out.write_all(b"502 5.5.2 Command not recognised\r\n")?;
        }
    }
}

/// Reads one line, riding out read timeouts (they only let the loop notice
/// a stop); `Ok(0)` at end of stream or on stop.
fn read_line(reader: &mut BufReader<TcpStream>, line: &mut Vec<u8>, shared: &Shared) -> std::io::Result<usize> {
    loop {
        match reader.read_until(b'\n', line) {
            Ok(n) => return Ok(n),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                if shared.stop.load(Ordering::SeqCst) {
                    return Ok(0);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// `<a@b> SIZE=10` → `a@b`
fn address(arg: &str) -> String {
    let arg = arg.trim();
    let inner = arg.strip_prefix('<').and_then(|a| a.split_once('>')).map(|(a, _)| a).unwrap_or(arg);
    inner.to_string()
}

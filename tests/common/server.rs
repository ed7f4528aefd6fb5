//! Running the real `tusk` binary in tests: a server on a free port.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `tusk` with its data under `dir` (SQLite there unless `db_url` is given).
pub fn tusk(dir: &Path, db_url: Option<&str>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tusk"));
    let url = db_url.map(str::to_string).unwrap_or_else(|| format!("sqlite://{}", dir.join("data/tusk.db").display()));
    cmd.current_dir(dir).env("TUSK_DATA_DIR", dir.join("data")).env("TUSK_DATABASE_URL", url).env("RUST_LOG", "warn");
    cmd
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// GET over a plain TCP connection: (status, whole response).
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let status = buf.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, buf))
}

/// A `tusk serve` child process, killed when dropped.
pub struct Server {
    pub child: Child,
    pub port: u16,
}

impl Server {
    /// Starts `tusk serve` with extra environment and waits for /healthz.
    pub fn start(dir: &Path, db_url: Option<&str>, env: &[(&str, &str)]) -> Server {
        let port = free_port();
        let mut cmd = tusk(dir, db_url);
        cmd.env("TUSK_SERVER_BIND", format!("127.0.0.1:{port}"))
            .env("TUSK_SERVER_PUBLIC_URL", format!("http://127.0.0.1:{port}"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.arg("serve").stdout(Stdio::null()).stderr(Stdio::inherit()).spawn().unwrap();
        let server = Server { child, port };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if let Some((200, _)) = http_get(port, "/healthz") {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("tusk serve did not become healthy");
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: no graceful shutdown, as in a crash.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

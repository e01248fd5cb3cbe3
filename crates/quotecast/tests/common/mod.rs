//! What the binary's tests share: the repository, free ports, a running
//! `quotecast serve`.
#![allow(dead_code, clippy::unwrap_used)]

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub type Server = (
    std::process::Child,
    BufReader<std::process::ChildStderr>,
    String,
);

/// Starts `quotecast serve` with `args` and `env`, waits until it serves,
/// and returns it with its log and the log lines up to the one that says
/// where it serves.
pub fn start_server(args: &[&str], env: &[(&str, &str)]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_quotecast"))
        .arg("serve")
        .args(args)
        .envs(env.iter().copied())
        .current_dir(repo())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let mut startup = String::new();
    let start = Instant::now();
    while !line.contains("quotecast serving") {
        line.clear();
        assert!(log.read_line(&mut line).unwrap() > 0, "server exited early");
        startup.push_str(&line);
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "server did not start"
        );
    }
    (child, log, startup)
}

/// SIGTERM, then the exit status must be success (graceful shutdown).
pub fn stop(child: &mut std::process::Child) {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
}

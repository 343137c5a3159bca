//! A real ZooKeeper for the tests: Debian's `zookeeper` package (3.8), run standalone on
//! 127.0.0.1 with an ephemeral port and a temporary data directory
//! (`org.apache.zookeeper.server.ZooKeeperServerMain`). `.ci/run` installs the package.
//!
//! Without the package the tests fail, saying how to install it, unless
//! `KAFKA07_ZK_UNAVAILABLE=1` is set (what `.ci/run` does only when the package cannot be
//! installed on the machine): then each test prints a loud SKIPPED line and returns.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Where Debian's package puts the server.
const JARS: &[&str] = &[
    "/etc/zookeeper/conf",
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/zookeeper-jute.jar",
];

/// A running ZooKeeper server; stopped (and its data removed) on drop.
pub struct ZkServer {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// `Some(reason)` when no ZooKeeper can be run here.
fn unavailable() -> Option<String> {
    if !std::path::Path::new("/usr/share/java/zookeeper.jar").exists() {
        return Some(
            "Debian's zookeeper package is not installed (apt-get install zookeeper)".into(),
        );
    }
    if Command::new("java")
        .arg("-version")
        .stderr(Stdio::null())
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        return Some("no java on the PATH".into());
    }
    None
}

/// `false` (after printing SKIPPED) when the tests are allowed to skip and ZooKeeper is not
/// there; panics when it is not there and skipping is not allowed.
pub fn available(test: &str) -> bool {
    match unavailable() {
        None => true,
        Some(why) if std::env::var("KAFKA07_ZK_UNAVAILABLE").as_deref() == Ok("1") => {
            eprintln!("!!!! {test} SKIPPED: {why} (KAFKA07_ZK_UNAVAILABLE=1)");
            false
        }
        Some(why) => panic!(
            "{test}: {why}. Install it (see .ci/run), or set KAFKA07_ZK_UNAVAILABLE=1 to skip loudly"
        ),
    }
}

impl ZkServer {
    /// Starts a server with the given tick (session timeouts are 2..20 ticks) and waits until
    /// it answers `ruok`.
    pub fn start_with_tick(tick_ms: u32) -> ZkServer {
        let mut last_err = String::new();
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("tempdir");
            let data = dir.path().join("data");
            std::fs::create_dir_all(&data).unwrap();
            let port = free_port();
            let cfg = dir.path().join("zoo.cfg");
            std::fs::write(
                &cfg,
                format!(
                    "tickTime={tick_ms}\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                     admin.enableServer=false\n4lw.commands.whitelist=ruok,srvr,stat\n\
                     minSessionTimeout={}\nmaxSessionTimeout=60000\nmaxClientCnxns=0\n",
                    data.display(),
                    tick_ms * 2
                ),
            )
            .unwrap();
            let child = spawn(dir.path());
            let mut server = ZkServer { child, port, dir };
            if server.wait_ready() {
                return server;
            }
            last_err = server.log();
            drop(server); // port taken in between, or a slow start: try again
        }
        panic!("ZooKeeper did not start: {last_err}");
    }

    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self.four_letter("ruok").as_deref() == Some("imok") {
                return true;
            }
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Stops the server (SIGTERM), keeping its data directory and port: clients see the
    /// connection drop, sessions are kept in the data directory.
    pub fn stop(&mut self) {
        if let Some(pid) = self.java_pid() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
        let _ = self.child.wait();
    }

    /// Starts a stopped server again on the same port and data (its sessions come back with
    /// fresh timeouts, as ZooKeeper restores them from its log).
    pub fn restart(&mut self) {
        self.child = spawn(self.dir.path());
        assert!(
            self.wait_ready(),
            "ZooKeeper did not restart: {}",
            self.log()
        );
    }

    /// A server with a 200 ms tick (session timeouts from 400 ms).
    pub fn start() -> ZkServer {
        Self::start_with_tick(200)
    }

    /// `127.0.0.1:<port>`.
    pub fn hosts(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A connect string with a chroot of its own for one test (so tests sharing a server do
    /// not see each other's nodes).
    pub fn connect(&self, chroot: &str) -> String {
        format!("127.0.0.1:{}/{chroot}", self.port)
    }

    /// Sends a four-letter command; the answer, if the server gave one.
    pub fn four_letter(&self, cmd: &str) -> Option<String> {
        let addr = format!("127.0.0.1:{}", self.port).parse().ok()?;
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        s.write_all(cmd.as_bytes()).ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out.trim().to_owned())
    }

    /// The java process's pid (the child of the watchdog shell).
    pub fn java_pid(&self) -> Option<u32> {
        let out = Command::new("pgrep")
            .args(["-P", &self.child.id().to_string(), "java"])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .lines()
            .next()?
            .parse()
            .ok()
    }

    /// Freezes the server (SIGSTOP): clients lose their connection, no session is served.
    pub fn pause(&self) {
        let pid = self.java_pid().expect("the ZooKeeper java process");
        assert!(Command::new("kill")
            .args(["-STOP", &pid.to_string()])
            .status()
            .unwrap()
            .success());
    }

    /// Lets a paused server run again (SIGCONT).
    pub fn resume(&self) {
        let pid = self.java_pid().expect("the ZooKeeper java process");
        assert!(Command::new("kill")
            .args(["-CONT", &pid.to_string()])
            .status()
            .unwrap()
            .success());
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        let f = std::fs::File::open(self.dir.path().join("server.log"));
        let Ok(f) = f else {
            return String::new();
        };
        let lines: Vec<String> = BufReader::new(f).lines().map_while(Result::ok).collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

/// Runs the server of `dir/zoo.cfg` under a watchdog shell: the server dies with the test
/// process even when that is killed (no server outlives its tests).
fn spawn(dir: &std::path::Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .unwrap();
    let me = std::process::id();
    let script = format!(
        "java -Xmx256m -cp {} org.apache.zookeeper.server.ZooKeeperServerMain {} & j=$!; \
         trap 'kill $j 2>/dev/null; exit 0' TERM; \
         while kill -0 {me} 2>/dev/null && kill -0 $j 2>/dev/null; do sleep 0.5; done; \
         kill $j 2>/dev/null; kill -CONT $j 2>/dev/null; wait $j",
        JARS.join(":"),
        dir.join("zoo.cfg").display()
    );
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("sh runs")
}

impl Drop for ZkServer {
    fn drop(&mut self) {
        if let Some(pid) = self.java_pid() {
            let _ = Command::new("kill")
                .args(["-CONT", &pid.to_string()])
                .status();
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One server shared by every test of a test binary (started on first use; it dies with the
/// test process). Tests keep apart by chroot.
pub fn shared() -> &'static ZkServer {
    static SERVER: OnceLock<ZkServer> = OnceLock::new();
    SERVER.get_or_init(ZkServer::start)
}

/// Every wait of the ZooKeeper tests ends by this.
pub const WAIT: Duration = Duration::from_secs(40);

/// Polls `f` until it returns `Some`, at most [`WAIT`].
pub fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + WAIT;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A loopback port nobody listens on (bound, then released).
pub fn closed_port() -> u16 {
    free_port()
}

/// A unique chroot name for a test.
pub fn chroot(test: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{test}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

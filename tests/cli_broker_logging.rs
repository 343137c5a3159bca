//! `kafka07 broker` logging (issue #14, item 5): quiet by default, `-v` logs each rejected
//! request with the peer and the reason; and the open-file limit (item 4), raised to what
//! the connection and segment limits need, or a warning when the hard limit is lower.

mod common;

use common::*;

/// Runs a broker with `extra` flags, sends one produce to a partition out of range (and one
/// valid one), stops the broker and returns its stderr.
fn broker_log(extra: &[&str]) -> String {
    let broker = BrokerProc::start_with(&[&["--port", "0"], extra].concat(), true);
    let addr = broker.addr.clone();
    let bad = run(&["produce", "-b", &addr, "-t", "t", "-p", "9", "-m", "x"]);
    assert_ne!(bad.code, Some(0), "{}", bad.stderr);
    let good = run(&["produce", "-b", &addr, "-t", "good", "-m", "x"]);
    assert_eq!(good.code, Some(0), "{}", good.stderr);
    broker.stop_with_stderr().1
}

#[test]
fn rejected_requests_are_logged_with_peer_and_reason_only_with_v() {
    let quiet = broker_log(&[]);
    assert!(!quiet.contains("request rejected"), "{quiet}");
    let verbose = broker_log(&["-v"]);
    let line = verbose
        .lines()
        .find(|l| l.contains("request rejected"))
        .unwrap_or_else(|| panic!("no rejection logged:\n{verbose}"));
    assert!(line.contains("127.0.0.1:"), "{line}");
    assert!(line.contains("(partition out of range)"), "{line}");
    assert!(line.contains("INFO"), "{line}");
}

/// The soft and hard "Max open files" of a process, from /proc/PID/limits.
fn open_file_limits(pid: u32) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (v[0], v[1])
}

/// `prlimit` (util-linux) sets the broker's starting limits; skipped where it is missing.
fn prlimit() -> Option<&'static str> {
    let ok = std::process::Command::new("prlimit")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIPPED: prlimit (util-linux) is not installed");
    }
    ok.then_some("prlimit")
}

#[test]
fn the_open_file_limit_is_raised_to_what_the_limits_need() {
    let Some(prlimit) = prlimit() else { return };
    // 300 connections + 100 segment files + 64 spare = 464 needed; soft 128, hard 1000.
    let broker = BrokerProc::start_under(
        &[prlimit, "--nofile=128:1000"],
        &[
            "--port",
            "0",
            "-v",
            "--max-connections",
            "300",
            "--max-open-segments",
            "100",
        ],
        true,
    );
    assert_eq!(open_file_limits(broker.child.id()), (464, 1000));
    let good = run(&["produce", "-b", &broker.addr, "-t", "t", "-m", "x"]);
    assert_eq!(good.code, Some(0), "{}", good.stderr);
    let (code, err) = broker.stop_with_stderr();
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("open-file limit raised from 128 to 464"),
        "{err}"
    );
}

#[test]
fn a_hard_open_file_limit_below_the_need_is_a_warning_and_the_broker_still_serves() {
    let Some(prlimit) = prlimit() else { return };
    // The defaults need 10,000 + 1,000 + 64 descriptors; the hard limit allows 512.
    let broker = BrokerProc::start_under(&[prlimit, "--nofile=100:512"], &["--port", "0"], true);
    assert_eq!(open_file_limits(broker.child.id()), (512, 512));
    let good = run(&["produce", "-b", &broker.addr, "-t", "t", "-m", "x"]);
    assert_eq!(good.code, Some(0), "{}", good.stderr);
    let (code, err) = broker.stop_with_stderr();
    assert_eq!(code, Some(0), "{err}");
    let warning = err
        .lines()
        .find(|l| l.contains("open-file limit"))
        .unwrap_or_else(|| panic!("no warning:\n{err}"));
    assert!(warning.contains("WARN"), "{warning}");
    assert!(
        warning.contains("is 512, below the 11064 descriptors"),
        "{warning}"
    );
}

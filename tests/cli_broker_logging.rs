//! `kafka07 broker` logging (issue #14, item 5): quiet by default, `-v` logs each rejected
//! request with the peer and the reason.

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

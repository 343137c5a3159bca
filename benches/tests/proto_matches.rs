//! The prototypes measured by the benches behave exactly as the code they would replace: the
//! one-pass shallow decoder yields what `MessageSet::shallow_with` yields (offsets, payloads,
//! CRC statuses, errors) on every input of the `shallow` fuzz corpus, under every CRC policy.

use std::fs;
use std::path::PathBuf;

use kafka07_benches::proto::OnePass;
use kafka07_proto::{CrcPolicy, DecodeOptions, MessageSet};

#[test]
fn one_pass_matches_shallow_on_the_fuzz_corpus() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/shallow");
    let mut inputs = 0;
    for entry in fs::read_dir(&dir).expect("the shallow corpus") {
        let data = fs::read(entry.unwrap().path()).unwrap();
        // The shallow target's 9 parameter bytes come first.
        let set = data.get(9..).unwrap_or(&[]);
        for policy in [CrcPolicy::Verify, CrcPolicy::Skip, CrcPolicy::Report] {
            let ours: Vec<_> = OnePass::new(set, 1000, policy)
                .map(|r| r.map(|m| (m.offset, m.payload, m.crc)))
                .collect();
            let reference: Vec<_> = MessageSet::new(set, 1000)
                .shallow_with(DecodeOptions::default().crc(policy))
                .map(|r| r.map(|m| (m.offset, m.message.payload(), m.crc)))
                .collect();
            assert_eq!(ours, reference, "{policy:?} on {data:02x?}");
        }
        inputs += 1;
    }
    assert!(inputs > 100, "only {inputs} corpus inputs");
}

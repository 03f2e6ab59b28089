//! Feeds arbitrary bytes to the STAN server-state log's recovery (`natrix::stan::state`),
//! then starts a core over the recovered state (channels in memory, the log in memory).
//! Nothing may panic; what recovery reports must be consistent (the bytes it used are a
//! prefix, all of them when nothing was cut); the recovered state must survive its own
//! snapshot unchanged; and a core started over it must export the same state again after
//! the snapshot it writes at start, which must be exactly that state.
#![no_main]

use std::cell::RefCell;
use std::rc::Rc;

use libfuzzer_sys::fuzz_target;
use natrix::stan::state::{encode_snapshot, frame, header, recover};
use natrix::stan::{ChannelFactory, MemChannels, StanOptions, StanServer, StateLog};
use natrix::store::StoreError;

/// The log in memory, shared with the test: starts with the fuzzed bytes.
struct MemLog(Rc<RefCell<Vec<u8>>>);

impl StateLog for MemLog {
    fn read(&mut self) -> Result<Vec<u8>, StoreError> {
        Ok(self.0.borrow().clone())
    }
    fn append(&mut self, bytes: &[u8], _sync: bool) -> Result<(), StoreError> {
        self.0.borrow_mut().extend_from_slice(bytes);
        Ok(())
    }
    fn replace(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        *self.0.borrow_mut() = bytes.to_vec();
        Ok(())
    }
}

struct Factory(Rc<RefCell<Vec<u8>>>);

impl ChannelFactory for Factory {
    type Store = <MemChannels as ChannelFactory>::Store;
    fn create(&mut self, name: &str) -> Result<Self::Store, StoreError> {
        MemChannels.create(name)
    }
    fn remove(&mut self, _name: &str, _store: Self::Store) {}
    fn state_log(&mut self) -> Option<Box<dyn StateLog>> {
        Some(Box::new(MemLog(self.0.clone())))
    }
}

/// The input as a file: as is when its first byte is odd; otherwise the rest cut into
/// payloads (each led by its length byte) framed with good checksums, so the fuzzer reaches
/// the decoding and replay behind the checksum.
fn as_file(data: &[u8]) -> Vec<u8> {
    match data.split_first() {
        Some((mode, rest)) if mode & 1 == 0 => {
            let mut out = header().to_vec();
            let mut rest = rest;
            while let Some((&len, tail)) = rest.split_first() {
                let (payload, next) = tail.split_at((len as usize).min(tail.len()));
                frame(payload, &mut out);
                rest = next;
            }
            out
        }
        _ => data.to_vec(),
    }
}

fuzz_target!(|input: &[u8]| {
    let file = as_file(input);
    let data = &file[..];
    let r = recover(data);
    assert!(r.valid_bytes <= data.len());
    if r.cut.is_none() {
        assert_eq!(r.valid_bytes, data.len());
    } else {
        assert!(r.cut.is_some_and(|c| c.at == r.valid_bytes || c.at == 0));
    }
    let again = recover(&encode_snapshot(&r.state));
    assert!(again.cut.is_none());
    assert_eq!(again.state, r.state);
    let o = StanOptions {
        cluster_id: if r.state.cluster_id.is_empty() {
            "test-cluster".into()
        } else {
            r.state.cluster_id.clone()
        },
        ..StanOptions::default()
    };
    // A stored cluster ID that is not a valid option is refused, never a panic.
    let log = Rc::new(RefCell::new(data.to_vec()));
    if let Ok(s) = StanServer::new(o, Factory(log.clone()), 1_000) {
        // The snapshot written at start is the core's state exactly.
        let written = recover(&log.borrow());
        assert!(written.cut.is_none());
        assert_eq!(written.state, s.export_state());
    }
});

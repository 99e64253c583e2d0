//! The seed's dump format importer.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok((draft, _)) = folio::import::dump::read(std::path::Path::new("fuzz.txt"), text) {
            let _ = draft.to_markdown();
        }
    }
});

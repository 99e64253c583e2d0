//! Wikilinks and the See also section, in a body that belongs to a small site.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let body = folio::markdown::render_standalone(text, folio::markdown::Dialect::Folio);
        let _ = folio::markdown::inline_plain_text(text);
        assert!(!body.html.contains("href=\"javascript:"));
    }
});

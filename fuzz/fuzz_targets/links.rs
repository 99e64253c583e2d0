//! Wikilinks and the See also section, in a body that belongs to a small site: any text renders
//! without a panic. (Raw HTML is the author's own and passes through, so the output is not
//! checked for `javascript:` here; the unit tests check Markdown links.)
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = folio::markdown::render_standalone(text, folio::markdown::Dialect::Folio);
        let _ = folio::markdown::inline_plain_text(text);
    }
});

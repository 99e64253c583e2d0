//! The MediaWiki wikitext importer: nothing of `{{…}}` may survive, whatever the input.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let (draft, _) = folio::import::wikitext::convert("Fuzz", text);
        let markdown = draft.to_markdown();
        assert!(!draft.body.contains("{{"), "{{ survived");
        let _ = markdown;
    }
});

//! Front matter splitting and parsing: any bytes give an article or diagnostics, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        let _ = folio::source::decode(std::path::Path::new("fuzz.md"), data.to_vec());
        return;
    };
    let _ = folio::article::split_front_matter(text);
    let _ = folio::article::Article::parse(folio::source::Source {
        rel_path: "dir/fuzz.md".into(),
        display_path: "content/dir/fuzz.md".into(),
        text: text.to_string(),
    });
});

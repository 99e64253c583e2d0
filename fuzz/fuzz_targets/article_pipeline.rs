//! The whole pipeline on a two-article site: parse, index, render bodies, link, render pages.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (first, second) = text.split_at(text.char_indices().nth(text.chars().count() / 2).map_or(0, |(i, _)| i));
    let articles: Vec<folio::article::Article> = [("a.md", first), ("dir/b.md", second)]
        .into_iter()
        .filter_map(|(rel, text)| {
            folio::article::Article::parse(folio::source::Source {
                rel_path: rel.into(),
                display_path: format!("content/{rel}").into(),
                text: text.to_string(),
            })
            .ok()
        })
        .collect();
    let Ok((config, theme)) = folio::load_config_and_theme(std::path::Path::new("/nonexistent-fuzz-site")) else {
        return;
    };
    let inputs = folio::LinkInputs {
        root: std::path::Path::new("/nonexistent-fuzz-site"),
        config,
        theme,
        articles,
        diagnostics: Default::default(),
        strict_flag: false,
    };
    let mut compiled = folio::link(inputs, folio::Timings::start(), |_, _| None);
    let output = folio::incremental::MemoryOutput::default();
    let _ = folio::pages::write_site(&mut compiled, &output, &mut folio::Timings::start());
});

//! `folio serve` rebuilds only what a change touches, and the result is byte-identical to a
//! fresh full build: checked after each step of a sequence of edits, additions, renames and
//! deletions, and with the number of pages it rendered.

use std::path::Path;

use folio::incremental::{Session, Update, build_in_memory};

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join("content").join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    // File times can be coarse: make each write visible as a change.
    let later =
        std::time::SystemTime::now() + std::time::Duration::from_secs(rand_offset(rel, text));
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(later)
        .unwrap();
}

fn rand_offset(rel: &str, text: &str) -> u64 {
    (rel.len() as u64 * 31 + text.len() as u64) % 1000 + 1
}

fn assert_same_as_full_build(session: &Session, root: &Path, step: &str) {
    let full = build_in_memory(root).unwrap();
    let ours = session.output();
    let paths: Vec<&String> = full.keys().chain(ours.keys()).collect();
    for path in paths {
        assert!(
            full.get(path).map(|b| &b[..]) == ours.get(path).map(|b| &b[..]),
            "after {step}: {path} differs from a full build (in full build: {}, incremental: {})",
            full.contains_key(path),
            ours.contains_key(path)
        );
    }
}

/// One step of a sequence: `rel` gets `text`, the session rebuilds, and its output must equal
/// a full build's. Returns what the rebuild did.
fn step(session: &mut Session, root: &Path, rel: &str, text: &str, what: &str) -> Update {
    write(root, rel, text);
    let update = session.rebuild().unwrap();
    assert_same_as_full_build(session, root, what);
    update
}

fn article(title: &str, description: &str, body: &str) -> String {
    format!("+++\ntitle = \"{title}\"\ndescription = \"{description}\"\n+++\n{body}\n")
}

#[test]
fn every_rebuild_equals_a_full_build() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::write(root.join("book.toml"), "[book]\ntitle = \"Incremental\"\n").unwrap();
    for i in 0..12 {
        let next = (i + 1) % 12;
        write(
            root,
            &format!("a{i}.md"),
            &article(
                &format!("Article {i}"),
                "plain",
                &format!(
                    "Links to [[Article {next}]].\n\n## See also\n- Article {}",
                    (i + 5) % 12
                ),
            ),
        );
    }
    let mut session = Session::new(root);
    let first = session.rebuild().unwrap();
    assert_eq!(first.pages_rendered, 12);
    assert_same_as_full_build(&session, root, "the first build");

    // Editing one body re-renders that article and its neighbours only.
    let update = step(
        &mut session,
        root,
        "a3.md",
        &article(
            "Article 3",
            "plain",
            "Now links to [[Article 7]] and [[Nowhere]].\n\n## See also\n- Article 8",
        ),
        "an edit",
    );
    assert!(
        update.pages_rendered < 12,
        "rendered {} pages",
        update.pages_rendered
    );
    assert_eq!(update.bodies_rendered, 1);
    assert!(update.changed.contains(&"a3.html".to_string()));
    assert!(update.changed.contains(&"missing/nowhere.html".to_string()));

    // Prose alone leaves the home page, the graph page and graph.json as they were.
    let update = step(
        &mut session,
        root,
        "a3.md",
        &article(
            "Article 3",
            "plain",
            "Now links to [[Article 7]] and [[Nowhere]], in other words.\n\n## See also\n- Article 8",
        ),
        "a prose edit",
    );
    assert!(update.changed.contains(&"a3.html".to_string()));
    for untouched in ["index.html", "graph.html", "graph.json", "a11.html"] {
        assert!(
            !update.changed.contains(&untouched.to_string()),
            "{untouched} changed: {:?}",
            update.changed
        );
    }

    // A missing title's page lists every article that still links to it: a second one links
    // to it, then the first takes its link away.
    step(
        &mut session,
        root,
        "a10.md",
        &article(
            "Article 10",
            "plain",
            "Links to [[Article 11]] and [[Nowhere]].",
        ),
        "a second link to a missing title",
    );
    let update = step(
        &mut session,
        root,
        "a3.md",
        &article(
            "Article 3",
            "plain",
            "Now links to [[Article 7]] alone.\n\n## See also\n- Article 8",
        ),
        "a link to a missing title taken away",
    );
    assert!(update.changed.contains(&"missing/nowhere.html".to_string()));
    step(
        &mut session,
        root,
        "a3.md",
        &article(
            "Article 3",
            "plain",
            "Now links to [[Article 7]] and [[Nowhere]], in other words.\n\n## See also\n- Article 8",
        ),
        "the link back",
    );

    // A shared title's page lists the articles that link to it: one takes its link away.
    write(
        root,
        "dup.md",
        &article("Article 11", "a second", "Same title."),
    );
    step(
        &mut session,
        root,
        "a9.md",
        &article("Article 9", "plain", "Links to [[Article 11]]."),
        "a shared title",
    );
    let update = step(
        &mut session,
        root,
        "a10.md",
        &article("Article 10", "plain", "Links to [[Nowhere]]."),
        "a link to a shared title taken away",
    );
    assert_eq!(update.bodies_rendered, 1);
    std::fs::remove_file(root.join("content/dup.md")).unwrap();
    session.rebuild().unwrap();
    assert_same_as_full_build(&session, root, "a shared title no more");

    // A category's page lists every article still in it: two articles share one, then the
    // first moves to another.
    let in_category = |title: &str, category: &str| {
        format!(
            "+++\ntitle = \"{title}\"\ndescription = \"plain\"\ncategories = [\"{category}\"]\n+++\nText.\n"
        )
    };
    write(root, "a1.md", &in_category("Article 1", "Shared"));
    step(
        &mut session,
        root,
        "a2.md",
        &in_category("Article 2", "Shared"),
        "two articles in one category",
    );
    let update = step(
        &mut session,
        root,
        "a1.md",
        &in_category("Article 1", "Other"),
        "an article moved to another category",
    );
    assert!(update.changed.contains(&"category/shared.html".to_string()));

    // A new description shows on the pages that list the article.
    step(
        &mut session,
        root,
        "a4.md",
        &article("Article 4", "a new description", "Links to [[Article 5]]."),
        "a description change",
    );

    // An infobox template shows in graph.json.
    step(
        &mut session,
        root,
        "a4.md",
        "+++\ntitle = \"Article 4\"\ndescription = \"a new description\"\n[infobox]\ntemplate = \"bilateral-relations\"\n+++\nLinks to [[Article 5]].\n",
        "an infobox template",
    );

    // Adding an article that others already wanted.
    step(
        &mut session,
        root,
        "nowhere.md",
        &article("Nowhere", "now written", "Exists."),
        "an addition",
    );

    // Renaming a file and retitling an article.
    std::fs::rename(root.join("content/a6.md"), root.join("content/sub-a6.md")).unwrap();
    step(
        &mut session,
        root,
        "a7.md",
        &article("Article Seven", "renamed", "Links to [[Article 8]]."),
        "a rename",
    );

    // Deleting an article turns links to it red.
    std::fs::remove_file(root.join("content/a8.md")).unwrap();
    let update = session.rebuild().unwrap();
    assert!(
        update.changed.contains(&"a8.html".to_string()),
        "the deleted page goes"
    );
    assert_same_as_full_build(&session, root, "a deletion");

    // An error keeps the last good output; fixing it recovers.
    write(root, "a9.md", "+++\ntitle = \n+++\n");
    assert!(session.rebuild().is_err());
    assert_same_as_full_build_except(&session, root);
    step(
        &mut session,
        root,
        "a9.md",
        &article("Article 9", "fixed", "Back."),
        "a fixed error",
    );

    // A template change rebuilds everything.
    std::fs::create_dir_all(root.join("templates")).unwrap();
    std::fs::write(
        root.join("templates/404.html"),
        "{% extends \"base.html\" %}{% block content %}Lost.{% endblock content %}",
    )
    .unwrap();
    let update = session.rebuild().unwrap();
    assert!(update.changed.contains(&"404.html".to_string()));
    assert_same_as_full_build(&session, root, "a template change");
}

/// While the content has an error, the session keeps serving the previous output.
fn assert_same_as_full_build_except(session: &Session, root: &Path) {
    assert!(build_in_memory(root).is_err());
    assert!(session.output().contains_key("a9.html"));
}

/// The search index is updated, not rebuilt, on an edit: a word that becomes rare (found in
/// at most 40 articles, so shown in context) or stops being rare changes the text shards of
/// every article that has it, and a word with a new first two letters adds a shard.
#[test]
fn the_search_index_follows_edits_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::write(root.join("book.toml"), "[book]\ntitle = \"Search\"\n").unwrap();
    let body = |i: usize, extra: &str| {
        format!(
            "Every article says widespread here, number {i}. {extra}\n\n## Part\nMore text {i}."
        )
    };
    for i in 0..42 {
        write(
            root,
            &format!("s{i}.md"),
            &article(&format!("Search {i}"), "", &body(i, "")),
        );
    }
    let mut session = Session::new(root);
    session.rebuild().unwrap();
    assert_same_as_full_build(&session, root, "the first build");
    let steps: [(usize, String, &str); 5] = [
        (
            3,
            body(3, "").replace("widespread", "local"),
            "a word used by 41 of 42",
        ),
        (
            4,
            body(4, "").replace("widespread", "local"),
            "a word now rare (40)",
        ),
        (4, body(4, "Also widespread."), "a word common again (41)"),
        (
            5,
            body(5, "Qzxv is new. Widespread widespread."),
            "a new shard and a count",
        ),
        (5, body(5, ""), "the new shard gone again"),
    ];
    for (i, text, step) in steps {
        write(
            root,
            &format!("s{i}.md"),
            &article(&format!("Search {i}"), "", &text),
        );
        let update = session.rebuild().unwrap();
        assert_eq!(update.bodies_rendered, 1, "{step}");
        assert_same_as_full_build(&session, root, step);
    }
}

/// Waits until the folders' last changes are older than a look at every file trusts.
fn settle() {
    std::thread::sleep(std::time::Duration::from_millis(2100));
}

#[test]
fn a_look_at_every_file_walks_the_folders_again_only_when_one_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::write(root.join("book.toml"), "[book]\ntitle = \"Walks\"\n").unwrap();
    write(root, "a.md", &article("A", "first", "Links to [[B]]."));
    write(root, "sub/b.md", &article("B", "second", "Links to [[A]]."));
    let content = root.join("content");
    settle();
    let mut session = Session::new(root);
    session.rebuild().unwrap();
    assert_eq!(session.walks(), 1);
    // Each step: whether the folders settle first, the file written, and the walks so far. An
    // edit in place leaves the folders as they were, and the listing is kept; a file added
    // changes its folder, which is walked again, and again while it has just changed.
    let steps = [
        (
            false,
            "a.md",
            "Links to [[B]] and [[C]].",
            1,
            "an edit in place",
        ),
        (false, "sub/c.md", "New.", 2, "an addition"),
        (
            false,
            "sub/c.md",
            "New, edited.",
            3,
            "an edit just after the addition",
        ),
        (
            true,
            "sub/c.md",
            "Edited again.",
            4,
            "an edit once the folders settled",
        ),
        (
            false,
            "sub/c.md",
            "And again.",
            4,
            "an edit in settled folders",
        ),
    ];
    for (settle_first, rel, body, walks, what) in steps {
        if settle_first {
            settle();
        }
        let title = rel.trim_end_matches(".md").rsplit('/').next().unwrap();
        let text = article(&title.to_uppercase(), what, body);
        step(&mut session, root, rel, &text, what);
        assert_eq!(session.walks(), walks, "after {what}");
    }
    // A rename and a removal are seen, as is a new folder.
    std::fs::rename(content.join("sub/c.md"), content.join("sub/d.md")).unwrap();
    session.rebuild().unwrap();
    assert_same_as_full_build(&session, root, "a rename");
    std::fs::remove_file(content.join("sub/d.md")).unwrap();
    session.rebuild().unwrap();
    assert_same_as_full_build(&session, root, "a removal");
    let in_new_folder = article("E", "fifth", "In a new folder.");
    step(
        &mut session,
        root,
        "new/e.md",
        &in_new_folder,
        "a new folder",
    );
    assert!(session.output().contains_key("new/e.html"));
    assert_eq!(session.walks(), 7);
}

//! Folio is trusted with the only copy of a wiki: these tests try to make it lose a file,
//! leave a half-written one, write outside the output, or build differently twice.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn folio_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_folio"))
}

fn site(root: &Path, articles: &[(&str, &str)]) {
    std::fs::create_dir_all(root.join("content")).unwrap();
    std::fs::write(root.join("book.toml"), "[book]\ntitle = \"Safe\"\n").unwrap();
    for (rel, text) in articles {
        let path = root.join("content").join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

fn build(root: &Path) -> Result<folio::BuildReport, folio::Error> {
    folio::build(&folio::BuildOptions {
        root: root.to_path_buf(),
        dest_dir: None,
        strict: false,
    })
}

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (rel, std::fs::read(e.path()).unwrap())
        })
        .collect()
}

#[test]
fn files_folio_did_not_write_survive_every_build() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    site(root, &[("a.md", "A"), ("b.md", "B")]);
    build(root).unwrap();
    let out = root.join("book");
    std::fs::create_dir_all(out.join(".git/objects")).unwrap();
    std::fs::write(out.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    std::fs::write(out.join("CNAME"), "wiki.example.org\n").unwrap();
    std::fs::write(out.join("hand-placed.html"), "mine").unwrap();
    for _ in 0..3 {
        build(root).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(out.join(".git/HEAD")).unwrap(),
        "ref: refs/heads/main\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("CNAME")).unwrap(),
        "wiki.example.org\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("hand-placed.html")).unwrap(),
        "mine"
    );
}

#[test]
fn deleted_and_renamed_articles_leave_no_stale_page() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    site(root, &[("a.md", "A"), ("b.md", "B"), ("dir/c.md", "C")]);
    build(root).unwrap();
    std::fs::remove_file(root.join("content/a.md")).unwrap();
    std::fs::rename(root.join("content/dir/c.md"), root.join("content/d.md")).unwrap();
    let report = build(root).unwrap();
    assert!(report.removed >= 2);
    let out = root.join("book");
    assert!(!out.join("a.html").exists());
    assert!(!out.join("dir/c.html").exists());
    assert!(
        !out.join("dir").exists(),
        "an emptied folder of Folio's goes too"
    );
    assert!(out.join("d.html").exists());
}

/// A rebuild leaves the files it would write byte for byte as they are (same inode, same
/// modification time), and replaces every other: changed, altered by hand, or a link.
#[cfg(unix)]
#[test]
fn unchanged_files_are_left_alone_and_every_other_replaced() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    site(root, &[("a.md", "A"), ("b.md", "B"), ("c.md", "C")]);
    let first = build(root).unwrap();
    assert_eq!(first.unchanged, 0);
    let out = root.join("book");
    let inode = |name: &str| std::fs::symlink_metadata(out.join(name)).unwrap().ino();
    let b = inode("b.html");
    let built = snapshot(&out);
    // b's source changes; c's page is altered by hand, keeping its length; a copy of a's page
    // elsewhere takes its place through a symbolic link.
    std::fs::write(root.join("content/b.md"), "B, longer").unwrap();
    let c_page = &built["c.html"];
    std::fs::write(out.join("c.html"), vec![b'x'; c_page.len()]).unwrap();
    let elsewhere = root.join("a-copy.html");
    std::fs::write(&elsewhere, &built["a.html"]).unwrap();
    std::fs::remove_file(out.join("a.html")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, out.join("a.html")).unwrap();
    let second = build(root).unwrap();
    assert!(second.unchanged > 0 && second.unchanged < second.files);
    assert!(
        std::fs::symlink_metadata(out.join("a.html"))
            .unwrap()
            .is_file(),
        "a link in the output is replaced by the page"
    );
    assert_eq!(std::fs::read(&elsewhere).unwrap(), built["a.html"]);
    assert_ne!(inode("b.html"), b);
    assert_eq!(std::fs::read(out.join("c.html")).unwrap(), *c_page);
    // Nothing changed since: every file stays as it is, pages down to their inodes.
    let (a, b) = (inode("a.html"), inode("b.html"));
    let rebuilt = snapshot(&out);
    let third = build(root).unwrap();
    assert_eq!((inode("a.html"), inode("b.html")), (a, b));
    assert_eq!(third.unchanged, third.files);
    assert_eq!(snapshot(&out), rebuilt);
}

/// A build into a folder that does not exist renames its staging folder into place; one into
/// an empty folder the user made moves the files into it, keeping the folder itself. Both give
/// the same files and manifest, and leave no staging folder behind.
#[cfg(unix)]
#[test]
fn a_new_output_folder_and_an_empty_one_get_the_same_files() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("site");
    site(&root, &[("a.md", "A [[b]]"), ("sub/b.md", "B")]);
    let build_into = |dest: &Path| {
        folio::build(&folio::BuildOptions {
            root: root.clone(),
            dest_dir: Some(dest.to_path_buf()),
            strict: false,
        })
        .unwrap()
    };
    let new = tmp.path().join("out/new");
    let made = tmp.path().join("out/made");
    std::fs::create_dir_all(&made).unwrap();
    let inode = std::fs::metadata(&made).unwrap().ino();
    let (first, second) = (build_into(&new), build_into(&made));
    assert_eq!(first.files, second.files);
    assert_eq!(snapshot(&new), snapshot(&made));
    assert!(snapshot(&new).contains_key(".folio-manifest"));
    assert_eq!(std::fs::metadata(&made).unwrap().ino(), inode);
    let left: Vec<_> = std::fs::read_dir(tmp.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left.len(), 2, "staging folders left: {left:?}");
    // The manifest of the renamed folder tells the next build what is its own.
    std::fs::remove_file(root.join("content/sub/b.md")).unwrap();
    let before = snapshot(&new);
    let again = build_into(&new);
    let after = snapshot(&new);
    let gone: Vec<_> = before.keys().filter(|k| !after.contains_key(*k)).collect();
    assert_eq!(again.removed, gone.len());
    assert!(gone.iter().any(|k| k.ends_with("b.html")), "{gone:?}");
}

#[test]
fn a_tampered_manifest_cannot_make_folio_delete_outside_the_output() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("site");
    site(&root, &[("a.md", "A")]);
    build(&root).unwrap();
    let victim = tmp.path().join("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    let outside = victim.display().to_string();
    // Manifests of paths alone (as Folio wrote before it kept records) and with records.
    for manifest in [
        "a.html\n../../victim.txt\n".to_string(),
        format!("a.html\n{outside}\n"),
        "a.html\na/../../../victim.txt\n".to_string(),
        "folio manifest 2\n-\t-\ta.html\n-\t-\t../../victim.txt\n".to_string(),
        format!("folio manifest 2\n{:032x}\t7\t{outside}\n", 1),
    ] {
        std::fs::write(root.join("book/.folio-manifest"), &manifest).unwrap();
        let err = build(&root).unwrap_err().to_string();
        assert!(err.contains("not a file inside the output"), "{err}");
        assert!(
            victim.exists(),
            "{manifest} deleted a file outside the output"
        );
    }
    std::fs::write(
        root.join("book/.folio-manifest"),
        "folio manifest 2\na.html\n",
    )
    .unwrap();
    let err = build(&root).unwrap_err().to_string();
    assert!(
        err.contains(".folio-manifest:2:1: the manifest line"),
        "{err}"
    );
}

/// A rebuild takes a file Folio wrote as unchanged from the manifest's record of it (its size
/// and hash) without reading it, as long as nothing changed the file since the manifest was
/// written; a file changed since is read, whatever its dates say.
#[cfg(unix)]
#[test]
fn the_manifest_vouches_only_for_files_untouched_since() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    site(root, &[("a.md", "A"), ("b.md", "B"), ("c.md", "C")]);
    build(root).unwrap();
    let out = root.join("book");
    let inode = |name: &str| std::fs::symlink_metadata(out.join(name)).unwrap().ino();
    let (a, b) = (inode("a.html"), inode("b.html"));
    let built = snapshot(&out);
    // The system's clock moves on (it may count in steps of milliseconds), then the manifest
    // is given a wrong record for a.html: trusted, it makes the build write a.html again,
    // though the page in the output is right.
    std::thread::sleep(Duration::from_millis(30));
    let manifest = std::fs::read_to_string(out.join(".folio-manifest")).unwrap();
    let line = manifest
        .lines()
        .find(|l| l.ends_with("\ta.html"))
        .unwrap()
        .to_string();
    let wrong = format!("{:032x}{}", 7, &line[32..]);
    std::fs::write(out.join(".folio-manifest"), manifest.replace(&line, &wrong)).unwrap();
    std::thread::sleep(Duration::from_millis(30));
    // c.html is altered by hand, keeping its length and its modification time.
    let c_page = &built["c.html"];
    let c_time = std::fs::metadata(out.join("c.html"))
        .unwrap()
        .modified()
        .unwrap();
    let c_file = std::fs::OpenOptions::new()
        .write(true)
        .open(out.join("c.html"))
        .unwrap();
    std::io::Write::write_all(&mut &c_file, &vec![b'x'; c_page.len()]).unwrap();
    c_file.set_modified(c_time).unwrap();
    drop(c_file);
    let second = build(root).unwrap();
    assert_ne!(inode("a.html"), a, "a.html was taken from its wrong record");
    assert_eq!(inode("b.html"), b, "b.html was rewritten");
    assert_eq!(std::fs::read(out.join("c.html")).unwrap(), *c_page);
    assert_eq!(second.unchanged + 2, second.files);
    let mut rebuilt = snapshot(&out);
    let mut before = built.clone();
    for files in [&mut rebuilt, &mut before] {
        files.remove(".folio-manifest");
    }
    assert_eq!(rebuilt, before);
    assert_eq!(
        std::fs::read_to_string(out.join(".folio-manifest")).unwrap(),
        manifest,
        "the manifest is the same for the same output"
    );
}

#[test]
fn unsafe_build_folders_are_refused_with_a_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("site");
    site(&root, &[("a.md", "A")]);
    std::fs::create_dir_all(root.join("templates")).unwrap();
    let try_dest = |dest: PathBuf| {
        folio::build(&folio::BuildOptions {
            root: root.clone(),
            dest_dir: Some(dest),
            strict: false,
        })
        .unwrap_err()
        .to_string()
    };
    assert!(try_dest(root.clone()).contains("it is the site's own folder"));
    assert!(try_dest(tmp.path().to_path_buf()).contains("contains the site's sources"));
    assert!(try_dest(root.join("content/out")).contains("inside the source folder"));
    assert!(try_dest(root.join("templates/out")).contains("inside the source folder"));
    assert!(try_dest(root.join("../site/.")).contains("it is the site's own folder"));
    let other = tmp.path().join("other");
    site(&other, &[("x.md", "X")]);
    assert!(try_dest(other.clone()).contains("holds a book.toml"));
    #[cfg(unix)]
    {
        let link = tmp.path().join("link-to-site");
        std::os::unix::fs::symlink(&root, &link).unwrap();
        assert!(
            try_dest(link.clone()).contains("it is the site's own folder"),
            "a symbolic link is seen through"
        );
        assert!(try_dest(link.join("content")).contains("inside the source folder"));
    }
    // The same refusal holds for book.toml's build-dir, and says what to do.
    std::fs::write(
        root.join("book.toml"),
        "[book]\ntitle = \"x\"\n[build]\nbuild-dir = \"content\"\n",
    )
    .unwrap();
    let err = build(&root).unwrap_err().to_string();
    assert!(
        err.contains("inside the source folder") && err.contains("choose another folder"),
        "{err}"
    );
    assert!(!root.join("content/index.html").exists());
}

#[test]
fn content_is_never_written_by_build_check_or_serve() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    site(
        root,
        &[("a.md", "+++\ntitle = \"A\"\n+++\n[[B]]"), ("b.md", "B")],
    );
    let before = snapshot(&root.join("content"));
    build(root).unwrap();
    folio::check::run(root, false).unwrap();
    let mut session = folio::incremental::Session::new(root);
    session.rebuild().unwrap();
    assert_eq!(snapshot(&root.join("content")), before);
}

#[test]
fn the_same_input_gives_byte_identical_output_on_any_thread_count() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("site");
    common::generate(300, &root);
    let run = |dest: &Path, threads: Option<&str>| {
        let mut command = Command::new(folio_bin());
        command
            .arg("build")
            .arg(&root)
            .arg("--dest-dir")
            .arg(dest)
            .arg("--quiet");
        if let Some(n) = threads {
            command.env("RAYON_NUM_THREADS", n);
        }
        assert!(command.status().unwrap().success());
        snapshot(dest)
    };
    let one = run(&tmp.path().join("one"), Some("1"));
    let many = run(&tmp.path().join("many"), None);
    let again = run(&tmp.path().join("again"), Some("3"));
    assert_eq!(
        one.keys().collect::<Vec<_>>(),
        many.keys().collect::<Vec<_>>()
    );
    for (path, bytes) in &one {
        assert!(
            many[path] == *bytes && again[path] == *bytes,
            "{path} differs between runs"
        );
    }
    let text: String = one
        .values()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect();
    assert!(
        !text.contains(&tmp.path().display().to_string()),
        "no absolute path in the output"
    );
}

/// Kills builds at random moments; every output file must be the complete old or the complete
/// new version, and the next build must repair everything and leave no temporary files.
#[test]
fn a_build_killed_at_any_moment_never_leaves_a_half_written_file() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("site");
    let versions: Vec<Vec<(String, String)>> = (0..2)
        .map(|v| {
            (0..150)
                .map(|i| {
                    let body = format!(
                        "Version {v} of article {i}. {}\n\n## See also\n- Article {}\n",
                        "Words. ".repeat(200 + v * 50),
                        (i + 1) % 150
                    );
                    (
                        format!("a{i}.md"),
                        format!("+++\ntitle = \"Article {i}\"\n+++\n{body}"),
                    )
                })
                .collect()
        })
        .collect();
    let write_version = |v: usize| {
        for (rel, text) in &versions[v] {
            std::fs::create_dir_all(root.join("content")).unwrap();
            std::fs::write(root.join("content").join(rel), text).unwrap();
        }
    };
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("book.toml"), "[book]\ntitle = \"Killed\"\n").unwrap();
    let mut reference = Vec::new();
    for v in 0..2 {
        write_version(v);
        let dest = tmp.path().join(format!("reference-{v}"));
        folio::build(&folio::BuildOptions {
            root: root.clone(),
            dest_dir: Some(dest.clone()),
            strict: false,
        })
        .unwrap();
        let mut files = snapshot(&dest);
        files.remove(".folio-manifest");
        reference.push(files);
    }
    let out = root.join("book");
    let mut seed = 12345u64;
    for round in 0..50 {
        write_version(round % 2);
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_millis((seed >> 33) % 120);
        let mut child = Command::new(folio_bin())
            .arg("build")
            .arg(&root)
            .arg("--quiet")
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        if !out.exists() {
            continue;
        }
        for (rel, bytes) in snapshot(&out) {
            if rel == ".folio-manifest" {
                continue;
            }
            assert!(
                reference.iter().any(|r| r.get(&rel) == Some(&bytes)),
                "round {round}: {rel} is neither the old nor the new version"
            );
        }
    }
    write_version(1);
    build(&root).unwrap();
    let mut repaired = snapshot(&out);
    repaired.remove(".folio-manifest");
    let differing: Vec<&String> = repaired
        .keys()
        .chain(reference[1].keys())
        .filter(|k| repaired.get(*k) != reference[1].get(*k))
        .collect();
    assert!(
        differing.is_empty(),
        "the next build repairs the whole output; these differ: {differing:?}"
    );
    let leftovers: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("folio-staging"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary folders left: {leftovers:?}"
    );
}

/// All 754 posts of a real blog (Zola front matter mapped to Folio's: title and description,
/// the rest under `[extra]`) build without error.
#[test]
fn a_real_blog_of_754_posts_builds() {
    let source =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora/rust-blog/content");
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("blog");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("book.toml"), "[book]\ntitle = \"Rust Blog\"\n").unwrap();
    let mut posts = 0;
    for entry in walkdir::WalkDir::new(&source) {
        let entry = entry.unwrap();
        if entry.path().extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let rel = entry.path().strip_prefix(&source).unwrap();
        let target = root.join("content").join(rel);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, to_folio(&text)).unwrap();
        posts += 1;
    }
    assert_eq!(posts, 754);
    let report = build(&root).unwrap_or_else(|e| panic!("the blog builds: {e}"));
    assert_eq!(report.articles, 754);
    assert!(report.diagnostics.iter().all(|d| !d.is_error()));
}

/// Zola front matter -> Folio's: title and description stay, everything else goes to `[extra]`.
fn to_folio(text: &str) -> String {
    let Some(rest) = text.strip_prefix("+++\n") else {
        return text.to_string();
    };
    let (front, body) = rest.split_once("\n+++").unwrap();
    let mut table: toml::Table = toml::from_str(front).unwrap();
    let mut out = toml::Table::new();
    for key in ["title", "description"] {
        if let Some(value) = table.remove(key) {
            out.insert(key.to_string(), value);
        }
    }
    let mut extra = match table.remove("extra") {
        Some(toml::Value::Table(t)) => t,
        _ => toml::Table::new(),
    };
    extra.extend(table);
    out.insert("extra".to_string(), toml::Value::Table(extra));
    format!("+++\n{}+++{body}", toml::to_string(&out).unwrap())
}

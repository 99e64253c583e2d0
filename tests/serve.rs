//! `folio serve` over real HTTP on loopback: pages carry the reload script (and `folio build`'s
//! never do), paths that leave the site are refused (`..`, `%2e%2e`, absolute paths, symbolic
//! links out of it), a content error reaches the open pages as an overlay event and its fix as a
//! reload, and the server stops cleanly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use folio::serve::{Control, OpenBrowser, ServeOptions};

/// Sends a raw request (so that the path reaches the server exactly as written).
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response)
}

fn start(root: &Path) -> (Arc<Control>, SocketAddr, std::thread::JoinHandle<()>) {
    let control = Arc::new(Control::default());
    let options = ServeOptions {
        root: root.to_path_buf(),
        address: "127.0.0.1:0".parse().unwrap(),
        open: OpenBrowser::No,
    };
    let thread_control = Arc::clone(&control);
    let handle = std::thread::spawn(move || {
        folio::serve::run_with(&options, &|_| {}, &thread_control).unwrap()
    });
    let started = Instant::now();
    loop {
        let listening = *control.listening.lock().unwrap();
        if let Some(addr) = listening {
            return (control, addr, handle);
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn site(root: &Path) {
    std::fs::create_dir_all(root.join("content")).unwrap();
    std::fs::create_dir_all(root.join("static")).unwrap();
    std::fs::write(root.join("book.toml"), "[book]\ntitle = \"Served\"\n\n[output.html]\nsite-url = \"https://user.github.io/repo/\"\n").unwrap();
    std::fs::write(
        root.join("content/a.md"),
        "+++\ntitle = \"Alpha\"\n+++\nText.\n",
    )
    .unwrap();
    std::fs::write(root.join("static/own.txt"), "own file\n").unwrap();
}

#[test]
fn serve_serves_the_site_under_its_path_and_refuses_to_leave_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("site");
    site(&root);
    std::fs::write(tmp.path().join("secret.txt"), "secret\n").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(tmp.path().join("secret.txt"), root.join("static/link.txt"))
        .unwrap();
    let (control, addr, handle) = start(&root);

    let (status, page) = get(addr, "/repo/a.html");
    assert_eq!(status, 200);
    assert!(page.contains("<h1 class=\"article-title\">Alpha</h1>"));
    assert!(
        page.contains("new EventSource(\"/repo/__folio/events\")"),
        "served pages reload"
    );
    assert_eq!(
        get(addr, "/").0,
        302,
        "the root redirects to the site's path"
    );
    assert_eq!(get(addr, "/repo/own.txt").0, 200);
    assert_eq!(get(addr, "/repo/nope.html").0, 404);
    for path in [
        "/repo/../secret.txt",
        "/repo/%2e%2e/secret.txt",
        "/repo/%2E%2E%2Fsecret.txt",
        "//etc/passwd",
        "/repo/..%5csecret.txt",
    ] {
        let (status, body) = get(addr, path);
        assert!(status == 403 || status == 400, "{path} gave {status}");
        assert!(!body.contains("secret"), "{path} leaked the file");
    }
    let (status, body) = get(addr, "/repo/link.txt");
    assert_eq!(
        status, 404,
        "a symbolic link out of the site is not followed"
    );
    assert!(!body.contains("secret"));

    control.shut_down();
    handle.join().unwrap();
}

#[test]
fn errors_reach_open_pages_and_fixes_reload_them() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("site");
    site(&root);
    let (control, addr, handle) = start(&root);
    let mut events = TcpStream::connect(addr).unwrap();
    events
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        events,
        "GET /repo/__folio/events HTTP/1.1\r\nHost: localhost\r\n\r\n"
    )
    .unwrap();
    let mut lines = BufReader::new(events.try_clone().unwrap()).lines();
    let mut next_event = || loop {
        let line = lines.next().expect("the event stream stays open").unwrap();
        if let Some(name) = line.strip_prefix("event: ") {
            let data = lines.next().unwrap().unwrap();
            return (name.to_string(), data);
        }
    };
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(root.join("content/a.md"), "+++\ntitle = \n+++\n").unwrap();
    let (name, data) = next_event();
    assert_eq!(name, "build-error");
    assert!(data.contains("content/a.md:2:9"), "{data}");
    std::fs::write(
        root.join("content/a.md"),
        "+++\ntitle = \"Alpha again\"\n+++\nFixed.\n",
    )
    .unwrap();
    let (name, _) = next_event();
    assert_eq!(name, "reload");
    let (_, page) = get(addr, "/repo/a.html");
    assert!(page.contains("Alpha again"));

    control.shut_down();
    drop(events);
    handle.join().unwrap();
}

#[test]
fn built_pages_never_carry_the_reload_script() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("site");
    site(&root);
    folio::build(&folio::BuildOptions {
        root: root.clone(),
        dest_dir: None,
        strict: false,
    })
    .unwrap();
    let page = std::fs::read_to_string(root.join("book/a.html")).unwrap();
    assert!(!page.contains("EventSource"));
}

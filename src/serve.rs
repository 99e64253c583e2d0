//! `folio serve`: build the site into memory, serve it over HTTP under the path of `site-url`
//! (so `/repo/` is tried locally exactly as GitHub Pages will serve it), watch the sources,
//! rebuild what changed and reload the open pages.
//!
//! The served output lives in memory, apart from `folio build`'s, and only served HTML gets the
//! reload script. The reload channel is server-sent events. When the content has an error, the
//! terminal shows the diagnostics and every open page shows them in an overlay until they are
//! fixed. Only files of the built site are served: `..`, encoded dots, absolute paths and
//! backslashes are refused, and nothing on disk is read per request.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::Error;
use crate::incremental::Session;

/// What `folio serve` is asked to do.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The site's folder.
    pub root: PathBuf,
    /// The address to listen on.
    pub address: SocketAddr,
    /// Open the site in a browser once it is served.
    pub open: OpenBrowser,
}

/// Whether to open a browser on start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenBrowser {
    /// Do not (the default).
    No,
    /// Do (`--open`).
    Yes,
}

/// The path under which serve's own endpoints live (never a page of the site).
const ENDPOINT: &str = "__folio/";

/// What the server shows.
struct State {
    output: crate::incremental::Files,
    /// The diagnostics of the last rebuild, when it failed.
    error: Option<String>,
    clients: Vec<Sender<String>>,
}

impl State {
    fn broadcast(&mut self, event: &str) {
        self.clients
            .retain(|client| client.send(event.to_string()).is_ok());
    }
}

/// Lets a caller learn where the server listens and stop it (Ctrl-C does the same).
#[derive(Default)]
pub struct Control {
    /// Set to stop the server.
    pub stop: Arc<AtomicBool>,
    /// The address the server listens on, once it does.
    pub listening: std::sync::Mutex<Option<SocketAddr>>,
    server: std::sync::Mutex<Option<Arc<tiny_http::Server>>>,
}

impl Control {
    /// Stops the server: it finishes the requests under way and returns.
    pub fn shut_down(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Ok(Some(server)) = self.server.lock().map(|s| s.clone()) {
            server.unblock();
        }
    }
}

/// Runs the server until Ctrl-C.
pub fn run(options: &ServeOptions, log: &(dyn Fn(&str) + Sync)) -> Result<(), Error> {
    let control = Arc::new(Control::default());
    {
        let control = Arc::clone(&control);
        let _ = ctrlc::set_handler(move || control.shut_down());
    }
    run_with(options, log, &control)
}

/// Runs the server until `control` stops it.
pub fn run_with(
    options: &ServeOptions,
    log: &(dyn Fn(&str) + Sync),
    control: &Control,
) -> Result<(), Error> {
    let config = crate::config::Config::load(&options.root)?;
    let base = config.base_path();
    let mut session = Session::new(&options.root);
    let state = Arc::new(RwLock::new(State {
        output: Default::default(),
        error: None,
        clients: Vec::new(),
    }));
    rebuild(&mut session, None, &state, log);
    let server = tiny_http::Server::http(options.address)
        .map_err(|e| Error::Usage(format!("cannot listen on {}: {e}", options.address)))?;
    let server = Arc::new(server);
    let address = server.server_addr().to_ip().unwrap_or(options.address);
    if let Ok(mut slot) = control.server.lock() {
        *slot = Some(Arc::clone(&server));
    }
    if let Ok(mut slot) = control.listening.lock() {
        *slot = Some(address);
    }
    let url = format!("http://{address}{base}");
    let scope = if address.ip().is_loopback() {
        "only this computer can open it; use --bind 0.0.0.0 to share it on your network".to_string()
    } else {
        format!(
            "listening on {}: other computers on your network can open it",
            address.ip()
        )
    };
    log(&format!(
        "Serving {} at {url} ({scope}). Press Ctrl-C to stop.",
        config.book.title
    ));
    if options.open == OpenBrowser::Yes {
        open_browser(&url);
    }
    let stop = Arc::clone(&control.stop);
    let (events, changes) = channel();
    let mut watcher = notify::recommended_watcher(events)
        .map_err(|e| Error::Usage(format!("cannot watch the site's files: {e}")))?;
    for dir in [
        config.book.src.clone(),
        PathBuf::from("templates"),
        PathBuf::from("static"),
    ] {
        let path = options.root.join(dir);
        if path.is_dir() {
            let _ = notify::Watcher::watch(&mut watcher, &path, notify::RecursiveMode::Recursive);
        }
    }
    let _ = notify::Watcher::watch(
        &mut watcher,
        &options.root.join(crate::config::CONFIG_FILE),
        notify::RecursiveMode::NonRecursive,
    );
    {
        let state = Arc::clone(&state);
        let stop = Arc::clone(&stop);
        std::thread::scope(|scope| {
            scope.spawn(|| watch(changes, &mut session, &state, &stop, log));
            for request in server.incoming_requests() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let state = Arc::clone(&state);
                let base = base.clone();
                std::thread::spawn(move || respond(request, &base, &state));
            }
            stop.store(true, Ordering::SeqCst);
            if let Ok(mut s) = state.write() {
                s.clients.clear();
            }
        });
    }
    log("Stopped.");
    Ok(())
}

/// How long to wait after a change for the rest of a save (editors write in several steps).
pub const DEBOUNCE: Duration = Duration::from_millis(10);

/// Whether a file event changes anything (reading a file, including Folio's own reads, does not).
fn is_change(event: &notify::Result<notify::Event>) -> bool {
    match event {
        Ok(e) => !matches!(e.kind, notify::EventKind::Access(_)),
        Err(_) => true,
    }
}

fn watch(
    changes: Receiver<notify::Result<notify::Event>>,
    session: &mut Session,
    state: &RwLock<State>,
    stop: &AtomicBool,
    log: &(dyn Fn(&str) + Sync),
) {
    while !stop.load(Ordering::SeqCst) {
        match changes.recv_timeout(Duration::from_millis(200)) {
            Ok(event) if is_change(&event) => {
                // Gather the rest of this save, then rebuild once, from the paths the events
                // name (or from a look at every file, if an event names none).
                let mut paths: Option<Vec<PathBuf>> = Some(Vec::new());
                let mut note = |event: notify::Result<notify::Event>| match event {
                    Ok(e) if matches!(e.kind, notify::EventKind::Access(_)) => {}
                    Ok(e) if !e.paths.is_empty() => {
                        if let Some(paths) = paths.as_mut() {
                            paths.extend(e.paths);
                        }
                    }
                    Ok(_) => paths = None,
                    Err(e) => {
                        log(&format!("watching failed: {e}"));
                        paths = None;
                    }
                };
                note(event);
                while let Ok(more) = changes.recv_timeout(DEBOUNCE) {
                    note(more);
                }
                rebuild(session, paths.as_deref(), state, log);
            }
            Ok(_) | Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
}

fn rebuild(
    session: &mut Session,
    paths: Option<&[PathBuf]>,
    state: &RwLock<State>,
    log: &(dyn Fn(&str) + Sync),
) {
    let result = match paths {
        Some(paths) => session.rebuild_paths(paths),
        None => session.rebuild(),
    };
    let Ok(mut state) = state.write() else {
        return;
    };
    match result {
        Ok(update) => {
            for d in &update.diagnostics {
                log(&d.to_string());
            }
            log(&format!(
                "Rebuilt in {:.0} ms: {} pages rendered, {} files changed",
                update.elapsed.as_secs_f64() * 1000.0,
                update.pages_rendered,
                update.changed.len()
            ));
            let had_error = state.error.take().is_some();
            state.output = session.output().clone();
            if had_error || !update.changed.is_empty() {
                state.broadcast("event: reload\ndata: \n\n");
            }
        }
        Err(e) => {
            let text = e.to_string();
            log(&text);
            let data: String = text.lines().map(|l| format!("data: {l}\n")).collect();
            state.broadcast(&format!("event: build-error\n{data}\n"));
            state.error = Some(text);
        }
    }
}

/// What a request path asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolved {
    /// A file of the site, by its path in the output.
    File(String),
    /// The reload channel.
    Events,
    /// Go here instead (the base path, or a folder's `index.html`).
    Redirect(String),
    /// A path that tries to leave the site.
    Forbidden,
    /// Nothing there.
    NotFound,
}

/// Maps a request path to the site's output, refusing any path that could leave it.
pub fn resolve(base: &str, url: &str) -> Resolved {
    let path = url.split(['?', '#']).next().unwrap_or("");
    if !path.starts_with('/') {
        return Resolved::Forbidden;
    }
    let Some(decoded) = percent_decode(path) else {
        return Resolved::Forbidden;
    };
    if decoded.contains('\\')
        || decoded.contains('\0')
        || decoded.split('/').any(|s| s == ".." || s == ".")
        || decoded.contains("//")
    {
        return Resolved::Forbidden;
    }
    if (decoded.as_str() == "/" || decoded == base.trim_end_matches('/')) && base != "/" {
        return Resolved::Redirect(base.to_string());
    }
    let Some(rel) = decoded.strip_prefix(base) else {
        return Resolved::NotFound;
    };
    if rel == format!("{ENDPOINT}events") {
        return Resolved::Events;
    }
    if rel.is_empty() {
        return Resolved::File("index.html".into());
    }
    if rel.ends_with('/') {
        return Resolved::File(format!("{rel}index.html"));
    }
    Resolved::File(rel.to_string())
}

fn percent_decode(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = path.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "xml" => "application/xml",
        "txt" => "text/plain; charset=utf-8",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// Adds a header; a value that is not a valid header (it can only come from the site's
/// `site-url`) is left out rather than sent broken.
fn with_header<R: std::io::Read>(
    response: tiny_http::Response<R>,
    name: &str,
    value: &str,
) -> tiny_http::Response<R> {
    match tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
        Ok(h) => response.with_header(h),
        Err(()) => response,
    }
}

fn respond(request: tiny_http::Request, base: &str, state: &RwLock<State>) {
    let resolved = resolve(base, request.url());
    let _ = match resolved {
        Resolved::Events => return events(request, state),
        Resolved::Redirect(to) => request.respond(with_header(
            tiny_http::Response::empty(302),
            "Location",
            &to,
        )),
        Resolved::Forbidden => request.respond(
            tiny_http::Response::from_string("Forbidden: that path leaves the site.\n")
                .with_status_code(403),
        ),
        Resolved::NotFound => not_found(request, base, state),
        Resolved::File(rel) => {
            let page = state.read().ok().and_then(|s| {
                let bytes = s.output.get(&rel).or_else(|| {
                    // `/page` serves `page.html`, as GitHub Pages does.
                    s.output.get(&format!("{rel}.html"))
                })?;
                Some(std::sync::Arc::clone(bytes))
            });
            match page {
                Some(bytes) => {
                    let name = if state.read().is_ok_and(|s| s.output.contains_key(&rel)) {
                        rel.clone()
                    } else {
                        format!("{rel}.html")
                    };
                    let body = if name.ends_with(".html") {
                        with_reload_script(&bytes, base)
                    } else {
                        bytes.to_vec()
                    };
                    let response = with_header(
                        tiny_http::Response::from_data(body),
                        "Content-Type",
                        content_type(&name),
                    );
                    request.respond(with_header(response, "Cache-Control", "no-store"))
                }
                None => not_found(request, base, state),
            }
        }
    };
}

fn not_found(
    request: tiny_http::Request,
    base: &str,
    state: &RwLock<State>,
) -> std::io::Result<()> {
    let body = state
        .read()
        .ok()
        .and_then(|s| s.output.get("404.html").cloned())
        .map_or_else(|| b"Not found\n".to_vec(), |b| with_reload_script(&b, base));
    let response = tiny_http::Response::from_data(body).with_status_code(404);
    request.respond(with_header(
        response,
        "Content-Type",
        "text/html; charset=utf-8",
    ))
}

/// Adds the live-reload script before `</body>` (served pages only; built pages never carry it).
fn with_reload_script(html: &[u8], base: &str) -> Vec<u8> {
    let script = RELOAD_SCRIPT.replace("EVENTS_URL", &format!("{base}{ENDPOINT}events"));
    let text = String::from_utf8_lossy(html);
    match text.rfind("</body>") {
        Some(at) => format!("{}{script}{}", &text[..at], &text[at..]).into_bytes(),
        None => format!("{text}{script}").into_bytes(),
    }
}

const RELOAD_SCRIPT: &str = r#"<script>
(function () {
  var key = "folio-scroll:" + location.pathname;
  var saved = sessionStorage.getItem(key);
  if (saved !== null) { sessionStorage.removeItem(key); window.scrollTo(0, +saved); }
  var overlay = null;
  function show(text) {
    if (!overlay) {
      overlay = document.createElement("div");
      overlay.setAttribute("role", "alert");
      overlay.style.cssText = "position:fixed;inset:0;z-index:99999;background:rgba(20,0,0,.92);color:#fff;font:14px/1.5 ui-monospace,monospace;padding:2rem;white-space:pre-wrap;overflow:auto";
      document.body.appendChild(overlay);
    }
    overlay.textContent = "Folio could not build the site:\n\n" + text;
  }
  var source = new EventSource("EVENTS_URL");
  source.addEventListener("reload", function () {
    sessionStorage.setItem(key, String(window.scrollY));
    location.reload();
  });
  source.addEventListener("build-error", function (e) { show(e.data); });
})();
</script>
"#;

/// Streams server-sent events to one page until it goes away or the server stops.
fn events(request: tiny_http::Request, state: &RwLock<State>) {
    use std::io::Write;
    let (sender, receiver) = channel();
    if let Ok(mut s) = state.write() {
        if let Some(error) = &s.error {
            let data: String = error.lines().map(|l| format!("data: {l}\n")).collect();
            let _ = sender.send(format!("event: build-error\n{data}\n"));
        }
        s.clients.push(sender);
    }
    let mut writer = request.into_writer();
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\nConnection: close\r\n\r\nretry: 500\n\n";
    if writer
        .write_all(head.as_bytes())
        .and_then(|()| writer.flush())
        .is_err()
    {
        return;
    }
    loop {
        let event = match receiver.recv_timeout(Duration::from_secs(15)) {
            Ok(event) => event,
            // A comment keeps the connection open through proxies.
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => ": keep-alive\n\n".to_string(),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
        };
        if writer
            .write_all(event.as_bytes())
            .and_then(|()| writer.flush())
            .is_err()
        {
            return;
        }
    }
}

fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    let _ = std::process::Command::new(opener)
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_into_the_site_under_its_base() {
        assert_eq!(
            resolve("/repo/", "/repo/a/b.html"),
            Resolved::File("a/b.html".into())
        );
        assert_eq!(
            resolve("/repo/", "/repo/"),
            Resolved::File("index.html".into())
        );
        assert_eq!(resolve("/repo/", "/"), Resolved::Redirect("/repo/".into()));
        assert_eq!(resolve("/repo/", "/other.html"), Resolved::NotFound);
        assert_eq!(
            resolve("/", "/search.html?q=x"),
            Resolved::File("search.html".into())
        );
        assert_eq!(resolve("/", "/__folio/events"), Resolved::Events);
    }

    #[test]
    fn paths_that_leave_the_site_are_refused() {
        assert_eq!(resolve("/", "/../etc/passwd"), Resolved::Forbidden);
        assert_eq!(resolve("/", "/%2e%2e/etc/passwd"), Resolved::Forbidden);
        assert_eq!(resolve("/", "/a/%2E%2E/%2e%2e/x"), Resolved::Forbidden);
        assert_eq!(resolve("/", "//etc/passwd"), Resolved::Forbidden);
        assert_eq!(resolve("/", "/a\\..\\b"), Resolved::Forbidden);
        assert_eq!(resolve("/", "/a%5c..%5cb"), Resolved::Forbidden);
        assert_eq!(resolve("/", "/%00"), Resolved::Forbidden);
        assert_eq!(resolve("/", "http://evil/x"), Resolved::Forbidden);
        assert_eq!(resolve("/", "/bad%zz"), Resolved::Forbidden);
    }

    #[test]
    fn only_served_html_gets_the_reload_script() {
        let page = with_reload_script(b"<html><body><p>x</p></body></html>", "/repo/");
        let page = String::from_utf8(page).unwrap();
        assert!(page.contains("new EventSource(\"/repo/__folio/events\")"));
        assert!(page.ends_with("</script>\n</body></html>"));
    }
}

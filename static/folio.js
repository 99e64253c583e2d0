// Folio's reader script: search as you type, and the full results page.
//
// Reading a page costs nothing: no search data is loaded until the reader focuses the search
// box. The index then arrives as <script> files (which work from file://, where fetch does not),
// each calling folioSearch.receive(name, data): titles.js first, then only the term shards a
// query needs, then the text shards of the results shown, for their snippets.
//
// Terms are folded as the build folds them (src/search.rs): Unicode NFD, combining marks
// removed, lowercase; words of letters and digits; CJK runs as characters and pairs.
(function () {
  "use strict";

  var root = document.body.getAttribute("data-root") || "";
  var IN_TITLE = 1, IN_HEADING = 2, IN_BODY = 4;
  var TEXT_SHARD_SIZE = 16;
  var CJK = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]/;
  var WORD = /[\p{L}\p{N}\p{M}]/u;

  var shards = {};      // name -> data
  var waiting = {};     // name -> [callbacks]
  var shardKeys = null; // set of term shard keys that exist

  function receive(name, data) {
    shards[name] = data;
    var callbacks = waiting[name] || [];
    delete waiting[name];
    callbacks.forEach(function (cb) { cb(); });
  }

  function load(name, done) {
    if (shards[name] !== undefined) { done(); return; }
    if (waiting[name]) { waiting[name].push(done); return; }
    waiting[name] = [done];
    var script = document.createElement("script");
    script.src = root + "search/" + name + ".js";
    script.async = true;
    script.onerror = function () { receive(name, null); };
    document.head.appendChild(script);
  }

  function loadAll(names, done) {
    var left = names.length;
    if (left === 0) { done(); return; }
    names.forEach(function (name) { load(name, function () { if (--left === 0) done(); }); });
  }

  function foldChar(c) {
    return c.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
  }

  // The query's terms: words, and CJK runs as pairs (a single character stands alone).
  function queryTerms(query) {
    var terms = [], word = "", run = [];
    function flushWord() { if (word) { terms.push(word); word = ""; } }
    function flushRun() {
      if (run.length === 1) terms.push(run[0]);
      for (var i = 0; i + 1 < run.length; i++) terms.push(run[i] + run[i + 1]);
      run = [];
    }
    Array.from(query).forEach(function (c) {
      if (!WORD.test(c)) { flushWord(); flushRun(); return; }
      if (CJK.test(c)) { flushWord(); run.push(foldChar(c)); return; }
      flushRun();
      word += foldChar(c);
    });
    flushWord(); flushRun();
    var seen = {};
    return terms.filter(function (t) { return seen[t] ? false : (seen[t] = true); });
  }

  // A term's postings as the build writes them (src/search.rs, DIGITS): numbers in base 32,
  // most significant digit first, the last digit of each from the first 32 characters.
  var DIGITS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_";
  var DIGIT_VALUE = [];
  for (var d = 0; d < DIGITS.length; d++) DIGIT_VALUE[DIGITS.charCodeAt(d)] = d;

  function numbers(text) {
    var out = [], n = 0;
    for (var i = 0; i < text.length; i++) {
      var digit = DIGIT_VALUE[text.charCodeAt(i)];
      if (digit >= 32) {
        n = n * 32 + (digit - 32);
      } else {
        out.push(n * 32 + digit);
        n = 0;
      }
    }
    return out;
  }

  function shardKey(term) { return Array.from(term).slice(0, 2).join(""); }

  function shardName(key) {
    var hex = "";
    new TextEncoder().encode(key).forEach(function (b) { hex += (b < 16 ? "0" : "") + b.toString(16); });
    return "t-" + hex;
  }

  // Scores every article against the query; returns [{doc, score, title, heading}] best first.
  function rank(terms) {
    var total = null;
    terms.forEach(function (term) {
      var shard = shards[shardName(shardKey(term))] || {};
      var best = {};
      Object.keys(shard).forEach(function (candidate) {
        if (candidate.lastIndexOf(term, 0) !== 0) return;
        if (Array.from(term).length < 2 && candidate !== term) return;
        var exact = candidate === term;
        var list = numbers(shard[candidate]), doc = 0;
        for (var i = 0; i < list.length; i += 2) {
          doc += list[i];
          var flags = list[i + 1] & 7, count = list[i + 1] >> 3;
          var score = (flags & IN_TITLE ? 100 : 0) + (flags & IN_HEADING ? 20 : 0) +
            (flags & IN_BODY ? 1 + Math.log(1 + count) : 0);
          score *= exact ? 1 : 0.7;
          var prev = best[doc];
          if (!prev || prev.score < score) best[doc] = { score: score, flags: flags, terms: [candidate] };
        }
      });
      if (total === null) {
        total = best;
      } else {
        var next = {};
        Object.keys(total).forEach(function (doc) {
          if (best[doc]) {
            next[doc] = {
              score: total[doc].score + best[doc].score,
              flags: total[doc].flags & best[doc].flags,
              terms: total[doc].terms.concat(best[doc].terms)
            };
          }
        });
        total = next;
      }
    });
    return Object.keys(total || {}).map(function (doc) {
      var r = total[doc];
      return { doc: +doc, score: r.score, terms: r.terms, title: (r.flags & IN_TITLE) !== 0, heading: (r.flags & IN_HEADING) !== 0 };
    }).sort(function (a, b) {
      if (a.title !== b.title) return a.title ? -1 : 1;
      if (a.heading !== b.heading) return a.heading ? -1 : 1;
      return b.score - a.score || a.doc - b.doc;
    });
  }

  function escapeHtml(s) {
    return s.replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }[c];
    });
  }

  // Folds a text, keeping for each folded character the index of its source character.
  function foldWithMap(text) {
    var chars = Array.from(text), folded = "", map = [];
    chars.forEach(function (c, i) {
      var f = foldChar(c);
      for (var j = 0; j < f.length; j++) map.push(i);
      folded += f;
    });
    return { chars: chars, folded: folded, map: map };
  }

  // The first stretch of `text` around a query term, with every term marked.
  function highlight(text, terms, width) {
    var f = foldWithMap(text);
    var hits = [];
    terms.forEach(function (term) {
      var from = 0, at;
      while ((at = f.folded.indexOf(term, from)) !== -1) {
        hits.push([f.map[at], f.map[at + term.length - 1] + 1]);
        from = at + term.length;
      }
    });
    hits.sort(function (a, b) { return a[0] - b[0]; });
    if (width && hits.length === 0) return null;
    var start = 0, end = f.chars.length;
    if (width && f.chars.length > width) {
      start = Math.max(0, hits[0][0] - Math.floor(width / 3));
      end = Math.min(f.chars.length, start + width);
    }
    var out = start > 0 ? "…" : "", pos = start;
    hits.forEach(function (h) {
      if (h[0] < pos || h[1] > end) return;
      out += escapeHtml(f.chars.slice(pos, h[0]).join("")) + "<mark>" + escapeHtml(f.chars.slice(h[0], h[1]).join("")) + "</mark>";
      pos = h[1];
    });
    out += escapeHtml(f.chars.slice(pos, end).join("")) + (end < f.chars.length ? "…" : "");
    return out;
  }

  function textShardsFor(results) {
    var names = {};
    results.forEach(function (r) { names["d-" + Math.floor(r.doc / TEXT_SHARD_SIZE)] = true; });
    return Object.keys(names);
  }

  function describe(result, terms) {
    var titles = shards.titles.titles;
    var entry = titles[result.doc];
    var text = (shards["d-" + Math.floor(result.doc / TEXT_SHARD_SIZE)] || [])[result.doc % TEXT_SHARD_SIZE] || ["", [], "", {}];
    var href = root + entry[1], snippet = null;
    if (!result.title && result.heading) {
      for (var i = 0; i < text[1].length && !snippet; i++) {
        var marked = highlight(text[1][i][1], terms, 0);
        if (marked.indexOf("<mark>") !== -1) { snippet = "§ " + marked; href += "#" + text[1][i][0]; }
      }
    }
    if (!snippet) snippet = highlight(text[2], terms, 160);
    // A rare word beyond the kept text: the index holds the words around its first use.
    for (var t = 0; t < result.terms.length && !snippet; t++) {
      var context = text[3][result.terms[t]];
      if (context) snippet = "…" + highlight(context, terms.concat(result.terms), 0) + "…";
    }
    if (!snippet) snippet = highlight(text[0], terms, 0) || escapeHtml(text[0]);
    return { href: href, titleHtml: highlight(entry[0], terms, 0), snippetHtml: snippet };
  }

  // Runs a query: loads what it needs, then calls done(results, terms) with described results.
  function search(query, limit, done) {
    var terms = queryTerms(query);
    if (terms.length === 0) { done([], terms); return; }
    load("titles", function () {
      if (!shards.titles) { done([], terms); return; }
      shardKeys = shardKeys || new Set(shards.titles.shards);
      var names = terms.map(shardKey).filter(function (k) { return shardKeys.has(k); }).map(shardName);
      loadAll(names, function () {
        var results = rank(terms).slice(0, limit);
        loadAll(textShardsFor(results), function () {
          done(results.map(function (r) { return describe(r, terms); }), terms);
        });
      });
    });
  }

  window.folioSearch = { receive: receive, search: search, queryTerms: queryTerms };

  // The search box in the header.
  var input = document.getElementById("search-input");
  var list = document.getElementById("search-results");
  var selected = -1, latest = 0;

  function show(results, query) {
    list.innerHTML = "";
    selected = -1;
    if (!query.trim()) { list.hidden = true; input.setAttribute("aria-expanded", "false"); return; }
    results.forEach(function (r, i) {
      var a = document.createElement("a");
      a.className = "search-result";
      a.href = r.href;
      a.id = "search-result-" + i;
      a.setAttribute("role", "option");
      a.setAttribute("aria-selected", "false");
      a.innerHTML = "<span class=\"search-result-title\">" + r.titleHtml + "</span><span class=\"search-result-snippet\">" + r.snippetHtml + "</span>";
      list.appendChild(a);
    });
    var all = document.createElement("a");
    all.className = "search-result search-all";
    all.href = root + "search.html?q=" + encodeURIComponent(query);
    all.setAttribute("role", "option");
    all.setAttribute("aria-selected", "false");
    all.textContent = results.length ? "All results for “" + query + "”" : "No articles match “" + query + "”; open the search page";
    list.appendChild(all);
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }

  function select(i) {
    var items = list.querySelectorAll(".search-result");
    if (items.length === 0) return;
    selected = (i + items.length) % items.length;
    items.forEach(function (item, j) { item.setAttribute("aria-selected", j === selected ? "true" : "false"); });
    input.setAttribute("aria-activedescendant", items[selected].id || "");
    items[selected].scrollIntoView({ block: "nearest" });
  }

  if (input && list) {
    input.addEventListener("focus", function () { load("titles", function () {}); });
    input.addEventListener("input", function () {
      var query = input.value, ticket = ++latest;
      search(query, 8, function (results) { if (ticket === latest) show(results, query); });
    });
    input.addEventListener("keydown", function (e) {
      if (e.key === "ArrowDown") { e.preventDefault(); select(selected + 1); }
      else if (e.key === "ArrowUp") { e.preventDefault(); select(selected - 1); }
      else if (e.key === "Escape") { list.hidden = true; input.setAttribute("aria-expanded", "false"); }
      else if (e.key === "Enter" && selected >= 0) {
        e.preventDefault();
        window.location.href = list.querySelectorAll(".search-result")[selected].href;
      }
    });
    document.addEventListener("click", function (e) {
      if (!list.contains(e.target) && e.target !== input) list.hidden = true;
    });
    document.addEventListener("keydown", function (e) {
      var tag = (e.target.tagName || "").toLowerCase();
      if ((e.key === "/" || e.key === "s") && tag !== "input" && tag !== "textarea" && !e.ctrlKey && !e.metaKey && !e.altKey) {
        e.preventDefault();
        input.focus();
      }
    });
  }

  // The full results page: search.html?q=...
  var page = document.getElementById("search-page-results");
  if (page) {
    var pageInput = document.getElementById("search-page-input");
    var query = new URLSearchParams(window.location.search).get("q") || "";
    pageInput.value = query;
    if (query.trim()) {
      page.textContent = "Searching…";
      search(query, 50, function (results) {
        page.innerHTML = "";
        var summary = document.createElement("p");
        summary.className = "muted";
        summary.textContent = results.length ? results.length + (results.length === 50 ? "+" : "") + " articles match “" + query + "”." : "No articles match “" + query + "”.";
        page.appendChild(summary);
        results.forEach(function (r) {
          var a = document.createElement("a");
          a.className = "search-result";
          a.href = r.href;
          a.innerHTML = "<span class=\"search-result-title\">" + r.titleHtml + "</span><span class=\"search-result-snippet\">" + r.snippetHtml + "</span>";
          page.appendChild(a);
        });
      });
    }
  }
})();

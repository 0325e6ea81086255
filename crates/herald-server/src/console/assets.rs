//! The console's stylesheet and script, served as static files from
//! `/console/assets/` so the Content-Security-Policy can forbid inline code.
//! Plain CSS and a few lines of JavaScript: no build step.

use axum::http::header;
use axum::response::{IntoResponse, Response};

pub const CSS: &str = r#"
:root { --fg:#1f2328; --muted:#656d76; --line:#d0d7de; --bg:#f6f8fa; --accent:#0969da; --nav:#24292f; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif; color:var(--fg); background:#fff; }
a { color:var(--accent); text-decoration:none; }
a:hover { text-decoration:underline; }
nav.top { background:var(--nav); color:#fff; display:flex; align-items:center; gap:4px; padding:0 20px; height:48px; }
nav.top .brand { font-weight:700; font-size:16px; margin-right:18px; color:#fff; letter-spacing:.3px; }
nav.top a.item { color:#d0d7de; padding:6px 10px; border-radius:6px; }
nav.top a.item:hover { background:#32383f; color:#fff; text-decoration:none; }
nav.top a.item.on { background:#424a53; color:#fff; }
nav.top .spacer { flex:1; }
nav.top form { margin:0; }
nav.top .who { color:#8c959f; font-size:12px; margin-right:10px; }
main { max-width:1280px; margin:0 auto; padding:20px; }
h1 { font-size:22px; margin:4px 0 16px; font-weight:600; }
h2 { font-size:17px; margin:26px 0 10px; font-weight:600; }
.sub { color:var(--muted); margin:-10px 0 16px; }
table.grid { width:100%; border-collapse:collapse; border:1px solid var(--line); border-radius:6px; }
table.grid th { text-align:left; background:var(--bg); font-weight:600; font-size:12px; color:var(--muted); text-transform:uppercase; letter-spacing:.4px; }
table.grid th, table.grid td { padding:7px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
table.grid tr:hover td { background:#fbfcfd; }
table.grid td.num { text-align:right; font-variant-numeric:tabular-nums; }
table.kv { border-collapse:collapse; }
table.kv th { text-align:left; color:var(--muted); font-weight:500; padding:4px 18px 4px 0; vertical-align:top; white-space:nowrap; }
table.kv td { padding:4px 0; }
.mono, code { font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:12.5px; }
.muted { color:var(--muted); }
.empty { color:var(--muted); padding:24px; text-align:center; border:1px dashed var(--line); border-radius:6px; }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; white-space:nowrap; border:1px solid transparent; }
.badge.ok { background:#dafbe1; color:#116329; border-color:#aceebb; }
.badge.fail { background:#ffebe9; color:#a40e26; border-color:#ffcecb; }
.badge.wait { background:#ddf4ff; color:#0550ae; border-color:#b6e3ff; }
.badge.run { background:#fff8c5; color:#7d4e00; border-color:#f5e0a0; }
.badge.cancel, .badge.off { background:#eaeef2; color:#57606a; border-color:#d0d7de; }
.badge.on { background:#dafbe1; color:#116329; border-color:#aceebb; }
.btn { display:inline-block; font:inherit; font-size:13px; padding:4px 12px; border-radius:6px; border:1px solid var(--line); background:var(--bg); color:var(--fg); cursor:pointer; line-height:20px; }
.btn:hover { background:#eef1f4; text-decoration:none; }
.btn.primary { background:#1f883d; color:#fff; border-color:#1a7f37; }
.btn.primary:hover { background:#1a7f37; }
.btn.danger { color:#cf222e; }
.btn.danger:hover { background:#a40e26; color:#fff; border-color:#a40e26; }
.btn.small { font-size:12px; padding:1px 8px; }
form.inline { display:inline; margin:0; }
.actions { display:flex; gap:8px; margin:10px 0 18px; flex-wrap:wrap; }
.filters { display:flex; gap:10px; align-items:flex-end; flex-wrap:wrap; background:var(--bg); border:1px solid var(--line); border-radius:6px; padding:10px 12px; margin-bottom:14px; }
.filters label { display:flex; flex-direction:column; font-size:12px; color:var(--muted); gap:2px; }
input, select { font:inherit; font-size:13px; padding:4px 8px; border:1px solid var(--line); border-radius:6px; background:#fff; color:var(--fg); }
input[type=text], input[type=password] { min-width:180px; }
.pager { display:flex; gap:8px; align-items:center; margin:12px 0; }
pre.json, pre.block { background:var(--bg); border:1px solid var(--line); border-radius:6px; padding:10px 12px; overflow:auto; max-height:520px; margin:6px 0; font-size:12.5px; }
pre.excerpt { margin:0; white-space:pre-wrap; word-break:break-all; max-height:120px; overflow:auto; font-size:12px; }
.notice { padding:8px 12px; border-radius:6px; margin-bottom:14px; border:1px solid #b6e3ff; background:#ddf4ff; }
.notice.error { border-color:#ffcecb; background:#ffebe9; color:#a40e26; }
.copy { display:flex; gap:8px; align-items:center; margin:6px 0 14px; }
.copy input { flex:1; max-width:640px; font-family:ui-monospace,Menlo,Consolas,monospace; }
.login { max-width:380px; margin:80px auto; border:1px solid var(--line); border-radius:8px; padding:24px 28px; }
.login h1 { margin-top:0; }
.login input[type=password] { width:100%; margin:4px 0 14px; padding:7px 10px; }
.login .btn { width:100%; padding:7px; }
details summary { cursor:pointer; color:var(--muted); }
.request { border:1px solid var(--line); border-radius:6px; margin-bottom:12px; }
.request header { display:flex; gap:12px; align-items:center; padding:6px 12px; background:var(--bg); border-bottom:1px solid var(--line); border-radius:6px 6px 0 0; flex-wrap:wrap; }
.request .body { padding:4px 12px 10px; }
.method { font-weight:700; font-family:ui-monospace,Menlo,Consolas,monospace; }
.wrap { word-break:break-all; }
.nowrap { white-space:nowrap; }
"#;

pub const JS: &str = r#"
document.addEventListener('click', function (e) {
  var b = e.target.closest('[data-copy]');
  if (!b) return;
  var input = document.getElementById(b.getAttribute('data-copy'));
  if (!input) return;
  input.select();
  var done = function () { var t = b.textContent; b.textContent = 'Copied'; setTimeout(function () { b.textContent = t; }, 1200); };
  if (navigator.clipboard) { navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand('copy'); done(); }); }
  else { document.execCommand('copy'); done(); }
});
document.addEventListener('submit', function (e) {
  var msg = e.target.getAttribute('data-confirm');
  if (msg && !window.confirm(msg)) e.preventDefault();
});
"#;

/// A small bell-shaped mark for the browser tab.
pub const FAVICON: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#24292f"/><path d="M16 6c-4 0-7 3-7 7v6l-2 3h18l-2-3v-6c0-4-3-7-7-7z" fill="#fff"/><circle cx="16" cy="25" r="2.5" fill="#2da44e"/></svg>"##;

pub async fn favicon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "max-age=86400"),
        ],
        FAVICON,
    )
        .into_response()
}

pub async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        CSS,
    )
        .into_response()
}

pub async fn js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        JS,
    )
        .into_response()
}

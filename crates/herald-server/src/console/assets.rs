//! The console's stylesheet and script, served as static files from
//! `/console/assets/` so the Content-Security-Policy can forbid inline code.
//! Plain CSS and a few lines of JavaScript: no build step.

use axum::http::header;
use axum::response::{IntoResponse, Response};

pub const CSS: &str = r#"
:root { color-scheme: light dark;
  --fg:#1f2328; --muted:#656d76; --line:#d0d7de; --bg:#f6f8fa; --page:#fff; --hover:#fbfcfd; --btn-hover:#eef1f4; --input:#fff; --accent:#0969da; --nav:#24292f; --nav-fg:#d0d7de; --nav-hover:#32383f; --nav-on:#424a53; --nav-muted:#8c959f;
  --ok-bg:#dafbe1; --ok-fg:#116329; --ok-line:#aceebb; --fail-bg:#ffebe9; --fail-fg:#a40e26; --fail-line:#ffcecb; --wait-bg:#ddf4ff; --wait-fg:#0550ae; --wait-line:#b6e3ff; --run-bg:#fff8c5; --run-fg:#7d4e00; --run-line:#f5e0a0; --off-bg:#eaeef2; --off-fg:#57606a; --danger:#cf222e; }
@media (prefers-color-scheme: dark) {
  :root { --fg:#e6edf3; --muted:#9198a1; --line:#3d444d; --bg:#151b23; --page:#0d1117; --hover:#1c2128; --btn-hover:#262c36; --input:#0d1117; --accent:#4493f8; --nav:#010409; --nav-fg:#d1d7e0; --nav-hover:#262c36; --nav-on:#2f3742; --nav-muted:#9198a1;
    --ok-bg:#12261e; --ok-fg:#56d364; --ok-line:#1f6f3b; --fail-bg:#2d1214; --fail-fg:#ff8182; --fail-line:#8e1519; --wait-bg:#0c2d6b; --wait-fg:#a5d6ff; --wait-line:#1f6feb; --run-bg:#2e2300; --run-fg:#e3b341; --run-line:#845306; --off-bg:#21262d; --off-fg:#b1bac4; --danger:#ff7b72; }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust:100%; text-size-adjust:100%; }
body { margin:0; font:14px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif; color:var(--fg); background:var(--page); }
a { color:var(--accent); text-decoration:none; }
a:hover { text-decoration:underline; }
nav.top { background:var(--nav); color:#fff; display:flex; flex-wrap:wrap; align-items:center; gap:4px; padding:8px 20px; min-height:48px; }
nav.top .brand { font-weight:700; font-size:16px; margin-right:18px; color:#fff; letter-spacing:.3px; }
nav.top a.item { color:var(--nav-fg); padding:6px 10px; border-radius:6px; white-space:nowrap; }
nav.top a.item:hover { background:var(--nav-hover); color:#fff; text-decoration:none; }
nav.top a.item.on { background:var(--nav-on); color:#fff; }
nav.top .spacer { flex:1; }
nav.top form { margin:0; }
nav.top .who { color:var(--nav-muted); font-size:12px; margin-right:10px; }
nav.top .roles { color:var(--nav-muted); font-size:11px; margin-right:10px; }
main { max-width:1280px; margin:0 auto; padding:20px; }
h1 { font-size:22px; margin:4px 0 16px; font-weight:600; overflow-wrap:anywhere; }
h2 { font-size:17px; margin:26px 0 10px; font-weight:600; }
.sub { color:var(--muted); margin:-10px 0 16px; overflow-wrap:anywhere; }
table.grid { width:100%; border-collapse:collapse; border:1px solid var(--line); border-radius:6px; }
table.grid th { text-align:left; background:var(--bg); font-weight:600; font-size:12px; color:var(--muted); text-transform:uppercase; letter-spacing:.4px; }
table.grid th, table.grid td { padding:7px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
table.grid tr:hover td { background:var(--hover); }
table.grid td.num { text-align:right; font-variant-numeric:tabular-nums; }
table.kv { border-collapse:collapse; }
table.kv th { text-align:left; color:var(--muted); font-weight:500; padding:4px 18px 4px 0; vertical-align:top; white-space:nowrap; }
table.kv td { padding:4px 0; overflow-wrap:anywhere; }
.mono, code { font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:12.5px; }
.muted { color:var(--muted); }
.empty { color:var(--muted); padding:24px; text-align:center; border:1px dashed var(--line); border-radius:6px; }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; white-space:nowrap; border:1px solid transparent; }
.badge.ok, .badge.on { background:var(--ok-bg); color:var(--ok-fg); border-color:var(--ok-line); }
.badge.fail { background:var(--fail-bg); color:var(--fail-fg); border-color:var(--fail-line); }
.badge.wait { background:var(--wait-bg); color:var(--wait-fg); border-color:var(--wait-line); }
.badge.run { background:var(--run-bg); color:var(--run-fg); border-color:var(--run-line); }
.badge.cancel, .badge.off { background:var(--off-bg); color:var(--off-fg); border-color:var(--line); }
.btn { display:inline-block; font:inherit; font-size:13px; padding:4px 12px; border-radius:6px; border:1px solid var(--line); background:var(--bg); color:var(--fg); cursor:pointer; line-height:20px; }
.btn:hover { background:var(--btn-hover); text-decoration:none; }
.btn.primary { background:#1f883d; color:#fff; border-color:#1a7f37; }
.btn.primary:hover { background:#1a7f37; }
.btn.danger { color:var(--danger); }
.btn.danger:hover { background:#a40e26; color:#fff; border-color:#a40e26; }
.btn.small { font-size:12px; padding:1px 8px; }
form.inline { display:inline; margin:0; }
.actions { display:flex; gap:8px; margin:10px 0 18px; flex-wrap:wrap; }
.filters { display:flex; gap:10px; align-items:flex-end; flex-wrap:wrap; background:var(--bg); border:1px solid var(--line); border-radius:6px; padding:10px 12px; margin-bottom:14px; }
.filters label { display:flex; flex-direction:column; font-size:12px; color:var(--muted); gap:2px; max-width:100%; }
input, select { font:inherit; font-size:13px; padding:4px 8px; border:1px solid var(--line); border-radius:6px; background:var(--input); color:var(--fg); max-width:100%; }
input[type=text], input[type=password] { min-width:180px; }
.pager { display:flex; gap:8px; align-items:center; margin:12px 0; flex-wrap:wrap; }
pre.json, pre.block { background:var(--bg); color:var(--fg); border:1px solid var(--line); border-radius:6px; padding:10px 12px; overflow:auto; max-height:520px; margin:6px 0; font-size:12.5px; }
pre.excerpt { margin:0; white-space:pre-wrap; word-break:break-all; max-height:120px; overflow:auto; font-size:12px; }
.notice { padding:8px 12px; border-radius:6px; margin-bottom:14px; border:1px solid var(--wait-line); background:var(--wait-bg); color:var(--fg); }
.notice.error { border-color:var(--fail-line); background:var(--fail-bg); color:var(--fail-fg); }
.copy { display:flex; flex-wrap:wrap; gap:8px; align-items:center; margin:6px 0 14px; }
.copy input { flex:1 1 240px; min-width:0; max-width:640px; font-family:ui-monospace,Menlo,Consolas,monospace; }
.login { max-width:380px; margin:80px auto; border:1px solid var(--line); border-radius:8px; padding:24px 28px; }
.login h1 { margin-top:0; }
.login input[type=password] { width:100%; margin:4px 0 14px; padding:7px 10px; }
.login .btn { width:100%; padding:7px; }
details summary { cursor:pointer; color:var(--muted); }
.request { border:1px solid var(--line); border-radius:6px; margin-bottom:12px; min-width:0; }
.request header { display:flex; gap:12px; align-items:center; padding:6px 12px; background:var(--bg); border-bottom:1px solid var(--line); border-radius:6px 6px 0 0; flex-wrap:wrap; }
.request .body { padding:4px 12px 10px; }
.method { font-weight:700; font-family:ui-monospace,Menlo,Consolas,monospace; }
.wrap { word-break:break-all; overflow-wrap:anywhere; }
.nowrap { white-space:nowrap; }
/* Narrow windows and phones: the nav wraps onto a second line, tables
   scroll inside themselves (the jobs table stacks each row as a card),
   and nothing makes the page itself scroll sideways. */
@media (max-width: 720px) {
  nav.top { padding:6px 10px; gap:2px 4px; }
  nav.top .brand { margin-right:auto; }
  nav.top .spacer { display:none; }
  nav.top .who, nav.top form { order:1; }
  nav.top::after { content:""; order:1; flex-basis:100%; height:0; }
  nav.top a.item { order:2; padding:5px 8px; font-size:14px; }
  main { padding:12px; }
  table.grid { display:block; overflow-x:auto; max-width:100%; }
  table.grid.stack { display:table; overflow:visible; table-layout:fixed; }
  table.grid.stack thead { display:none; }
  table.grid.stack tbody, table.grid.stack tr, table.grid.stack td { display:block; width:100%; }
  table.grid.stack tr { border-bottom:1px solid var(--line); padding:6px 0; }
  table.grid.stack td { border:0; padding:2px 10px; text-align:left; overflow-wrap:anywhere; white-space:normal; }
  table.grid.stack td.num { text-align:left; }
  table.grid.stack td[data-label]::before { content:attr(data-label); display:inline-block; min-width:92px; color:var(--muted); font-size:12px; font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif; }
  table.kv th { padding-right:10px; white-space:normal; }
  input[type=text], input[type=password] { min-width:0; }
  .login { margin:24px auto; padding:18px; }
}
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

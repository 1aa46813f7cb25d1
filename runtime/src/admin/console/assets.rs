//! The console's stylesheet and its one script, served from its own routes so the content
//! security policy can forbid every inline style and script.

use axum::http::header;
use axum::response::IntoResponse;

/// Readable on a phone: one column, tables that scroll sideways, inputs as wide as the screen.
const STYLESHEET: &str = "\
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1b1b1b;background:#fafafa}
header{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;padding:.6rem 1rem;background:#263238;color:#fff}
header a{color:#fff}
header nav{display:flex;gap:1rem;flex:1}
header .who{display:flex;gap:.5rem;align-items:center;margin:0}
header small{color:#cfd8dc}
main{padding:1rem;max-width:72rem;margin:auto}
h1{font-size:1.4rem;margin:.2rem 0 1rem}
h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid #e0e0e0;vertical-align:top}
th{font-size:.85rem;color:#555}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em;word-break:break-all}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem;background:#fff;padding:.8rem;margin:0}
dt{color:#555}dd{margin:0;word-break:break-word}
form.stack{display:flex;flex-direction:column;gap:.5rem;max-width:34rem}
form.filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin-bottom:1rem}
form.filters label{display:flex;flex-direction:column;font-size:.85rem}
input,select,button{font:inherit;padding:.45rem .6rem;border:1px solid #90a4ae;border-radius:4px;max-width:100%}
input[type=checkbox]{padding:0}
button{background:#37474f;color:#fff;border-color:#37474f;cursor:pointer}
button.danger{background:#b71c1c;border-color:#b71c1c}
.actions{display:flex;flex-wrap:wrap;gap:.6rem;margin:1rem 0}
.actions a{padding:.45rem .8rem;border:1px solid #37474f;border-radius:4px;text-decoration:none;color:#37474f}
.state-active{color:#2e7d32}.state-revoked{color:#b71c1c}.state-expired{color:#8d6e63}
.problem{background:#ffebee;border-left:4px solid #b71c1c;padding:.6rem .8rem}
.secret{background:#fff8e1;border-left:4px solid #f9a825;padding:.8rem;display:flex;flex-direction:column;gap:.5rem}
.secret input{font-family:ui-monospace,Menlo,Consolas,monospace;width:100%}
.hint{color:#555;font-size:.9rem}
.chart{width:100%;height:auto;background:#fff;border:1px solid #e0e0e0}
fieldset{border:1px solid #cfd8dc;display:flex;flex-wrap:wrap;gap:.3rem 1rem}
";

/// Turns on the copy buttons: they stay hidden when scripts are off, where the key is selected
/// and copied by hand.
const SCRIPT: &str = "\
document.querySelectorAll('button[data-copy]').forEach(function (button) {
  var field = document.getElementById(button.getAttribute('data-copy'));
  if (!field || !navigator.clipboard) { return; }
  button.hidden = false;
  button.addEventListener('click', function () {
    navigator.clipboard.writeText(field.value).then(function () {
      button.textContent = 'Copied';
    });
  });
});
";

/// `GET /console.css`.
pub(crate) async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        STYLESHEET,
    )
}

/// `GET /console.js`.
pub(crate) async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
}

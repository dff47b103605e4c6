// onewindow: small progressive enhancements only; every page works without script.
document.addEventListener("submit", function (ev) {
  var msg = ev.target.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) ev.preventDefault();
});
// Print buttons (receipt, notice, ticket, guide): a data-print attribute instead of an
// inline onclick, which the Content-Security-Policy (script-src 'self') would block.
document.addEventListener("click", function (ev) {
  var el = ev.target.closest ? ev.target.closest("[data-print]") : null;
  if (el) {
    ev.preventDefault();
    window.print();
  }
});
// 返回上一页 on error pages: back in the history, which keeps what a form held; the link's
// own address (the page one came from) when there is no history.
document.addEventListener("click", function (ev) {
  var el = ev.target.closest ? ev.target.closest("[data-back]") : null;
  if (el && window.history.length > 1) {
    ev.preventDefault();
    window.history.back();
  }
});
// The large-text switch (大字模式) flips the page in place: the form is posted in the
// background and the class, the button and the cookie change without leaving the page,
// so a half-filled form keeps what was typed. Without fetch, or if the post fails, the
// form is submitted as usual and comes back to the same address.
document.addEventListener("submit", function (ev) {
  var form = ev.target;
  if (!form.matches || !form.matches("form.large-text-switch") || !window.fetch) return;
  ev.preventDefault();
  var onField = form.querySelector("input[name=on]");
  fetch(form.action, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(new FormData(form)).toString()
  }).then(function (res) {
    if (!res.ok) throw new Error("large-text switch: " + res.status);
    return res.json();
  }).then(function (r) {
    var on = r.large_text === true;
    document.documentElement.classList.toggle("large-text", on);
    onField.value = on ? "0" : "1";
    var button = form.querySelector("#large-text-toggle");
    button.textContent = on ? "标准字号" : "大字模式";
    button.setAttribute("aria-pressed", on ? "true" : "false");
  }).catch(function () {
    form.submit();
  });
});
// A form that came back with errors: the summary takes the focus, so a keyboard or
// screen-reader user starts from what needs changing.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.getElementById("form-errors");
  if (summary) summary.focus();
});

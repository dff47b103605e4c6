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

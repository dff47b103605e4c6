// The hall's display screen: applies live queue events (server-sent events). The browser
// reconnects by itself and sends Last-Event-ID, so a screen that blinked misses nothing.
(function () {
  var body = document.body;
  var hall = body.getAttribute("data-hall");
  var after = body.getAttribute("data-last-event");
  var latest = document.getElementById("latest");
  var recent = document.getElementById("recent");
  function setWaiting(counts) {
    if (!counts) return;
    Object.keys(counts).forEach(function (code) {
      var li = document.querySelector('#waiting li[data-class="' + code + '"] strong');
      if (li) li.textContent = counts[code];
    });
  }
  function setWindow(number, text) {
    var row = document.querySelector('#windows tr[data-window="' + number + '"] .ticket-now');
    if (row) row.textContent = text;
  }
  function speak(text) {
    if (window.speechSynthesis && window.SpeechSynthesisUtterance) {
      var u = new SpeechSynthesisUtterance(text);
      u.lang = "zh-CN";
      window.speechSynthesis.speak(u);
    }
  }
  function onCall(ev) {
    var d = JSON.parse(ev.data);
    latest.textContent = d.text;
    latest.classList.remove("flash");
    void latest.offsetWidth;
    latest.classList.add("flash");
    setWindow(d.window, d.ticket);
    var li = document.createElement("li");
    li.textContent = d.ticket + " → " + d.window + "号窗口";
    recent.insertBefore(li, recent.firstChild);
    while (recent.children.length > 8) recent.removeChild(recent.lastChild);
    setWaiting(d.waiting);
    // Calls sent again to catch up after a dropped connection are shown, not read aloud.
    if (!d.replayed) speak(d.text);
  }
  function onOther(ev) {
    var d = JSON.parse(ev.data);
    setWaiting(d.waiting);
    if (ev.type === "finish" || ev.type === "no_show" || ev.type === "transfer") setWindow(d.window, "—");
    if (ev.type === "window") setWindow(d.window, d.state === "open" ? "—" : (d.state === "paused" ? "暂停" : "关闭"));
  }
  var es = new EventSource("/halls/" + hall + "/events?after=" + after);
  // Marks the screen live (also what a test or a technician can check).
  es.onopen = function () { body.setAttribute("data-live", "1"); };
  es.onerror = function () { body.setAttribute("data-live", "0"); };
  // The gap since this page was drawn is too long to replay: draw the hall afresh.
  es.addEventListener("reload", function () { es.close(); window.location.reload(); });
  es.addEventListener("called", onCall);
  es.addEventListener("recalled", onCall);
  ["issued", "finish", "no_show", "requeue", "transfer", "start", "cancel", "window"].forEach(function (k) {
    es.addEventListener(k, onOther);
  });
  function tick() {
    var now = new Date();
    document.getElementById("clock").textContent = now.toLocaleString("zh-CN", { hour12: false });
  }
  tick();
  setInterval(tick, 1000);
})();

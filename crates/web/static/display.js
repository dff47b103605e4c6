// The hall's display screen: applies live queue events (server-sent events). The browser
// reconnects by itself and sends Last-Event-ID, so a screen that blinked misses nothing.
(function () {
  var body = document.body;
  var hall = body.getAttribute("data-hall");
  var after = body.getAttribute("data-last-event");
  var latest = document.getElementById("latest");
  var recent = document.getElementById("recent");
  var STATES = ["open", "paused", "closed"];
  var LABELS = { paused: "暂停", closed: "关闭" };
  function setWaiting(counts) {
    if (!counts) return;
    Object.keys(counts).forEach(function (code) {
      var li = document.querySelector('#waiting li[data-class="' + code + '"] strong');
      if (li) li.textContent = counts[code];
    });
  }
  function windowEl(number) {
    return document.querySelector('#windows [data-window="' + number + '"]');
  }
  function stateOf(el) {
    for (var i = 0; i < STATES.length; i++) {
      if (el.classList.contains("state-" + STATES[i])) return STATES[i];
    }
    return "closed";
  }
  // What a window shows: its current ticket when open, else "—"; a paused or closed window
  // says so.
  function draw(el) {
    var now = el.querySelector(".ticket-now");
    var state = stateOf(el);
    var ticket = el.getAttribute("data-ticket");
    if (now) now.textContent = state === "open" ? (ticket || "—") : LABELS[state];
  }
  function setTicket(number, ticket) {
    var el = windowEl(number);
    if (!el) return;
    el.setAttribute("data-ticket", ticket || "");
    draw(el);
  }
  // A window opened, paused or closed after the page loaded takes that state's style at
  // once (the grey "closed" style must not stay until a reload).
  function setState(number, state) {
    var el = windowEl(number);
    if (!el || STATES.indexOf(state) < 0) return;
    STATES.forEach(function (s) { el.classList.remove("state-" + s); });
    el.classList.add("state-" + state);
    draw(el);
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
    setTicket(d.window, d.ticket);
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
    if (ev.type === "finish" || ev.type === "no_show" || ev.type === "transfer") setTicket(d.window, "");
    if (ev.type === "window") setState(d.window, d.state);
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

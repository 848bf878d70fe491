// Keeps a page live: on each change the event log streams (Server-Sent
// Events, /live), the page is read again and its <main> replaced, so what
// it shows is what the server renders. Without this script the pages read
// the same, only not live. Also filters the board's cards as one types.
(function () {
  "use strict";
  var body = document.body;
  var stream = body.getAttribute("data-live");
  var state = document.querySelector(".live-state");
  var pending = null;

  function say(text) { if (state) state.textContent = text; }

  function refresh() {
    pending = null;
    fetch(location.href, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("main");
        var main = document.getElementById("main");
        if (!fresh || !main) return;
        var focused = document.activeElement && document.activeElement.id;
        var typed = focused && document.getElementById(focused) && document.getElementById(focused).value;
        main.innerHTML = fresh.innerHTML;
        if (focused && document.getElementById(focused)) {
          var el = document.getElementById(focused);
          if (typed !== undefined && typed !== null && "value" in el) el.value = typed;
          el.focus();
        }
        filter();
        body.setAttribute("data-updated", String(Date.now()));
      })
      .catch(function () { say("Could not refresh; reload the page."); });
  }

  if (stream && window.EventSource) {
    var es = new EventSource(stream);
    es.addEventListener("open", function () { say("Live."); });
    es.addEventListener("change", function () {
      if (!pending) pending = setTimeout(refresh, 100);
    });
    es.addEventListener("error", function () { say("Reconnecting…"); });
  }

  function filter() {
    var input = document.querySelector("input[data-filter]");
    if (!input) return;
    var q = input.value.trim().toLowerCase();
    var cards = document.querySelectorAll(input.getAttribute("data-filter"));
    for (var i = 0; i < cards.length; i++) {
      var text = cards[i].getAttribute("data-search") || "";
      cards[i].hidden = q !== "" && text.indexOf(q) < 0;
    }
  }
  document.addEventListener("input", function (e) {
    if (e.target && e.target.hasAttribute && e.target.hasAttribute("data-filter")) filter();
  });
})();

// Progressive enhancement only: the server already wrote the countdown as text.
// Keeps <time data-countdown> elements current while the page stays open, using the
// server's time (data-server-now) so a wrong clock on this device does not matter.
(function () {
  "use strict";
  var elements = document.querySelectorAll("time[data-countdown]");
  if (!elements.length) { return; }
  var loadedAt = Date.now();

  function unit(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  function text(seconds) {
    if (seconds <= 0) { return "now (reload the page)"; }
    var days = Math.floor(seconds / 86400);
    var hours = Math.floor((seconds % 86400) / 3600);
    var minutes = Math.floor((seconds % 3600) / 60);
    var parts;
    if (days) { parts = [unit(days, "day")].concat(hours ? [unit(hours, "hour")] : []); }
    else if (hours) { parts = [unit(hours, "hour")].concat(minutes ? [unit(minutes, "minute")] : []); }
    else if (minutes) { parts = [unit(minutes, "minute")]; }
    else { return "in less than a minute"; }
    return "in " + parts.join(" ");
  }

  function update() {
    elements.forEach(function (el) {
      var target = Date.parse(el.getAttribute("datetime"));
      var serverNow = Date.parse(el.getAttribute("data-server-now"));
      if (isNaN(target) || isNaN(serverNow)) { return; }
      var now = serverNow + (Date.now() - loadedAt);
      el.textContent = text(Math.floor((target - now) / 1000));
    });
  }

  window.setInterval(update, 30000);
})();

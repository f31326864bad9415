// Charting page behaviour (no inline scripts: CSP). "Now" buttons, drug choice, focus after htmx swaps.
(function () {
  "use strict";

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function zoneOf(el) {
    var holder = el.closest("[data-time-zone]");
    return holder ? holder.getAttribute("data-time-zone") : undefined;
  }

  // The current date and time in the center's time zone (not the tablet's).
  function nowParts(zone) {
    var parts = {};
    try {
      new Intl.DateTimeFormat("en-CA", {
        timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", hourCycle: "h23"
      }).formatToParts(new Date()).forEach(function (p) { parts[p.type] = p.value; });
      return { date: parts.year + "-" + parts.month + "-" + parts.day, time: parts.hour + ":" + parts.minute };
    } catch (e) {
      var d = new Date();
      return { date: d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()), time: pad(d.getHours()) + ":" + pad(d.getMinutes()) };
    }
  }

  document.addEventListener("click", function (event) {
    var now = event.target.closest(".js-now");
    if (now) {
      var parts = nowParts(zoneOf(now));
      var time = document.getElementById(now.getAttribute("data-now-time"));
      var date = document.getElementById(now.getAttribute("data-now-date"));
      if (time) { time.value = parts.time; }
      if (date) { date.value = parts.date; }
      if (time) { time.focus(); }
      return;
    }
    var option = event.target.closest(".js-drug-option");
    if (option) {
      var form = option.closest("form");
      var drug = form.querySelector("input[name$='drug']");
      var hcpcs = form.querySelector("input[name$='hcpcs']");
      var unit = form.querySelector("select[name$='dose_unit']");
      drug.value = option.getAttribute("data-name");
      if (hcpcs) { hcpcs.value = option.getAttribute("data-hcpcs"); }
      if (unit && !unit.value && option.getAttribute("data-unit")) {
        var wanted = option.getAttribute("data-unit");
        for (var i = 0; i < unit.options.length; i++) { if (unit.options[i].value === wanted) { unit.value = wanted; } }
      }
      var list = document.getElementById("drug-options");
      if (list) { list.innerHTML = ""; }
      drug.focus();
    }
  });

  // Typing a new name forgets the chosen code (the server matches the name again).
  document.addEventListener("input", function (event) {
    if (event.target.matches("input[name$='drug']")) {
      var hcpcs = event.target.form && event.target.form.querySelector("input[name$='hcpcs']");
      if (hcpcs) { hcpcs.value = ""; }
    }
  });

  // Escape closes the drug list; arrow down moves into it.
  document.addEventListener("keydown", function (event) {
    if (!event.target.matches("input[name$='drug']")) { return; }
    var list = document.getElementById("drug-options");
    if (!list) { return; }
    if (event.key === "Escape") { list.innerHTML = ""; }
    if (event.key === "ArrowDown") {
      var first = list.querySelector("button");
      if (first) { event.preventDefault(); first.focus(); }
    }
  });

  // htmx swaps keep focus: focus what the server marked, else stay where the user was.
  document.body.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || target.id === "drug-options" || target.id === "charges-preview") { return; }
    var root = document.getElementById(target.id) || document;
    var wanted = root.querySelector("[data-autofocus]");
    if (wanted) {
      wanted.focus();
      if (wanted.select && wanted.tagName === "INPUT") { wanted.select(); }
    }
  });
})();

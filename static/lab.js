// Session Lab's only script of its own: what the page itself can see.
// It counts store expiries down and shows document.cookie beside what the
// server received, because only a script in the page can read either.
(function () {
  "use strict";

  var started = new WeakMap();

  function duration(seconds) {
    var total = Math.max(0, Math.floor(seconds));
    var hours = Math.floor(total / 3600);
    var minutes = Math.floor((total % 3600) / 60);
    var secs = total % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    if (hours) { return hours + " h " + pad(minutes) + " min " + pad(secs) + " s"; }
    if (minutes) { return minutes + " min " + pad(secs) + " s"; }
    return secs + " s";
  }

  // Count from when the fragment arrived, so the browser's clock need not agree
  // with the server's.
  function countDown() {
    document.querySelectorAll("[data-ttl]").forEach(function (element) {
      if (!started.has(element)) {
        started.set(element, Date.now());
      }
      var left = parseFloat(element.dataset.ttl) - (Date.now() - started.get(element)) / 1000;
      element.textContent = left > 0 ? duration(left) : "expired";
    });
  }

  function cookieNames(text) {
    return text.split(";").map(function (pair) {
      return pair.trim().split("=")[0];
    }).filter(Boolean);
  }

  function showDocumentCookie() {
    var text = document.cookie;
    document.querySelectorAll("[data-document-cookie]").forEach(function (element) {
      element.textContent = text || "nothing: no cookie here is visible to page scripts";
    });
    var names = cookieNames(text);
    document.querySelectorAll("[data-cookie-expected]").forEach(function (element) {
      element.hidden = names.indexOf(element.dataset.cookieExpected) !== -1;
    });
  }

  function refresh() {
    countDown();
    showDocumentCookie();
  }

  document.addEventListener("DOMContentLoaded", refresh);
  document.addEventListener("htmx:afterSettle", refresh);
  window.setInterval(countDown, 1000);
})();

// The cookie lesson's decoder: it reads a signed cookie's payload with what
// any page has, base64 and zlib, and no secret, to show that signing hides
// nothing.
(function () {
  "use strict";

  function base64url(text) {
    var standard = text.replace(/-/g, "+").replace(/_/g, "/");
    while (standard.length % 4) { standard += "="; }
    var binary = atob(standard);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i += 1) { bytes[i] = binary.charCodeAt(i); }
    return bytes;
  }

  function inflate(bytes) {
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Response(stream).arrayBuffer().then(function (buffer) {
      return new Uint8Array(buffer);
    });
  }

  function decode(value) {
    var compressed = value.charAt(0) === ".";
    var payload = (compressed ? value.slice(1) : value).split(".")[0];
    var bytes = base64url(payload);
    var ready = compressed ? inflate(bytes) : Promise.resolve(bytes);
    return ready.then(function (plain) {
      return {bytes: plain.length, text: new TextDecoder("utf-8", {fatal: true}).decode(plain)};
    });
  }

  function show() {
    document.querySelectorAll("[data-signed-cookie]").forEach(function (element) {
      var bytes = element.querySelector('[data-decode-part="bytes"]');
      var json = element.querySelector('[data-decode-part="json"]');
      Promise.resolve().then(function () {
        return decode(element.dataset.signedCookie);
      }).then(function (found) {
        bytes.textContent = found.bytes + " bytes";
        json.textContent = found.text;
      }, function (error) {
        bytes.textContent = "it does not decode";
        json.textContent = "nothing readable: " + error.message;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", show);
  document.addEventListener("htmx:afterSettle", show);
})();

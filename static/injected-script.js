// The attacker's script, as if injected into the lesson page. The studio has
// no injection hole: the injected_script demo loads this file on purpose. It
// does what such a script does first: read document.cookie and post it away.
(function () {
  "use strict";

  function steal(button) {
    var demo = button.closest("[data-injected-demo]");
    var taken = document.cookie;
    demo.querySelector("[data-injected-read]").textContent =
      taken || "an empty string: no cookie here is visible to page scripts";

    // htmx sends the form and shows the answer, as for every control here.
    var form = demo.querySelector("[data-injected-loot]");
    form.elements.stolen.value = taken;
    form.requestSubmit();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-injected-run]");
    if (button) {
      steal(button);
    }
  });
})();

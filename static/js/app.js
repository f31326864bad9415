// Our own behaviour, loaded from a file: the content security policy forbids inline scripts.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  document.addEventListener("change", function (event) {
    var form = event.target.closest("form.js-autosubmit");
    if (form) { form.requestSubmit ? form.requestSubmit() : form.submit(); }
  });
})();

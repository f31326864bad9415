// Our own behaviour, loaded from a file: the content security policy forbids inline scripts.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  document.addEventListener("change", function (event) {
    var form = event.target.closest("form.js-autosubmit");
    if (form) { form.requestSubmit ? form.requestSubmit() : form.submit(); }
  });
})();

// After a session expired on a form post, the server hands back what was typed (accounts/refill.py) as a
// JSON data block; put it back into the page's form so nothing is lost. The user checks and submits again.
(function () {
  "use strict";
  function refill() {
    var block = document.getElementById("form-refill");
    if (!block) { return; }
    var fields;
    try { fields = JSON.parse(block.textContent); } catch (e) { return; }
    var names = Object.keys(fields || {});
    var forms = Array.prototype.filter.call(document.querySelectorAll("form"), function (form) {
      return (form.method || "").toLowerCase() === "post" && names.some(function (n) { return form.elements[n]; });
    });
    if (!forms.length) { return; }
    var form = forms[0];
    names.forEach(function (name) {
      var values = fields[name] || [];
      var found = form.elements[name];
      if (!found) { return; }
      var elements = (found.length !== undefined && !found.options) ? Array.prototype.slice.call(found) : [found];
      var i = 0;
      elements.forEach(function (el) {
        if (el.type === "checkbox" || el.type === "radio") {
          el.checked = values.indexOf(el.value) !== -1;
        } else if (el.tagName === "SELECT" && el.multiple) {
          Array.prototype.forEach.call(el.options, function (o) { o.selected = values.indexOf(o.value) !== -1; });
        } else if (el.type !== "file" && el.type !== "hidden" && el.type !== "password") {
          if (i < values.length) { el.value = values[i]; }
          i += 1;
        } else { return; }
        el.dispatchEvent(new Event("change", { bubbles: true }));
      });
    });
    var note = document.createElement("div");
    note.className = "alert alert-info";
    note.setAttribute("role", "status");
    note.textContent = "Your session had ended. What you typed has been put back: check it and save again.";
    form.insertBefore(note, form.firstChild);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", refill);
  } else {
    refill();
  }
})();

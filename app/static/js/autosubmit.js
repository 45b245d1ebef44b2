// Submits the SMART authorization form (authorize_post.html) once the page has loaded, so the
// sign-in continues without a click; the page's button does the same without JavaScript.
// Served as a file because the CSP forbids inline script.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form[data-autosubmit]");
  if (form && !form.dataset.submitted) {
    form.dataset.submitted = "true";
    form.submit();
  }
});

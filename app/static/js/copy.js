// Copy a summary (as plain text from the server) or a text box to the clipboard; print button;
// one-shot submit buttons. Loaded as a file: the CSP allows no inline script.
"use strict";
(function () {
  function say(button, message) {
    var status = button.closest("article, main").querySelector(".copy-status");
    if (status) { status.textContent = message; }
  }

  function copyText(text, button) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).then(function () { say(button, "Copied."); });
    }
    // Fallback for http:// and old embedded browsers: select a hidden text box and copy.
    var box = document.createElement("textarea");
    box.value = text;
    box.setAttribute("readonly", "");
    box.className = "offscreen";
    document.body.appendChild(box);
    box.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(box);
    say(button, ok ? "Copied." : "Copy failed: select the text and press Ctrl+C.");
    return Promise.resolve();
  }

  // A small "Copy" button on each summary section (a section as plain text for a note).
  function addSectionButtons() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-copy-section]"), function (section) {
      var heading = section.querySelector("h2");
      if (!heading) { return; }
      var button = document.createElement("button");
      button.type = "button";
      button.className = "copy-section no-print";
      button.textContent = "Copy";
      button.setAttribute("aria-label", "Copy section: " + heading.textContent);
      heading.appendChild(button);
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", addSectionButtons);
  } else {
    addSectionButtons();
  }

  function sectionText(section) {
    var copy = section.cloneNode(true);
    Array.prototype.forEach.call(copy.querySelectorAll("button, .chart-data"), function (node) {
      node.parentNode.removeChild(node);
    });
    document.body.appendChild(copy);  // innerText needs a rendered node
    copy.className += " offscreen";
    var text = copy.innerText.replace(/\n{3,}/g, "\n\n").trim();
    document.body.removeChild(copy);
    return text;
  }

  document.addEventListener("click", function (event) {
    var sectionButton = event.target.closest(".copy-section");
    if (sectionButton) {
      copyText(sectionText(sectionButton.closest("[data-copy-section]")), sectionButton);
      return;
    }
    var button = event.target.closest(".js-copy, .js-print");
    if (!button) { return; }
    if (button.classList.contains("js-print")) { window.print(); return; }
    var target = button.getAttribute("data-copy-target");
    if (target) {
      copyText(document.getElementById(target).value, button);
      return;
    }
    var url = button.getAttribute("data-copy-url");
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(function (text) { return copyText(text, button); })
      .catch(function () { say(button, "Copy failed: open Plain text and copy from there."); });
  });

  document.addEventListener("submit", function (event) {
    var button = event.target.querySelector(".js-once");
    if (button) {
      if (button.dataset.sent) { event.preventDefault(); return; }
      button.dataset.sent = "1";
      button.setAttribute("aria-disabled", "true");
      button.textContent = "Saving...";
    }
  });
})();

// Sortable dashboard tables: a button in each column heading sorts by that column (dates and
// numbers compare as such); aria-sort tells screen readers the order. No inline script (CSP).
"use strict";
(function () {
  function key(cell) {
    var text = (cell ? cell.textContent : "").trim();
    if (/^\d{4}-\d{2}-\d{2}$/.test(text)) { return text; }
    var number = parseFloat(text);
    return isNaN(number) || !/^-?[\d.]+(\s|$)/.test(text) ? text.toLowerCase() : number;
  }

  function sort(button) {
    var th = button.closest("th");
    var table = th.closest("table");
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    var body = table.tBodies[0];
    // A progress note's text row travels with its record row.
    var groups = [];
    Array.prototype.forEach.call(body.rows, function (row) {
      if (row.classList.contains("note-text") && groups.length) {
        groups[groups.length - 1].push(row);
      } else {
        groups.push([row]);
      }
    });
    groups.sort(function (a, b) {
      var x = key(a[0].cells[index]);
      var y = key(b[0].cells[index]);
      if (x === y) { return 0; }
      return (x < y ? -1 : 1) * (ascending ? 1 : -1);
    });
    groups.forEach(function (group) { group.forEach(function (row) { body.appendChild(row); }); });
    Array.prototype.forEach.call(th.parentNode.children, function (other) {
      if (other.hasAttribute("aria-sort")) { other.setAttribute("aria-sort", "none"); }
    });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("table.sortable th button.sort");
    if (button) { sort(button); }
  });
})();

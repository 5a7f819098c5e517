// The web desk's keyboard shortcuts (served by the app; no CDN).
// Transcript page: a approves, r focuses the send-back comment, j or n opens the next waiting visit.
// Queue page: j or n moves down, k moves up, Enter or o opens the visit marked.
(function () {
  "use strict";

  function typing(event) {
    var el = event.target;
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
  }

  function queueRows() {
    return Array.prototype.slice.call(document.querySelectorAll("#queue tbody tr[data-visit-id]"));
  }

  var marked = -1;

  function mark(index) {
    var rows = queueRows();
    if (!rows.length) { return; }
    marked = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach(function (row, n) { row.classList.toggle("marked", n === marked); });
    rows[marked].scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event)) { return; }
    var key = event.key;
    var approve = document.getElementById("approve");
    var sendBack = document.getElementById("send-back");
    var next = document.getElementById("next-visit");
    if (key === "a" && approve) {
      event.preventDefault();
      approve.submit();
    } else if (key === "r" && sendBack) {
      event.preventDefault();
      sendBack.querySelector("textarea[name=comment]").focus();
    } else if ((key === "j" || key === "n") && next) {
      event.preventDefault();
      window.location.assign(next.getAttribute("href"));
    } else if ((key === "j" || key === "n") && queueRows().length) {
      event.preventDefault();
      mark(marked + 1);
    } else if (key === "k" && queueRows().length) {
      event.preventDefault();
      mark(marked - 1);
    } else if ((key === "Enter" || key === "o") && marked >= 0) {
      var link = queueRows()[marked].querySelector("a.open");
      if (link) {
        event.preventDefault();
        window.location.assign(link.getAttribute("href"));
      }
    }
  });
}());

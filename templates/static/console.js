// Keyboard shortcuts for the Tusk console. Plain JS, served by Tusk itself
// (the Content-Security-Policy allows scripts from 'self' only).
//   /      focus the search box          j / k  next / previous ticket in a queue
//   Enter  open the selected ticket      r      reply (ticket page)
//   n      internal note (ticket page)   g t    go to the ticket queues
(function () {
  "use strict";
  var rows = [];
  var selected = -1;
  var pendingG = false;
  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }
  function select(i) {
    if (!rows.length) return;
    if (selected >= 0) rows[selected].classList.remove("selected");
    selected = Math.max(0, Math.min(rows.length - 1, i));
    rows[selected].classList.add("selected");
    rows[selected].scrollIntoView({ block: "nearest" });
  }
  function focus(id) {
    var el = document.getElementById(id);
    if (el) { el.focus(); return true; }
    return false;
  }
  document.addEventListener("DOMContentLoaded", function () {
    rows = Array.prototype.slice.call(document.querySelectorAll("table.queue tbody tr")).filter(function (tr) {
      return tr.querySelector("a") !== null;
    });
  });
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    if (pendingG) {
      pendingG = false;
      if (e.key === "t") { window.location.href = "/console/tickets?queue=mine"; e.preventDefault(); }
      return;
    }
    switch (e.key) {
      case "/": if (focus("global-search")) e.preventDefault(); break;
      case "j": select(selected + 1); e.preventDefault(); break;
      case "k": select(selected - 1); e.preventDefault(); break;
      case "Enter": if (selected >= 0) { window.location.href = rows[selected].querySelector("a").href; e.preventDefault(); } break;
      case "r": if (focus("reply-body")) e.preventDefault(); break;
      case "n": if (focus("note-body")) e.preventDefault(); break;
      case "g": pendingG = true; break;
    }
  });
})();

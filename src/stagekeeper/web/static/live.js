// The overview follows the event stream: on each committed change, anywhere, it reloads
// its table in place (no page reload). Loaded as a file: the page allows no inline script.
(function () {
  var box = document.getElementById("overview");
  if (!box || !window.EventSource) { return; }
  var mark = box.getAttribute("data-mark") || "";
  var url = "/fragments/overview/changes?after=" + encodeURIComponent(mark);
  var source = new EventSource(url);
  source.addEventListener("change", function () {
    fetch(box.getAttribute("data-live"), { credentials: "same-origin" })
      .then(function (answer) { return answer.ok ? answer.text() : null; })
      .then(function (html) { if (html !== null) { box.innerHTML = html; } });
  });
})();

// The results list: each audio result's waveform (the hub's
// waveform.json: the peak of each span), drawn when it comes into view,
// fetched once. No waveform, no script: the player works alone.
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";

  function draw(svg, peaks) {
    var n = peaks.length;
    if (!n) return;
    var d = "";
    for (var i = 0; i < n; i++) {
      var x = (i / n) * 200;
      var h = Math.max(0.5, Math.min(1, peaks[i]) * 19);
      d += "M" + x.toFixed(2) + " " + (20 - h).toFixed(2) + "V" + (20 + h).toFixed(2);
    }
    var path = document.createElementNS(NS, "path");
    path.setAttribute("d", d);
    path.setAttribute("vector-effect", "non-scaling-stroke");
    svg.appendChild(path);
    svg.setAttribute("data-drawn", String(n));
  }

  function load(svg) {
    if (svg.getAttribute("data-asked")) return;
    svg.setAttribute("data-asked", "1");
    fetch(svg.getAttribute("data-waveform"), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (w) { if (w && Array.isArray(w.peaks)) draw(svg, w.peaks); })
      .catch(function () { /* no waveform: the player is enough */ });
  }

  var seen = "IntersectionObserver" in window
    ? new IntersectionObserver(function (entries) {
        entries.forEach(function (e) {
          if (e.isIntersecting) { seen.unobserve(e.target); load(e.target); }
        });
      }, { rootMargin: "200px" })
    : null;

  function scan(root) {
    (root || document).querySelectorAll("svg[data-waveform]:not([data-asked])").forEach(function (svg) {
      if (seen) seen.observe(svg); else load(svg);
    });
  }

  // "Thêm vào danh sách tải": each result's button submits the one list
  // form with its program's id; here it is sent in place, and the button
  // becomes the hub's note. Without this script the form goes to the list.
  document.addEventListener("submit", function (e) {
    var form = e.target, button = e.submitter;
    // (Not `form.id`: the buttons named `id` belong to the form.)
    if (form.getAttribute("id") !== "list" || !button || !button.value || !window.fetch) return;
    e.preventDefault();
    var body = new URLSearchParams(new FormData(form));
    body.set("id", button.value);
    button.disabled = true;
    fetch(form.getAttribute("action"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "HX-Request": "true", "Content-Type": "application/x-www-form-urlencoded" },
      body: body
    }).then(function (r) {
      if (!r.ok) throw new Error(String(r.status));
      return r.text();
    }).then(function (html) {
      button.insertAdjacentHTML("afterend", html);
      button.remove();
    }).catch(function () {
      // Refused or unreachable: the list page says why.
      button.disabled = false;
      HTMLFormElement.prototype.submit.call(Object.assign(form.appendChild(document.createElement("input")),
        { type: "hidden", name: "id", value: button.value }).form);
    });
  });

  document.addEventListener("DOMContentLoaded", function () { scan(document); });
  // htmx swaps in new results as one types.
  document.addEventListener("htmx:afterSettle", function (e) { scan(e.target); });
})();

/* The upload page: sends the chosen file through the hub's tus endpoint
 * with tus-js-client, in chunks, with progress, speed, time left, pause and
 * resume. A dropped link is retried by itself, for as long as it takes:
 * after tus-js-client's own retries, the page waits and tries again every
 * 30 seconds, and at once when the browser says it is online again. An
 * upload left unfinished (tab or browser closed) is found again when the
 * same file is chosen. */
(function () {
  "use strict";
  var root = document.getElementById("uploader");
  if (!root || !window.tus || !window.tus.isSupported) return;
  var $ = function (id) { return document.getElementById(id); };
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var program = root.dataset.program;
  var chunkSize = Number(root.dataset.chunkSize) || 8 * 1024 * 1024;
  var lang = root.dataset.lang === "en" ? "en-GB" : "vi-VN";
  var fileInput = $("file"), role = $("role"), startB = $("start"), pauseB = $("pause"), resumeB = $("resume");
  var bar = $("progress"), status = $("status"), unfinished = $("unfinished");
  var upload = null, last = null, speed = 0;
  // While the link is down: the next try, and how long until it.
  var RETRY_EVERY_MS = 30000, retryTimer = null;

  function say(text) { status.textContent = text; }
  function buttons(running) {
    startB.disabled = running || !fileInput.files.length;
    pauseB.disabled = !running;
    resumeB.disabled = running || !upload;
  }
  function stopWaiting() {
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = null;
  }
  // What a link that is down (or a hub busy or restarting) answers: worth
  // trying again. Anything else (refused, too large, signed out) is not.
  function retryable(err) {
    var s = err && err.originalResponse ? err.originalResponse.getStatus() : 0;
    return !s || s >= 500 || s === 409 || s === 423 || s === 429;
  }
  // tus-js-client has given up for now: wait, then go on by ourselves.
  function waitForLink() {
    stopWaiting();
    root.dataset.state = "waiting";
    say(root.dataset.msgWaiting);
    startB.disabled = true;
    pauseB.disabled = false;  // stop trying
    resumeB.disabled = false; // try now
    retryTimer = setTimeout(tryAgain, RETRY_EVERY_MS);
  }
  // The next try while waiting (not once paused, finished or failed).
  function tryAgain() {
    if (upload && root.dataset.state === "waiting") go(upload);
  }
  function mb(bytes) {
    return (bytes / 1e6).toLocaleString(lang, { maximumFractionDigits: 1 }) + " MB";
  }
  function clock(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return m + ":" + (s < 10 ? "0" : "") + s;
  }

  // Unfinished uploads of this program, kept by tus-js-client in localStorage.
  var storage = window.tus.defaultOptions.urlStorage;
  if (storage && storage.findAllUploads) {
    storage.findAllUploads().then(function (all) {
      var mine = all.filter(function (u) { return u.metadata && u.metadata.program === program; });
      if (mine.length) {
        unfinished.hidden = false;
        unfinished.textContent = root.dataset.msgUnfinished + " " +
          mine.map(function (u) { return u.metadata.filename; }).join(", ");
      }
    });
  }

  function make(file) {
    var metadata = { program: program, role: role.value, filename: file.name };
    if (file.type) metadata.filetype = file.type;
    return new window.tus.Upload(file, {
      endpoint: root.dataset.endpoint,
      chunkSize: chunkSize,
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000, 30000],
      headers: { "X-CSRF-Token": csrf },
      metadata: metadata,
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      fingerprint: function (f) {
        return Promise.resolve(["pxhub", program, role.value, f.name, f.type, f.size, f.lastModified].join("/"));
      },
      onShouldRetry: retryable,
      onProgress: function (sent, total) {
        var now = Date.now();
        if (last && now > last.t) {
          var rate = (sent - last.sent) * 1000 / (now - last.t);
          if (rate >= 0) speed = speed ? speed * 0.8 + rate * 0.2 : rate;
        }
        last = { t: now, sent: sent };
        var pct = total ? Math.floor(sent * 100 / total) : 0;
        bar.value = pct;
        bar.textContent = pct + "%";
        var text = pct + "% · " + mb(sent) + " / " + mb(total);
        if (speed > 0) text += " · " + mb(speed) + "/s · " + clock((total - sent) / speed) + " " + root.dataset.msgLeft;
        say(text);
      },
      onSuccess: function () {
        bar.value = 100;
        say(root.dataset.msgDone);
        // The file's analysis shows as it goes (htmx asks for the list).
        if (window.htmx && $("files")) window.htmx.trigger($("files"), "refresh");
        // A master is in: the program may be published now.
        var publish = $("publish"), note = $("publish-note");
        if (metadata.role === "master" && publish) {
          publish.disabled = false;
          if (note) note.textContent = root.dataset.msgPublishReady;
        }
        root.dataset.state = "done";
        unfinished.hidden = true;
        upload = null;
        buttons(false);
      },
      onError: function (err) {
        // A request that got no answer, or one worth trying again (not an
        // error before any request, such as an unreadable file).
        if (err && err.originalRequest && retryable(err)) return waitForLink();
        // The session ended (signed out elsewhere, or idle too long while
        // the link was down): what arrived stays, after signing in again.
        // A refusal says why, and what the hub takes instead: trying the
        // same file again cannot work.
        var s = err && err.originalResponse ? err.originalResponse.getStatus() : 0;
        var chosen = role.querySelector('option[value="' + metadata.role + '"]');
        if (s === 401) say(root.dataset.msgSignedOut);
        else if (s === 415) say(root.dataset.msgWrongType + " " + (chosen ? chosen.dataset.expects : ""));
        else if (s === 413) say(root.dataset.msgTooLarge);
        else say(root.dataset.msgFailed);
        root.dataset.state = "failed";
        buttons(false);
      }
    });
  }

  function go(u) {
    stopWaiting();
    last = null; speed = 0;
    root.dataset.state = "uploading";
    u.start();
    buttons(true);
  }

  fileInput.addEventListener("change", function () {
    stopWaiting();
    if (upload) upload.abort();
    upload = null;
    var file = fileInput.files[0];
    buttons(false);
    if (!file) return;
    // Not startable until we know whether it goes on from an unfinished upload.
    startB.disabled = true;
    var u = make(file);
    // The same file as an unfinished upload: go on from what arrived.
    u.findPreviousUploads().then(function (previous) {
      if (previous.length) {
        upload = u;
        u.resumeFromPreviousUpload(previous[0]);
        say(root.dataset.msgResuming);
        go(u);
      } else {
        upload = u;
        buttons(false);
        resumeB.disabled = true;
      }
    });
  });
  startB.addEventListener("click", function () {
    var file = fileInput.files[0];
    if (!file) return;
    if (!upload) upload = make(file);
    go(upload);
  });
  pauseB.addEventListener("click", function () {
    if (!upload) return;
    stopWaiting();
    upload.abort();
    root.dataset.state = "paused";
    say(root.dataset.msgPaused);
    buttons(false);
  });
  resumeB.addEventListener("click", function () {
    if (upload) go(upload);
  });
  // The link is back: go on now rather than at the next try.
  window.addEventListener("online", tryAgain);
})();

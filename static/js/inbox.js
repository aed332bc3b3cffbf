/* Unit inbox and leader view: poll "changes since" and keep the queue counts current; when
   someone else acted, say so and offer a reload (never reload under the user's fingers). */
(function (window, document, gridops) {
  "use strict";

  var configNode = document.getElementById("poll-config");
  var live = document.getElementById("work-live");
  if (!configNode || !live || !gridops) {
    return;
  }
  var config = JSON.parse(configNode.textContent);
  var last = config.lastEventId;
  var shown = false;

  function showChanged() {
    if (shown) {
      return;
    }
    shown = true;
    live.replaceChildren(gridops.el("span", null, config.strings.changed + " "));
    var button = gridops.el("button", "button", config.strings.reload);
    button.type = "button";
    button.addEventListener("click", function () {
      window.location.reload();
    });
    live.appendChild(button);
  }

  async function poll() {
    if (document.hidden) {
      return;
    }
    var url = config.changes + (config.changes.indexOf("?") === -1 ? "?" : "&") + "since=" + last;
    try {
      var body = await gridops.fetchJSON(url);
      Object.keys(body.counts).forEach(function (key) {
        document.querySelectorAll('[data-count="' + key + '"]').forEach(function (node) {
          node.textContent = body.counts[key];
        });
      });
      if (body.changed) {
        last = body.last_event_id;
        showChanged();
      }
    } catch (error) {
      // A failed poll is retried at the next tick; the page itself stays usable.
    }
  }

  window.setInterval(poll, config.pollSeconds * 1000);
  document.addEventListener("visibilitychange", poll);
})(window, document, window.gridops);

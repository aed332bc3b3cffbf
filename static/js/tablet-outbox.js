/* The tablet's outbox: every report is kept on the device first (IndexedDB, photos as Blobs)
   and sent from there, now or when the network returns. Each report carries a key made on
   the device; the server files a key once, so a report sent twice is still one case.
   Also registers the service worker and shows whether the network is there. */
(function (window, document, navigator) {
  "use strict";

  var configNode = document.getElementById("tablet-config");
  if (!configNode) {
    return;
  }
  var config = JSON.parse(configNode.textContent);
  var t = config.strings;
  var el = window.gridops.el;
  var format = window.gridops.format;

  var DB_NAME = "gridops-tablet";
  var STORE = "reports";
  //: Sent reports stay listed this long, so the worker sees what went out today.
  var KEEP_SENT_MS = 12 * 3600 * 1000;
  var SYNC_EVERY_MS = 60 * 1000;
  var PAGES_CACHE = "gridops-tablet-pages";

  // -- storage ---------------------------------------------------------------------------------

  var dbPromise = null;

  function openDb() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var request = window.indexedDB.open(DB_NAME, 1);
        request.onupgradeneeded = function () {
          request.result.createObjectStore(STORE, { keyPath: "key" });
        };
        request.onsuccess = function () { resolve(request.result); };
        request.onerror = function () { reject(request.error); };
      });
    }
    return dbPromise;
  }

  function run(mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode);
        var result = work(tx.objectStore(STORE));
        tx.oncomplete = function () { resolve(result && "result" in result ? result.result : undefined); };
        tx.onerror = function () { reject(tx.error); };
        tx.onabort = function () { reject(tx.error); };
      });
    });
  }

  function allRecords() {
    return run("readonly", function (store) { return store.getAll(); }).then(function (records) {
      return (records || []).sort(function (a, b) { return a.createdAt < b.createdAt ? 1 : -1; });
    });
  }

  function save(record) {
    return run("readwrite", function (store) { store.put(record); });
  }

  function remove(key) {
    return run("readwrite", function (store) { store.delete(key); });
  }

  /** A fresh key for a report: random, at most 64 characters, as the API allows. */
  function newKey() {
    if (window.crypto && window.crypto.randomUUID) {
      return "tablet-" + window.crypto.randomUUID();
    }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return "tablet-" + Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  // -- sending ---------------------------------------------------------------------------------

  var syncing = false;
  var signedOut = false;

  function endpoint(template, number) {
    return template.replace("__number__", encodeURIComponent(number));
  }

  async function readJSON(response) {
    var type = response.headers.get("Content-Type") || "";
    return type.indexOf("json") !== -1 ? response.json() : null;
  }

  function refusal(body, response) {
    if (!body) {
      return "HTTP " + response.status;
    }
    var fields = body.fields || {};
    var details = Object.keys(fields).map(function (name) { return name + ": " + fields[name]; });
    return [body.message].concat(details).filter(Boolean).join(" ");
  }

  /** 4xx answers other than these mean "this report will never be accepted as it is". */
  function isRetryable(status) {
    return status >= 500 || status === 401 || status === 403 || status === 408 || status === 429;
  }

  function post(url, form, token, key) {
    var headers = { Accept: "application/json", "X-CSRFToken": token };
    if (key) {
      headers["Idempotency-Key"] = key;
    }
    return fetch(url, { method: "POST", body: form, headers: headers, credentials: "same-origin", cache: "no-store" });
  }

  async function fileReport(record, token) {
    var form = new FormData();
    Object.keys(record.fields).forEach(function (name) { form.append(name, record.fields[name]); });
    record.photos.forEach(function (blob, index) { form.append("photos", blob, "photo-" + (index + 1) + ".jpg"); });
    var response = await post(config.cases, form, token, record.key);
    var body = await readJSON(response);
    if (response.ok) {
      record.number = body.number;
      record.version = body.version;
      record.state = body.state;
      return true;
    }
    if (isRetryable(response.status)) {
      signedOut = response.status === 401;
      return false;
    }
    record.status = "refused";
    record.message = refusal(body, response);
    return false;
  }

  /** "Fixed on the spot": the filed case is closed with the after photos (once: the version guards it). */
  async function closeFixed(record, token) {
    var form = new FormData();
    form.append("expected_version", String(record.version));
    record.afterPhotos.forEach(function (blob, index) { form.append("photos", blob, "after-" + (index + 1) + ".jpg"); });
    var url = endpoint(config.caseApi, record.number) + "/actions/self_close";
    var response = await post(url, form, token);
    var body = await readJSON(response);
    if (response.ok) {
      record.state = body.state;
      return true;
    }
    if (response.status === 409) {
      // A retry after a lost answer: the case may already be closed by the first attempt.
      var current = await fetch(endpoint(config.caseApi, record.number), { credentials: "same-origin", cache: "no-store" });
      var now = await readJSON(current);
      if (current.ok && now.state === "closed") {
        record.state = "closed";
        return true;
      }
    }
    if (isRetryable(response.status)) {
      signedOut = response.status === 401;
      return false;
    }
    record.status = "refused";
    record.message = refusal(body, response);
    return false;
  }

  async function sendOne(record, token) {
    record.status = "sending";
    await render();
    try {
      if (!record.number && !(await fileReport(record, token))) {
        return;
      }
      // Keep the case number before the next step: a retry then never files again.
      await save(record);
      if (record.selfHandled && record.state !== "closed" && !(await closeFixed(record, token))) {
        return;
      }
      record.status = "sent";
      record.sentAt = new Date().toISOString();
      record.photos = [];
      record.afterPhotos = [];
    } catch (error) {
      // No network (fetch rejects): it stays waiting.
    } finally {
      if (record.status === "sending") {
        record.status = "waiting";
      }
      await save(record);
    }
  }

  async function freshToken() {
    var response = await fetch(config.session, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } });
    if (response.status === 401) {
      signedOut = true;
      return null;
    }
    var body = await readJSON(response);
    if (!response.ok || !body || body.username !== config.username) {
      return null;
    }
    signedOut = false;
    return body.csrf_token;
  }

  async function syncNow() {
    var records = await allRecords();
    // Oldest first: the cases are numbered in the order the worker found the problems.
    var waiting = records.filter(function (r) {
      return r.user === config.username && (r.status === "waiting" || r.status === "sending");
    }).reverse();
    if (!waiting.length || !navigator.onLine) {
      return;
    }
    var token;
    try {
      token = await freshToken();
    } catch (error) {
      return;
    }
    if (!token) {
      return;
    }
    for (var i = 0; i < waiting.length; i += 1) {
      await sendOne(waiting[i], token);
      if (signedOut) {
        break;
      }
    }
  }

  /** Send what is waiting; one sender at a time across this device's tabs. */
  async function sync() {
    if (syncing) {
      return;
    }
    syncing = true;
    try {
      if (navigator.locks) {
        await navigator.locks.request("gridops-tablet-outbox", syncNow);
      } else {
        await syncNow();
      }
    } finally {
      syncing = false;
      await render();
    }
  }

  /** Keep a new report on the device, then try to send it. */
  async function keep(report) {
    var record = {
      key: newKey(),
      user: config.username,
      createdAt: new Date().toISOString(),
      status: "waiting",
      fields: report.fields,
      label: report.label,
      photos: report.photos,
      afterPhotos: report.afterPhotos || [],
      photoCount: report.photos.length,
      selfHandled: Boolean(report.selfHandled),
      number: null,
      version: null,
      state: null,
      message: "",
    };
    await save(record);
    await render();
    sync();
    return record;
  }

  // -- showing ---------------------------------------------------------------------------------

  function timeOf(iso) {
    var locale = config.locale === "zh" ? "zh-CN" : "en-GB";
    return new Date(iso).toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit", timeZone: config.timezone });
  }

  var STATUS_LABELS = { waiting: t.waiting, sending: t.sending, sent: t.sent, refused: t.refused };

  function item(record) {
    var li = el("li", "outbox-item outbox-" + record.status);
    li.setAttribute("data-key", record.key);
    li.appendChild(el("span", "outbox-status", STATUS_LABELS[record.status] || record.status));
    li.appendChild(el("span", "outbox-label", record.label));
    var meta = [format(t.savedAt, { time: timeOf(record.createdAt) }), format(t.photos, { count: record.photoCount })];
    if (record.selfHandled) {
      meta.push(t.fixed);
    }
    li.appendChild(el("span", "outbox-meta muted", meta.join(" · ")));
    if (record.number) {
      var link = el("a", "outbox-number", format(t.caseNumber, { number: record.number }));
      link.href = endpoint(config.caseUrl, record.number);
      li.appendChild(link);
    }
    if (record.message) {
      li.appendChild(el("span", "outbox-message", record.message));
    }
    if (record.status !== "sending") {
      var button = el("button", "outbox-remove", t.remove);
      button.type = "button";
      button.addEventListener("click", async function () {
        if (record.status !== "sent" && !window.confirm(t.removeConfirm)) {
          return;
        }
        await remove(record.key);
        render();
      });
      li.appendChild(button);
    }
    return li;
  }

  async function render() {
    var boxes = document.querySelectorAll(".outbox");
    var records;
    try {
      records = await allRecords();
    } catch (error) {
      return;
    }
    var cutoff = Date.now() - KEEP_SENT_MS;
    var mine = [];
    var others = 0;
    for (var i = 0; i < records.length; i += 1) {
      var record = records[i];
      if (record.status === "sent" && Date.parse(record.sentAt) < cutoff) {
        remove(record.key);
      } else if (record.user === config.username) {
        mine.push(record);
      } else if (record.status !== "sent") {
        others += 1;
      }
    }
    var badge = document.getElementById("outbox-count");
    if (badge) {
      var waiting = mine.filter(function (r) { return r.status !== "sent"; }).length;
      badge.hidden = waiting === 0;
      badge.textContent = String(waiting);
      badge.title = t.waiting;
      badge.setAttribute("aria-label", waiting + " " + t.waiting);
    }
    Array.prototype.forEach.call(boxes, function (box) {
      box.textContent = "";
      if (signedOut) {
        box.appendChild(el("p", "notice notice-warning", t.signIn));
      }
      if (!mine.length) {
        box.appendChild(el("p", "muted", t.empty));
      } else {
        var list = el("ul", "outbox-list");
        mine.forEach(function (record) { list.appendChild(item(record)); });
        box.appendChild(list);
        if (navigator.onLine && mine.some(function (r) { return r.status === "waiting"; })) {
          var retry = el("button", "outbox-retry", t.retry);
          retry.type = "button";
          retry.addEventListener("click", sync);
          box.appendChild(retry);
        }
      }
      if (others) {
        box.appendChild(el("p", "muted", t.otherUser + " (" + others + ")"));
      }
    });
  }

  function showNetwork() {
    var node = document.getElementById("tablet-net");
    if (!node) {
      return;
    }
    node.hidden = navigator.onLine;
    node.textContent = navigator.onLine ? "" : t.offline;
    document.body.classList.toggle("is-offline", !navigator.onLine);
  }

  window.addEventListener("online", function () { showNetwork(); sync(); });
  window.addEventListener("offline", function () { showNetwork(); render(); });
  window.setInterval(sync, SYNC_EVERY_MS);

  // Signing out forgets the pages kept for offline use (they show this user's work).
  Array.prototype.forEach.call(document.querySelectorAll('form[action$="/logout"]'), function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.caches || form.dataset.forgotten) {
        return;
      }
      event.preventDefault();
      form.dataset.forgotten = "1";
      window.caches.delete(PAGES_CACHE).catch(function () {}).then(function () { form.submit(); });
    });
  });

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(config.sw, { scope: config.scope }).catch(function () {
      // Without a service worker the pages still work online; reports are kept all the same.
    });
  }

  window.gridopsOutbox = { keep: keep, sync: sync, render: render };
  showNetwork();
  render().then(sync);
})(window, document, navigator);

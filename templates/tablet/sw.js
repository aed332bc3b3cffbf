/* The tablet app's service worker (scope {{ scope }}), shell version {{ version }}.
   Keeps the app shell (static assets, and the tablet pages as last seen) so the app opens
   without a network; API answers are never kept (they carry people's cases and photos). */
"use strict";

var VERSION = {{ version | tojson }};
var SHELL_CACHE = "gridops-tablet-shell-" + VERSION;
var PAGES_CACHE = "gridops-tablet-pages";
var ASSETS = {{ assets | tojson }};
var START_PAGES = {{ pages | tojson }};
var SCOPE = new URL({{ scope | tojson }}, self.location).pathname;
var STATIC = new URL({{ static | tojson }}, self.location).pathname;

/** A page worth keeping: a full answer of the page itself, not a redirect to sign in. */
function keepable(response) {
  var type = response.headers.get("Content-Type") || "";
  return response.ok && !response.redirected && response.type === "basic" && type.indexOf("text/html") === 0;
}

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(SHELL_CACHE).then(function (cache) {
      return cache.addAll(ASSETS);
    }).then(function () {
      return caches.open(PAGES_CACHE);
    }).then(function (cache) {
      return Promise.all(START_PAGES.map(function (url) {
        return fetch(url, { credentials: "same-origin" }).then(function (response) {
          return keepable(response) ? cache.put(url, response) : null;
        }).catch(function () { return null; });
      }));
    }).then(function () {
      return self.skipWaiting();
    })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf("gridops-tablet-shell-") === 0 && name !== SHELL_CACHE;
      }).map(function (name) { return caches.delete(name); }));
    }).then(function () {
      return self.clients.claim();
    })
  );
});

function fromShell(request) {
  return caches.match(request, { cacheName: SHELL_CACHE }).then(function (hit) {
    return hit || fetch(request).then(function (response) {
      if (response.ok && response.type === "basic") {
        var copy = response.clone();
        caches.open(SHELL_CACHE).then(function (cache) { cache.put(request, copy); });
      }
      return response;
    });
  });
}

function page(request) {
  return fetch(request).then(function (response) {
    if (keepable(response)) {
      var copy = response.clone();
      caches.open(PAGES_CACHE).then(function (cache) { cache.put(request.url, copy); });
    }
    return response;
  }).catch(function () {
    return caches.open(PAGES_CACHE).then(function (cache) {
      return cache.match(request.url, { ignoreSearch: true }).then(function (hit) {
        return hit || cache.match(START_PAGES[0]);
      });
    }).then(function (hit) {
      return hit || new Response("<!doctype html><meta charset=utf-8><title>offline</title><p>offline · 无网络</p>", {
        status: 503,
        headers: { "Content-Type": "text/html; charset=utf-8" },
      });
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") {
    return;
  }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) {
    return;
  }
  if (url.pathname.indexOf(STATIC) === 0) {
    event.respondWith(fromShell(request));
  } else if (request.mode === "navigate" && url.pathname.indexOf(SCOPE) === 0) {
    event.respondWith(page(request));
  }
});

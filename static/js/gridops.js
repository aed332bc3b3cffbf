/* Shared helpers for gridops pages: JSON requests with the session cookie and CSRF token. */
(function (window, document) {
  "use strict";

  var UNSAFE = { POST: true, PUT: true, PATCH: true, DELETE: true };

  /** The CSRF token the server put in <meta name="csrf-token">, sent with every write. */
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  /** An error from the API, carrying its envelope {error, message, fields} and HTTP status. */
  function ApiError(status, body) {
    this.name = "ApiError";
    this.status = status;
    this.code = (body && body.error) || "http_" + status;
    this.message = (body && body.message) || "";
    this.fields = (body && body.fields) || {};
  }
  ApiError.prototype = Object.create(Error.prototype);

  /** fetch() a JSON resource of this site; resolves to the parsed body or rejects with ApiError. */
  async function fetchJSON(url, options) {
    var opts = Object.assign({ method: "GET", credentials: "same-origin" }, options || {});
    opts.headers = Object.assign({ Accept: "application/json" }, opts.headers || {});
    if (UNSAFE[opts.method.toUpperCase()]) {
      opts.headers["X-CSRFToken"] = csrfToken();
      if (opts.body !== undefined && typeof opts.body !== "string") {
        opts.headers["Content-Type"] = "application/json";
        opts.body = JSON.stringify(opts.body);
      }
    }
    var response = await fetch(url, opts);
    var body = null;
    if ((response.headers.get("Content-Type") || "").indexOf("application/json") !== -1) {
      body = await response.json();
    }
    if (!response.ok) {
      throw new ApiError(response.status, body);
    }
    return body;
  }

  /** Replace {name} placeholders in a translated string. */
  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (match, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : match;
    });
  }

  /** Create an element with a class and text content (never HTML, so data cannot inject markup). */
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = text;
    }
    return node;
  }

  window.gridops = { ApiError: ApiError, csrfToken: csrfToken, fetchJSON: fetchJSON, format: format, el: el };
})(window, document);

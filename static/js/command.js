/* The command centre: the map of the queue's cases (clustered, coloured by state) over the
   grid layer, the case panel (photos, timeline, the allowed actions taken through the API)
   and polling of "changes since" so counts, list and map follow what others do.
   Without this script the page still works: every case links to its own page, and the
   batch dispatch form posts as usual. Map coordinates are in the grid layer's datum. */
(function (window, document, L, gridops) {
  "use strict";

  var configNode = document.getElementById("command-config");
  if (!configNode || !gridops) {
    return;
  }
  var config = JSON.parse(configNode.textContent);
  var t = config.strings;
  var el = gridops.el;
  var format = gridops.format;
  var live = document.getElementById("work-live");
  var panel = document.getElementById("case-panel");
  var panelBody = document.getElementById("panel-body");
  var panelEmpty = document.getElementById("panel-empty");
  var mapStatus = document.getElementById("map-status");
  var lastEventId = config.lastEventId;
  var openNumber = null;

  var timeParts = new Intl.DateTimeFormat("en-US", {
    timeZone: config.timezone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
  });

  /** An ISO instant as "YYYY-MM-DD HH:MM" in the city's time zone, as the pages show times. */
  function localTime(iso) {
    if (!iso) {
      return "";
    }
    var v = {};
    timeParts.formatToParts(new Date(iso)).forEach(function (part) {
      v[part.type] = part.value;
    });
    return v.year + "-" + v.month + "-" + v.day + " " + v.hour + ":" + v.minute;
  }

  /** The filters of the page (area, unit, text) as query parameters. */
  function filterParams(extra) {
    var params = new URLSearchParams();
    Object.keys(config.filters).forEach(function (key) {
      if (config.filters[key]) {
        params.set(key, config.filters[key]);
      }
    });
    Object.keys(extra || {}).forEach(function (key) {
      params.set(key, extra[key]);
    });
    return params.toString();
  }

  function url(template, values) {
    return template.replace(/__(\w+)__/g, function (match, key) {
      return encodeURIComponent(values[key]);
    });
  }

  function say(text, kind) {
    live.replaceChildren(el("span", kind ? "flash flash-" + kind : null, text));
  }

  // -- the map ---------------------------------------------------------------------------------

  var map = null;
  var clusters = null;
  var unitGrids = null;
  var mapController = null;
  var UNIT_ZOOM = 16;

  function stateGroup(properties) {
    if (properties.overdue) {
      return "overdue";
    }
    if (properties.state === "handled") {
      return "check";
    }
    if (["dispatched", "handling", "suspended"].indexOf(properties.state) !== -1) {
      return "unit";
    }
    return "intake";
  }

  function bboxParam() {
    var b = map.getBounds().pad(0.25);
    return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) {
      return v.toFixed(6);
    }).join(",");
  }

  async function loadCases() {
    if (!map) {
      return;
    }
    if (mapController) {
      mapController.abort();
    }
    mapController = new AbortController();
    mapStatus.textContent = t.mapLoading;
    try {
      var body = await gridops.fetchJSON(
        config.api.map + "?" + filterParams({ queue: config.queue, bbox: bboxParam() }),
        { signal: mapController.signal }
      );
      clusters.clearLayers();
      var markers = body.features.map(function (feature) {
        var p = feature.properties;
        var c = feature.geometry.coordinates;
        var marker = L.circleMarker([c[1], c[0]], {
          radius: 9,
          weight: 2,
          color: "#111418",
          fillOpacity: 0.9,
          className: "case-dot case-dot-" + stateGroup(p),
        });
        marker.number = p.number;
        marker.bindTooltip(p.number + " · " + (config.stateLabels[p.state] || p.state) + " · " + p.small_class);
        marker.on("click", function () {
          openCase(p.number);
        });
        return marker;
      });
      clusters.addLayers(markers);
      mapStatus.textContent = body.truncated
        ? format(t.mapTruncated, { count: body.features.length })
        : format(t.mapCount, { count: body.features.length });
    } catch (error) {
      if (error.name !== "AbortError") {
        mapStatus.textContent = t.mapFailed;
      }
    }
  }

  async function loadOverview() {
    if (!config.levels.overview) {
      return;
    }
    try {
      var body = await gridops.fetchJSON(
        config.api.areas + "?" + new URLSearchParams({ level: config.levels.overview, limit: "500", simplify: "0.0005" })
      );
      L.geoJSON(body, {
        interactive: false,
        style: { color: "#0b5cad", weight: 2, fill: false, dashArray: "8 5" },
      }).addTo(map).bringToBack();
      if (!config.home && body.features.length) {
        map.fitBounds(L.geoJSON(body).getBounds());
      }
    } catch (error) {
      mapStatus.textContent = t.mapFailed;
    }
  }

  async function loadUnitGrids() {
    if (!config.levels.unit) {
      return;
    }
    unitGrids.clearLayers();
    if (map.getZoom() < UNIT_ZOOM) {
      return;
    }
    try {
      var body = await gridops.fetchJSON(
        config.api.areas + "?" + new URLSearchParams({ level: config.levels.unit, bbox: bboxParam(), limit: "2000" })
      );
      unitGrids.addData(body);
    } catch (error) {
      mapStatus.textContent = t.mapFailed;
    }
  }

  function setUpMap() {
    var node = document.getElementById("command-map");
    if (!node || !L || !L.markerClusterGroup) {
      return;
    }
    map = L.map(node, { zoomControl: true, keyboard: true, maxZoom: 19, minZoom: 3 });
    if (config.tileUrl) {
      L.tileLayer(config.tileUrl, { attribution: config.tileAttribution, maxZoom: 19 }).addTo(map);
    }
    unitGrids = L.geoJSON(null, {
      interactive: false,
      style: { color: "#1b5e20", weight: 1, fill: false },
    }).addTo(map);
    clusters = L.markerClusterGroup({ maxClusterRadius: 50, showCoverageOnHover: false, chunkedLoading: true });
    map.addLayer(clusters);
    if (config.home) {
      var h = config.home;
      map.fitBounds([[h[1], h[0]], [h[3], h[2]]]);
    } else {
      map.setView([33.0, 112.55], 12);
    }
    var timer = null;
    map.on("moveend", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () {
        loadCases();
        loadUnitGrids();
      }, 250);
    });
    loadOverview();
    loadCases();
    loadUnitGrids();
  }

  // -- the case panel --------------------------------------------------------------------------

  function section(title) {
    var node = el("section", "panel-section");
    node.appendChild(el("h3", null, title));
    return node;
  }

  function labelled(id, text, control) {
    var wrap = el("div", "panel-field");
    var label = el("label", null, text);
    label.htmlFor = id;
    control.id = id;
    wrap.append(label, control);
    return wrap;
  }

  function actionForm(data, action) {
    if (action.required.indexOf("master") !== -1) {
      // Merging needs the likely duplicates side by side: the case page shows them.
      var wrap = el("p", "panel-action");
      var link = el("a", "button", action.label);
      link.href = url(config.api.page, { number: data.number }) + "#actions-title";
      wrap.append(link, " ", el("span", "muted", t.mergeOnPage));
      return wrap;
    }
    var form = el("form", "action-form panel-action");
    form.setAttribute("aria-label", action.label);
    var prefix = "panel-" + action.name;
    action.required.forEach(function (input) {
      var control;
      if (input === "unit") {
        control = el("select");
        control.name = "unit";
        control.appendChild(new Option("", ""));
        config.units.forEach(function (unit) {
          var suggested = data.suggested_unit && data.suggested_unit.code === unit.code;
          var option = new Option(unit.name + (suggested ? " (" + t.suggested + ")" : ""), unit.code);
          option.selected = suggested;
          control.appendChild(option);
        });
        form.appendChild(labelled(prefix + "-unit", t.unit, control));
      } else if (input === "due_at") {
        control = el("input");
        control.type = "datetime-local";
        control.name = "due_at";
        form.appendChild(labelled(prefix + "-due", t.dueAt, control));
      } else if (input === "photos") {
        control = el("input");
        control.type = "file";
        control.name = "photos";
        control.multiple = true;
        control.accept = "image/jpeg,image/png,image/webp";
        form.appendChild(labelled(prefix + "-photos", t.photosInput, control));
      } else {
        control = el("textarea");
        control.name = input;
        control.rows = 2;
        control.maxLength = 2000;
        form.appendChild(labelled(prefix + "-" + input, t[input] || input, control));
      }
      control.required = true;
    });
    var button = el("button", "primary", action.label);
    button.type = "submit";
    form.appendChild(button);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      takeAction(data, action, form, button);
    });
    return form;
  }

  /** A local date-time from a datetime-local input, with the city's UTC offset at that moment. */
  function withOffset(local) {
    var guess = new Date(local + "Z");
    var parts = new Intl.DateTimeFormat("en-US", {
      timeZone: config.timezone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit",
    }).formatToParts(guess);
    var v = {};
    parts.forEach(function (part) {
      v[part.type] = part.value;
    });
    var shown = Date.UTC(+v.year, +v.month - 1, +v.day, +v.hour, +v.minute);
    var minutes = Math.round((shown - guess.getTime()) / 60000);
    var sign = minutes >= 0 ? "+" : "-";
    minutes = Math.abs(minutes);
    var pad = function (n) {
      return String(n).padStart(2, "0");
    };
    return local + ":00" + sign + pad(Math.floor(minutes / 60)) + ":" + pad(minutes % 60);
  }

  async function takeAction(data, action, form, button) {
    var body = new FormData();
    body.set("expected_version", String(data.version));
    Array.prototype.forEach.call(form.elements, function (control) {
      if (!control.name) {
        return;
      }
      if (control.type === "file") {
        Array.prototype.forEach.call(control.files, function (file) {
          body.append("photos", file);
        });
      } else if (control.name === "due_at" && control.value) {
        body.set("due_at", withOffset(control.value));
      } else if (control.value) {
        body.set(control.name, control.value);
      }
    });
    button.disabled = true;
    try {
      var response = await fetch(url(config.api.action, { number: data.number, action: action.name }), {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": gridops.csrfToken() },
      });
      var answer = await response.json().catch(function () {
        return null;
      });
      if (response.status === 401) {
        say(t.sessionEnded, "error");
        return;
      }
      if (!response.ok) {
        var error = new gridops.ApiError(response.status, answer);
        if (error.code === "stale_case") {
          await openCase(data.number, t.stale);
          return;
        }
        showError(form, error);
        return;
      }
      renderCase(answer, format(t.done, { action: action.label }));
      poll(true);
    } catch (error) {
      showError(form, { message: t.loadFailed, fields: {} });
    } finally {
      button.disabled = false;
    }
  }

  function showError(form, error) {
    var old = form.querySelector(".field-error");
    if (old) {
      old.remove();
    }
    var details = Object.keys(error.fields || {}).map(function (key) {
      return key + ": " + error.fields[key];
    });
    var node = el("p", "field-error", [error.message].concat(details).join(" "));
    node.setAttribute("role", "alert");
    form.insertBefore(node, form.lastChild);
  }

  function renderCase(data, notice) {
    panelEmpty.hidden = true;
    var nodes = [];
    if (notice) {
      var flash = el("p", "flash flash-success", notice);
      flash.setAttribute("role", "status");
      nodes.push(flash);
    }
    var head = el("p", "panel-head");
    var link = el("a", "case-number", data.number);
    link.href = url(config.api.page, { number: data.number });
    link.title = t.openPage;
    head.append(link, " ", el("span", "state state-" + data.state, config.stateLabels[data.state] || data.state));
    if (data.colour) {
      head.append(" ", el("span", "badge badge-" + data.colour, config.colourLabels[data.colour] || data.colour));
    }
    if (data.supervised) {
      head.append(" ", el("span", "badge badge-supervised", t.supervised));
    }
    nodes.push(head);

    var facts = section(t.facts);
    var dl = el("dl", "facts");
    var name = config.locale === "en" ? data.small_class.name_en || data.small_class.name : data.small_class.name;
    [
      [t.reported, localTime(data.reported_at)],
      [t.address, [data.address, data.unit_grid ? data.unit_grid.name + " " + data.unit_grid.code : ""]
        .filter(Boolean).join(" · ") || "—"],
      [t.heldBy, data.holder_unit ? data.holder_unit.name : "—"],
      [t.suggestedUnit, data.suggested_unit ? data.suggested_unit.name : "—"],
    ].forEach(function (pair) {
      dl.append(el("dt", null, pair[0]), el("dd", null, pair[1]));
    });
    facts.appendChild(el("p", null, data.small_class.full_code + " " + name));
    facts.appendChild(dl);
    if (data.description) {
      facts.appendChild(el("p", "description", data.description));
    }
    nodes.push(facts);

    if (data.photos.length) {
      var photos = section(t.photos);
      var list = el("ul", "photo-grid photo-grid-small");
      data.photos.forEach(function (photo, index) {
        var item = el("li");
        var a = el("a");
        a.href = photo.url;
        var img = el("img");
        img.src = photo.thumb_url;
        img.alt = format(t.photoAlt, { n: index + 1, number: data.number });
        img.loading = "lazy";
        a.appendChild(img);
        item.appendChild(a);
        list.appendChild(item);
      });
      photos.appendChild(list);
      nodes.push(photos);
    }

    var actions = section(t.actions);
    if (data.allowed_actions.length) {
      data.allowed_actions.forEach(function (action) {
        action.label = config.locale === "en" ? action.label_en : action.label_zh;
        actions.appendChild(actionForm(data, action));
      });
    } else {
      actions.appendChild(el("p", "muted", t.noActions));
    }
    nodes.push(actions);

    var timeline = section(t.timeline);
    var ol = el("ol", "timeline");
    data.events.forEach(function (event) {
      var li = el("li", "timeline-event");
      var headLine = el("p", "timeline-head");
      headLine.appendChild(el("strong", "timeline-action", config.actionLabels[event.action] || event.action));
      if (event.to_state && event.from_state !== event.to_state) {
        headLine.append(" ", el("span", "timeline-states",
          (event.from_state ? (config.stateLabels[event.from_state] || event.from_state) + " → " : "→ ") +
          (config.stateLabels[event.to_state] || event.to_state)));
      }
      li.appendChild(headLine);
      var meta = [localTime(event.at)];
      if (event.actor) {
        meta.push(event.actor.full_name);
      }
      if (event.actor_role) {
        meta.push(config.roleLabels[event.actor_role] || event.actor_role);
      }
      li.appendChild(el("p", "timeline-meta muted", meta.join(" · ")));
      if (event.note) {
        li.appendChild(el("p", "timeline-note", event.note));
      }
      if (event.payload && event.payload.requested_due_at) {
        li.appendChild(el("p", "timeline-note", format(t.untilTime, { due: localTime(event.payload.requested_due_at) })));
      }
      ol.appendChild(li);
    });
    timeline.appendChild(ol);
    nodes.push(timeline);
    panelBody.replaceChildren.apply(panelBody, nodes);
  }

  async function openCase(number, notice) {
    openNumber = number;
    document.querySelectorAll(".work-item.is-open").forEach(function (node) {
      node.classList.remove("is-open");
    });
    var item = document.getElementById("case-" + number);
    if (item) {
      item.classList.add("is-open");
    }
    panelEmpty.hidden = true;
    panelBody.replaceChildren(el("p", "muted", t.loading));
    try {
      var data = await gridops.fetchJSON(url(config.api.case, { number: number }));
      renderCase(data, notice);
    } catch (error) {
      panelBody.replaceChildren(el("p", "flash flash-error", error.status === 401 ? t.sessionEnded : t.loadFailed));
    }
    panel.focus();
    if (panel.scrollIntoView && window.matchMedia("(max-width: 60rem), (orientation: portrait)").matches) {
      panel.scrollIntoView({ block: "start" });
    }
  }

  // -- the list --------------------------------------------------------------------------------

  function wireList(root) {
    root.querySelectorAll("a.case-open").forEach(function (link) {
      link.addEventListener("click", function (event) {
        if (event.ctrlKey || event.metaKey || event.shiftKey) {
          return;
        }
        event.preventDefault();
        openCase(link.dataset.number);
      });
    });
    var all = root.querySelector("#select-all");
    if (all) {
      all.hidden = false;
      all.addEventListener("click", function () {
        var boxes = root.querySelectorAll('input[name="case"]');
        var every = Array.prototype.every.call(boxes, function (box) {
          return box.checked;
        });
        boxes.forEach(function (box) {
          box.checked = !every;
        });
      });
    }
  }

  /** Replace the list with the server's current one, unless the user has cases selected. */
  async function refreshList() {
    var list = document.querySelector(".command-list");
    if (list.querySelector('input[name="case"]:checked')) {
      var button = el("button", "button", t.reloadList);
      button.type = "button";
      button.addEventListener("click", function () {
        window.location.reload();
      });
      live.replaceChildren(el("span", null, t.changed + " "), button);
      return;
    }
    try {
      var response = await fetch(window.location.href, { credentials: "same-origin" });
      if (!response.ok) {
        return;
      }
      var doc = new DOMParser().parseFromString(await response.text(), "text/html");
      var fresh = doc.querySelector(".command-list");
      if (fresh) {
        list.replaceChildren.apply(list, Array.prototype.slice.call(fresh.childNodes));
        wireList(list);
        if (openNumber && document.getElementById("case-" + openNumber)) {
          document.getElementById("case-" + openNumber).classList.add("is-open");
        }
      }
    } catch (error) {
      // Retried at the next change.
    }
  }

  async function poll(force) {
    if (document.hidden && !force) {
      return;
    }
    try {
      var body = await gridops.fetchJSON(
        config.api.changes + "&" + filterParams({ since: String(lastEventId) })
      );
      Object.keys(body.counts).forEach(function (key) {
        document.querySelectorAll('[data-count="' + key + '"]').forEach(function (node) {
          node.textContent = body.counts[key];
        });
      });
      if (body.changed) {
        lastEventId = body.last_event_id;
        refreshList();
        loadCases();
        if (!force) {
          say(t.changed);
        }
      }
    } catch (error) {
      if (error.status === 401) {
        say(t.sessionEnded, "error");
      }
    }
  }

  wireList(document);
  setUpMap();
  window.setInterval(poll, config.pollSeconds * 1000);
  document.addEventListener("visibilitychange", function () {
    poll(false);
  });
})(window, document, window.L, window.gridops);

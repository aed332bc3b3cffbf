/* The territory map: draws the grid hierarchy from the API and locates tapped points.
   Overview levels (districts, subdistricts) load once; deeper levels load for the visible
   part of the map from their zoom on, so a full city's 200,000 unit grids never load at once.
   Map coordinates are in the layer's datum, so positions are located in that datum. */
(function (window, document, L, gridops) {
  "use strict";

  var configNode = document.getElementById("map-config");
  var mapNode = document.getElementById("map");
  if (!configNode || !mapNode || !L || !gridops) {
    return;
  }

  // Where the map opens when there is nothing to draw: the layers use Chinese datums.
  var FALLBACK_CENTER = [35.0, 105.0];

  var config = JSON.parse(configNode.textContent);
  var t = config.strings;
  var el = gridops.el;
  var format = gridops.format;
  var statusNode = document.getElementById("map-status");
  var resultNode = document.getElementById("locate-result");
  var locateForm = document.getElementById("locate-form");

  var map = L.map(mapNode, {
    zoomControl: false,
    minZoom: 3,
    maxZoom: config.maxZoom,
    keyboard: true,
    attributionControl: true,
  });
  L.control.zoom({ position: "topleft", zoomInTitle: t.zoomIn, zoomOutTitle: t.zoomOut }).addTo(map);
  L.control.scale({ imperial: false, position: "bottomleft" }).addTo(map);
  if (config.tileUrl) {
    L.tileLayer(config.tileUrl, { attribution: config.tileAttribution, maxZoom: config.maxZoom }).addTo(map);
  }

  function areaName(item) {
    return config.locale === "en" ? item.name_en || item.name : item.name;
  }

  function levelName(key, fallback) {
    return config.levelNames[key] || fallback || key;
  }

  /** The part of a code that its parent's code does not already say (e.g. a unit grid's "003"). */
  function shortCode(code, parentCode) {
    if (parentCode && code.length > parentCode.length && code.indexOf(parentCode) === 0) {
      return code.slice(parentCode.length);
    }
    return code;
  }

  // One state per drawn level: its GeoJSON layer, its labels, and what was fetched last.
  var levels = config.levels.map(function (level) {
    var state = {
      level: level,
      labels: L.layerGroup(),
      fetchedBounds: null,
      fetchedZoom: null,
      truncated: false,
      shown: 0,
      controller: null,
      loading: false,
      failed: false,
    };
    state.layer = L.geoJSON(null, {
      style: function () {
        return {
          color: level.style.color,
          weight: level.style.weight,
          dashArray: level.style.dash || null,
          opacity: 1,
          fill: true,
          fillColor: level.style.color,
          fillOpacity: level.style.fill || 0,
        };
      },
      onEachFeature: function (feature, layer) {
        var p = feature.properties;
        layer.bindTooltip(
          format(t.areaTooltip, { level: level.name, name: areaName(p), code: p.code }),
          { sticky: true, direction: "top" }
        );
        var bounds = layer.getBounds();
        var label = L.marker(bounds.getCenter(), {
          interactive: false,
          keyboard: false,
          icon: L.divIcon({
            className: "area-label area-label-" + level.key,
            html: "",
            iconSize: null,
          }),
        });
        label.area = bounds;
        label.texts = level.is_unit
          ? [shortCode(p.code, p.parent_code)]
          : [areaName(p), shortCode(p.code, p.parent_code)];
        label.on("add", function () {
          label.getElement().replaceChildren(el("span"));
        });
        state.labels.addLayer(label);
      },
    });
    return state;
  });

  function labelLevelIndex(zoom) {
    var chosen = -1;
    levels.forEach(function (state, index) {
      if (zoom >= state.level.label_zoom && zoom >= state.level.min_zoom) {
        chosen = index;
      }
    });
    return chosen;
  }

  var measure = document.createElement("canvas").getContext("2d");
  // Room a label leaves around its text (padding), and the least height it needs.
  var LABEL_PADDING = 10;
  var LABEL_HEIGHT = 20;

  /** Give each label the longest text that fits inside its area at this zoom: name, code, or none. */
  function fitLabels(state) {
    state.labels.eachLayer(function (label) {
      var element = label.getElement();
      var span = element && element.firstChild;
      if (!span) {
        return;
      }
      if (!state.font) {
        state.font = window.getComputedStyle(span).font;
      }
      measure.font = state.font;
      var sw = map.latLngToContainerPoint(label.area.getSouthWest());
      var ne = map.latLngToContainerPoint(label.area.getNorthEast());
      var width = Math.abs(ne.x - sw.x) - LABEL_PADDING;
      var text = "";
      if (Math.abs(sw.y - ne.y) >= LABEL_HEIGHT) {
        text = label.texts.find(function (candidate) {
          return measure.measureText(candidate).width <= width;
        }) || "";
      }
      if (span.textContent !== text) {
        span.textContent = text;
      }
      span.hidden = text === "";
    });
  }

  function updateLabels() {
    var chosen = labelLevelIndex(map.getZoom());
    levels.forEach(function (state, index) {
      var show = index === chosen && map.hasLayer(state.layer);
      if (show && !map.hasLayer(state.labels)) {
        state.labels.addTo(map);
      } else if (!show && map.hasLayer(state.labels)) {
        map.removeLayer(state.labels);
      }
      if (show) {
        fitLabels(state);
      }
    });
  }

  /** Deeper levels above outer ones (so a tap or hover reaches the smallest area), the answer on top. */
  function restack() {
    levels.forEach(function (state) {
      if (map.hasLayer(state.layer)) {
        state.layer.bringToFront();
      }
    });
    if (map.hasLayer(highlight)) {
      highlight.bringToFront();
      highlightInner.bringToFront();
    }
    if (map.hasLayer(pointMarker)) {
      pointMarker.bringToFront();
    }
  }

  function updateStatus() {
    var zoom = map.getZoom();
    var messages = [];
    var hinted = false;
    levels.forEach(function (state) {
      var level = state.level;
      if (state.loading) {
        messages.push(format(t.loadingLevel, { level: level.name }));
      } else if (state.failed) {
        messages.push(format(t.loadFailed, { level: level.name }));
      } else if (zoom < level.min_zoom && !hinted) {
        messages.push(format(t.zoomInFor, { level: level.name }));
        hinted = true;
      } else if (state.truncated && zoom >= level.min_zoom) {
        messages.push(format(t.truncated, { level: level.name, count: state.shown }));
      }
    });
    statusNode.textContent = messages.join(" ");
  }

  function areasUrl(level, bounds) {
    var params = new URLSearchParams({ level: level.key, limit: String(config.fetchLimit) });
    if (bounds) {
      params.set(
        "bbox",
        [bounds.getWest(), bounds.getSouth(), bounds.getEast(), bounds.getNorth()]
          .map(function (value) { return value.toFixed(6); })
          .join(",")
      );
    }
    return config.api.areas + "?" + params.toString();
  }

  async function loadLevel(state, bounds) {
    if (state.controller) {
      state.controller.abort();
    }
    var controller = new AbortController();
    state.controller = controller;
    state.loading = true;
    state.failed = false;
    updateStatus();
    try {
      var collection = await gridops.fetchJSON(areasUrl(state.level, bounds), { signal: controller.signal });
      state.layer.clearLayers();
      state.labels.clearLayers();
      state.layer.addData(collection);
      state.shown = collection.features.length;
      state.truncated = typeof collection.total === "number"
        ? collection.total > state.shown
        : state.shown >= config.fetchLimit;
      state.fetchedBounds = bounds;
      state.fetchedZoom = map.getZoom();
    } catch (error) {
      if (error.name === "AbortError") {
        return;
      }
      state.failed = true;
      if (error.status === 401) {
        showError(t.sessionEnded, "");
      }
    } finally {
      if (state.controller === controller) {
        state.controller = null;
        state.loading = false;
        restack();
        updateStatus();
        updateLabels();
      }
    }
  }

  /** Fetch the deeper levels for the visible part of the map, or hide them when zoomed out. */
  function refreshDetail() {
    var zoom = map.getZoom();
    var view = map.getBounds();
    levels.forEach(function (state) {
      if (!state.level.by_view) {
        if (state.failed) {
          loadLevel(state, null);
        }
        return;
      }
      if (zoom < state.level.min_zoom) {
        if (state.controller) {
          state.controller.abort();
          state.controller = null;
          state.loading = false;
        }
        map.removeLayer(state.layer);
        return;
      }
      state.layer.addTo(map);
      var covered = state.fetchedBounds && state.fetchedBounds.contains(view);
      var complete = !state.truncated || zoom <= state.fetchedZoom;
      if (!(covered && complete) || state.failed) {
        loadLevel(state, view.pad(0.25));
      }
    });
    updateStatus();
    updateLabels();
  }

  // The located point and its area, drawn over everything else.
  var pointMarker = L.circleMarker([0, 0], {
    radius: 9,
    color: "#111418",
    weight: 3,
    fillColor: "#ffbf00",
    fillOpacity: 1,
    interactive: false,
  });
  var highlight = L.geoJSON(null, {
    interactive: false,
    style: function () {
      return { color: "#111418", weight: 7, opacity: 0.9, fill: false };
    },
  });
  var highlightInner = L.geoJSON(null, {
    interactive: false,
    style: function () {
      return { color: "#ffbf00", weight: 4, opacity: 1, fillColor: "#ffbf00", fillOpacity: 0.15 };
    },
  });

  function showError(headline, detail) {
    var box = el("div", "notice notice-error");
    box.setAttribute("role", "alert");
    box.appendChild(el("p", null, headline));
    if (detail && detail !== headline) {
      box.appendChild(el("p", null, detail));
    }
    resultNode.replaceChildren(box);
  }

  function errorHeadline(error) {
    if (error.code === "outside_territory") {
      return t.outside;
    }
    if (error.status === 401) {
      return t.sessionEnded;
    }
    if (error.status === 422) {
      return t.invalidPosition;
    }
    return t.locateFailed;
  }

  function showChain(result, x, y) {
    var parts = [];
    if (result.gap) {
      var gap = el("div", "notice notice-warning");
      gap.appendChild(el("p", null, t.gap));
      parts.push(gap);
    }
    var list = el("ol", "chain");
    list.setAttribute("aria-label", t.chainTitle);
    var unitCode = result.unit_grid ? result.unit_grid.code : null;
    result.chain.forEach(function (item) {
      var li = el("li", item.code === unitCode ? "chain-unit" : null);
      li.appendChild(el("span", "chain-level", levelName(item.level, item.level_name)));
      li.appendChild(el("span", "chain-name", areaName(item)));
      li.appendChild(el("code", "chain-code", item.code));
      list.appendChild(li);
    });
    parts.push(list);
    var meta = el("p", "result-meta", format(t.positionMeta, {
      x: x.toFixed(6),
      y: y.toFixed(6),
      datum: (result.datum || config.datum || "").toUpperCase(),
      version: result.layer_version,
    }));
    parts.push(meta);
    resultNode.replaceChildren.apply(resultNode, parts);
  }

  var locateSeq = 0;

  async function highlightArea(code, seq) {
    var feature = await gridops.fetchJSON(config.api.area.replace("__code__", encodeURIComponent(code)));
    if (seq !== locateSeq) {
      return;
    }
    highlight.addData(feature).addTo(map);
    highlightInner.addData(feature).addTo(map);
    restack();
  }

  var locateController = null;

  async function locate(x, y) {
    if (locateController) {
      locateController.abort();
    }
    var controller = new AbortController();
    locateController = controller;
    var seq = ++locateSeq;
    // The address names the point, so a located position can be bookmarked or shared.
    var here = new URL(window.location.href);
    here.searchParams.set("x", x.toFixed(6));
    here.searchParams.set("y", y.toFixed(6));
    window.history.replaceState(null, "", here);
    var next = document.querySelector('.langform input[name="next"]');
    if (next) {
      next.value = here.pathname + here.search;
    }
    if (locateForm) {
      locateForm.elements.x.value = x.toFixed(6);
      locateForm.elements.y.value = y.toFixed(6);
    }
    pointMarker.setLatLng([y, x]).addTo(map);
    highlight.clearLayers();
    highlightInner.clearLayers();
    resultNode.replaceChildren(el("p", "result-empty", t.locating));
    var params = new URLSearchParams({ x: String(x), y: String(y), datum: config.datum });
    try {
      var result = await gridops.fetchJSON(config.api.locate + "?" + params.toString(), { signal: controller.signal });
      showChain(result, x, y);
      var target = result.unit_grid || result.area;
      if (target) {
        // The outline only helps the eye; the chain above already answers, so a failed
        // outline request leaves the answer as it is.
        highlightArea(target.code, seq).catch(function () {
          highlight.clearLayers();
          highlightInner.clearLayers();
        });
      }
    } catch (error) {
      if (error.name === "AbortError") {
        return;
      }
      // The headline already says "outside the territory"; other refusals keep the server's detail.
      var detail = error instanceof gridops.ApiError && error.code !== "outside_territory" ? error.message : "";
      showError(errorHeadline(error), detail);
    } finally {
      if (locateController === controller) {
        locateController = null;
      }
    }
  }

  map.on("click", function (event) {
    locate(event.latlng.lng, event.latlng.lat);
  });

  function coordinate(input) {
    var raw = input.value.trim();
    return raw === "" ? NaN : Number(raw);
  }

  if (locateForm) {
    locateForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var x = coordinate(locateForm.elements.x);
      var y = coordinate(locateForm.elements.y);
      if (!Number.isFinite(x) || !Number.isFinite(y)) {
        showError(t.invalidPosition, t.coordinateHelp);
        return;
      }
      map.setView([y, x], Math.max(map.getZoom() || 0, config.locateZoom));
      locate(x, y);
    });
  }

  // Leaflet ends every pan and zoom with "moveend": one place to fetch and relabel.
  map.on("moveend", refreshDetail);

  if (!config.datum) {
    statusNode.textContent = t.noLayer;
    map.setView(FALLBACK_CENTER, 5);
    return;
  }

  var overview = levels.filter(function (state) { return !state.level.by_view; });
  overview.forEach(function (state) { state.layer.addTo(map); });
  Promise.all(overview.map(function (state) { return loadLevel(state, null); })).then(function () {
    var bounds = null;
    overview.forEach(function (state) {
      if (state.layer.getLayers().length) {
        bounds = bounds ? bounds.extend(state.layer.getBounds()) : L.latLngBounds(state.layer.getBounds());
      }
    });
    if (config.position) {
      map.setView([config.position[1], config.position[0]], config.locateZoom);
      locate(config.position[0], config.position[1]);
    } else if (config.home) {
      // A user scoped to an area starts on it; the whole city stays one zoom-out away.
      map.fitBounds([[config.home[1], config.home[0]], [config.home[3], config.home[2]]], { padding: [16, 16] });
    } else if (bounds) {
      map.fitBounds(bounds, { padding: [16, 16] });
    } else {
      // Nothing drawn: say so, unless a failed request already explains why.
      if (!overview.some(function (state) { return state.failed; })) {
        statusNode.textContent = t.noAreas;
      }
      map.setView(FALLBACK_CENTER, 5);
    }
  });
})(window, document, window.L, window.gridops);

/* Filing form: a small map of the territory; a click or tap fills in the position fields.
   Map coordinates are in the grid layer's datum, so the datum select is set to it. */
(function (window, document) {
  "use strict";

  // The standard select offers only the standards of the chosen class (all of them without script).
  var classSelect = document.getElementById("small_class");
  var standardSelect = document.getElementById("standard");
  function showStandards() {
    var groups = standardSelect.querySelectorAll("optgroup");
    Array.prototype.forEach.call(groups, function (group) {
      var match = group.getAttribute("data-class") === classSelect.value;
      group.hidden = !match;
      group.disabled = !match;
    });
    var chosen = standardSelect.selectedOptions[0];
    if (chosen && chosen.parentNode.disabled) {
      standardSelect.value = "";
    }
  }
  if (classSelect && standardSelect) {
    classSelect.addEventListener("change", showStandards);
    showStandards();
  }

  var configNode = document.getElementById("file-map-config");
  var mapNode = document.getElementById("file-map");
  if (!configNode || !mapNode || !window.L || !window.fetch) {
    return;
  }
  var config = JSON.parse(configNode.textContent);
  if (!config.datum || !config.overviewLevel) {
    return;
  }
  //: Zoom from which unit grids are drawn (a city holds too many to draw further out).
  var UNIT_ZOOM = 16;
  var xInput = document.getElementById("x");
  var yInput = document.getElementById("y");
  var datumSelect = document.getElementById("datum");

  mapNode.hidden = false;
  document.getElementById("file-map-hint").hidden = false;
  var map = L.map(mapNode, { zoomControl: true, maxZoom: 19 });
  if (config.tileUrl) {
    L.tileLayer(config.tileUrl, { attribution: config.tileAttribution, maxZoom: 19 }).addTo(map);
  }
  var outline = { color: "#0b5cad", weight: 2, fill: false, interactive: false };
  var overview = L.geoJSON(null, { style: outline }).addTo(map);
  var units = L.geoJSON(null, { style: { color: "#1b5e20", weight: 1, fillOpacity: 0.04, interactive: false } }).addTo(map);
  var marker = null;

  function areasUrl(params) {
    return config.areas + "?" + new URLSearchParams(params).toString();
  }

  function place(latlng) {
    if (marker) {
      marker.setLatLng(latlng);
    } else {
      marker = L.circleMarker(latlng, { radius: 9, color: "#a4161a", weight: 3, fillOpacity: 0.4 }).addTo(map);
    }
  }

  function typedPosition() {
    var x = parseFloat(xInput.value);
    var y = parseFloat(yInput.value);
    return isFinite(x) && isFinite(y) && datumSelect.value === config.datum ? L.latLng(y, x) : null;
  }

  async function loadUnits() {
    if (map.getZoom() < UNIT_ZOOM || !config.unitLevel) {
      units.clearLayers();
      return;
    }
    var b = map.getBounds();
    var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(6); });
    try {
      var collection = await gridops.fetchJSON(areasUrl({ level: config.unitLevel, bbox: bbox.join(","), limit: "500" }));
      units.clearLayers();
      units.addData(collection);
    } catch (error) {
      units.clearLayers();
    }
  }

  map.on("click", function (event) {
    xInput.value = event.latlng.lng.toFixed(6);
    yInput.value = event.latlng.lat.toFixed(6);
    datumSelect.value = config.datum;
    place(event.latlng);
  });
  map.on("moveend", loadUnits);

  gridops.fetchJSON(areasUrl({ level: config.overviewLevel, simplify: "0.0005" })).then(function (collection) {
    overview.addData(collection);
    var typed = typedPosition();
    if (typed) {
      place(typed);
      map.setView(typed, UNIT_ZOOM);
    } else if (overview.getLayers().length) {
      map.fitBounds(overview.getBounds());
    }
  }, function () {
    map.setView([33.0, 112.53], 11);
  });
})(window, document);

/* Hotline desk: place search, a map click for the position, likely duplicates and the caller's
   earlier contacts beside the intake form. Without script the form still works: the operator
   types the position or the area code. */
(function (window, document) {
  "use strict";

  var configNode = document.getElementById("hotline-config");
  if (!configNode || !window.fetch || !window.gridops) {
    return;
  }
  var config = JSON.parse(configNode.textContent);
  var text = config.text;
  var el = gridops.el;
  var $ = function (id) { return document.getElementById(id); };
  var placeQuery = $("h-place_q"), placeResults = $("place-results"), chosen = $("place-chosen");
  var placeId = $("h-place_id"), areaCode = $("h-area_code"), xInput = $("h-x"), yInput = $("h-y");
  var datumInput = $("h-datum"), classSelect = $("small_class"), phone = $("h-phone");
  var duplicates = $("duplicates"), history = $("caller-history"), address = $("h-address");
  var point = null; // {x, y, datum} the complaint will be filed at, when known

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(fn, ms);
    };
  }

  function url(base, params) {
    return base + "?" + new URLSearchParams(params).toString();
  }

  // -- the map -------------------------------------------------------------------------------
  var map = null, marker = null;
  var mapConfig = config.map || {};
  var mapNode = $("hotline-map");
  if (window.L && mapNode && mapConfig.datum && mapConfig.overviewLevel) {
    mapNode.hidden = false;
    map = L.map(mapNode, { maxZoom: 19 });
    if (mapConfig.tileUrl) {
      L.tileLayer(mapConfig.tileUrl, { attribution: mapConfig.tileAttribution, maxZoom: 19 }).addTo(map);
    }
    var overview = L.geoJSON(null, { style: { color: "#0b5cad", weight: 2, fill: false, interactive: false } }).addTo(map);
    gridops.fetchJSON(url(mapConfig.areas, { level: mapConfig.overviewLevel, simplify: "0.0005" })).then(function (collection) {
      overview.addData(collection);
      if (overview.getLayers().length) {
        map.fitBounds(overview.getBounds());
      }
    }, function () {
      map.setView([33.0, 112.53], 11);
    });
    map.on("click", function (event) {
      setPoint(event.latlng.lng, event.latlng.lat, mapConfig.datum);
      placeId.value = "";
      areaCode.value = "";
      chosen.textContent = text.chosenPoint;
      findDuplicates();
    });
  }

  function showMarker() {
    if (!map || !point || point.datum !== mapConfig.datum) {
      return;
    }
    var latlng = L.latLng(point.y, point.x);
    if (marker) {
      marker.setLatLng(latlng);
    } else {
      marker = L.circleMarker(latlng, { radius: 10, color: "#a4161a", weight: 3, fillOpacity: 0.4 }).addTo(map);
    }
    map.setView(latlng, Math.max(map.getZoom() || 0, 16));
  }

  function setPoint(x, y, datum) {
    point = { x: x, y: y, datum: datum };
    xInput.value = x.toFixed(6);
    yInput.value = y.toFixed(6);
    datumInput.value = datum;
    showMarker();
  }

  // -- place search --------------------------------------------------------------------------
  function choose(hit) {
    placeResults.textContent = "";
    if (hit.type === "place") {
      placeId.value = hit.id;
      areaCode.value = "";
      if (address && !address.value) {
        address.value = hit.name;
      }
      point = { x: hit.x, y: hit.y, datum: hit.datum };
      xInput.value = "";
      yInput.value = "";
      showMarker();
    } else {
      placeId.value = "";
      areaCode.value = hit.area_code;
      point = null;
      xInput.value = "";
      yInput.value = "";
    }
    chosen.textContent = gridops.format(text.chosenPlace, { name: hit.name, area: hit.area_name });
    findDuplicates();
  }

  var search = debounce(async function () {
    var q = placeQuery.value.trim();
    placeResults.textContent = "";
    if (!q) {
      return;
    }
    try {
      var body = await gridops.fetchJSON(url(config.places, { q: q }));
      if (!body.items.length) {
        placeResults.appendChild(el("li", "muted", text.none));
      }
      body.items.forEach(function (hit) {
        var item = el("li");
        var button = el("button", "place-hit", hit.name);
        button.type = "button";
        button.appendChild(el("span", "muted", " " + (hit.type === "area" ? text.area + " " + hit.area_code : hit.area_name)));
        button.addEventListener("click", function () { choose(hit); });
        item.appendChild(button);
        placeResults.appendChild(item);
      });
    } catch (error) {
      placeResults.appendChild(el("li", "field-error", error.message || text.none));
    }
  }, 250);
  placeQuery.addEventListener("input", search);
  placeQuery.addEventListener("keydown", function (event) {
    if (event.key === "Enter") { // Enter picks the first result instead of submitting the form
      event.preventDefault();
      var first = placeResults.querySelector("button");
      if (first) {
        first.click();
      }
    }
  });

  function typedPoint() {
    var x = parseFloat(xInput.value), y = parseFloat(yInput.value);
    if (isFinite(x) && isFinite(y)) {
      point = { x: x, y: y, datum: datumInput.value };
      placeId.value = "";
      areaCode.value = "";
      showMarker();
      findDuplicates();
    }
  }
  xInput.addEventListener("change", typedPoint);
  yInput.addEventListener("change", typedPoint);

  // -- likely duplicates ---------------------------------------------------------------------
  async function findDuplicates() {
    duplicates.textContent = "";
    var value = classSelect.value || "";
    if (!value || !point) {
      return;
    }
    var parts = value.split(":");
    var fullCode = (parts[0] === "component" ? "C" : "E") + parts[1];
    try {
      var body = await gridops.fetchJSON(url(config.duplicates, {
        small_class: fullCode, x: point.x, y: point.y, datum: point.datum,
      }));
      if (!body.items.length) {
        duplicates.appendChild(el("li", "muted", text.noDuplicates));
      }
      body.items.forEach(function (candidate) {
        var c = candidate.case;
        var item = el("li", "duplicate");
        var link = el("a", "case-number", c.number);
        link.href = config.orderUrl.replace("NUMBER", encodeURIComponent(c.number));
        item.appendChild(link);
        item.appendChild(el("span", "", " " + (c.address || c.description || "")));
        item.appendChild(el("span", "muted", gridops.format(text.apart, {
          metres: Math.round(candidate.distance_m), hours: candidate.hours_apart.toFixed(1),
        })));
        var button = el("button", "secondary", gridops.format(text.add, { number: c.number }));
        button.type = "submit";
        button.setAttribute("formaction", duplicates.getAttribute("data-add-url").replace("NUMBER", encodeURIComponent(c.number)));
        item.appendChild(button);
        duplicates.appendChild(item);
      });
    } catch (error) {
      duplicates.appendChild(el("li", "field-error", error.message));
    }
  }
  classSelect.addEventListener("change", findDuplicates);

  // -- the caller's earlier contacts ---------------------------------------------------------
  var lookUp = debounce(async function () {
    history.textContent = "";
    var number = phone.value.trim();
    if (number.replace(/\D/g, "").length < 10) {
      return;
    }
    try {
      var body = await gridops.fetchJSON(url(config.callers, { phone: number }));
      if (!body.items.length) {
        history.appendChild(el("li", "muted", text.noHistory));
      }
      body.items.forEach(function (contact) {
        var item = el("li");
        var link = el("a", "case-number", contact.case.number);
        link.href = config.orderUrl.replace("NUMBER", encodeURIComponent(contact.case.number));
        item.appendChild(link);
        item.appendChild(el("span", "muted", " " + new Date(contact.contacted_at).toLocaleString() + " · " + (config.states[contact.case.state] || contact.case.state)));
        item.appendChild(el("p", "", contact.content));
        history.appendChild(item);
      });
    } catch (error) {
      history.textContent = "";
    }
  }, 400);
  phone.addEventListener("input", lookUp);

  if (xInput.value && yInput.value) {
    typedPoint();
  }
})(window, document);

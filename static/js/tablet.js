/* The tablet pages: my grids and position on a map, the one-screen report, on-site answers.
   The map is drawn in the grid layer's datum; the device's GPS gives WGS-84, converted for
   drawing with gcoord. A report sends the raw GPS fix (datum wgs84) unless the worker moved
   the pin, which gives a position in the layer's datum: the server converts either way. */
(function (window, document, navigator, L) {
  "use strict";

  var configNode = document.getElementById("tablet-map-config");
  if (!configNode || !L) {
    return;
  }
  var config = JSON.parse(configNode.textContent);
  var t = config.strings;
  var gridops = window.gridops;
  var el = gridops.el;
  var format = gridops.format;
  var FALLBACK_CENTER = [33.0, 112.53];

  /** A WGS-84 fix as [lat, lng] in the layer's datum, for drawing. */
  function toLayer(lon, lat) {
    if (config.datum === "gcj02" && window.gcoord) {
      var p = window.gcoord.transform([lon, lat], window.gcoord.WGS84, window.gcoord.GCJ02);
      return L.latLng(p[1], p[0]);
    }
    return L.latLng(lat, lon);
  }

  function makeMap(node) {
    var map = L.map(node, { zoomControl: false, maxZoom: 19, keyboard: true, tap: true });
    L.control.zoom({ position: "topleft", zoomInTitle: t.zoomIn, zoomOutTitle: t.zoomOut }).addTo(map);
    L.control.scale({ imperial: false, position: "bottomleft" }).addTo(map);
    if (config.tileUrl) {
      L.tileLayer(config.tileUrl, { attribution: config.tileAttribution, maxZoom: 19 }).addTo(map);
    }
    var grids = L.geoJSON(config.grids || null, {
      style: { color: "#1b5e20", weight: 3, fillColor: "#1b5e20", fillOpacity: 0.08 },
      onEachFeature: function (feature, layer) {
        var p = feature.properties;
        layer.bindTooltip((config.locale === "en" ? p.name_en || p.name : p.name) + " · " + p.code);
      },
    }).addTo(map);
    if (grids.getLayers().length) {
      map.fitBounds(grids.getBounds(), { padding: [16, 16] });
    } else {
      map.setView(FALLBACK_CENTER, 13);
    }
    return map;
  }

  var statusNode = document.getElementById("gps-status");
  function status(text) {
    if (statusNode) {
      statusNode.textContent = text;
    }
  }

  /** Follow the device's position; ``onFix`` gets (lon, lat, accuracy in metres). */
  function watchPosition(onFix) {
    if (!navigator.geolocation) {
      status(t.noGps);
      return;
    }
    status(t.locating);
    navigator.geolocation.watchPosition(
      function (position) {
        var c = position.coords;
        onFix(c.longitude, c.latitude, c.accuracy);
      },
      function (error) {
        status(error.code === 1 ? t.gpsDenied : t.noGps);
      },
      { enableHighAccuracy: true, maximumAge: 10000, timeout: 30000 }
    );
  }

  /** The device's position as a dot with its accuracy circle. */
  function positionLayer(map) {
    var dot = null;
    var circle = null;
    return function (latlng, accuracy) {
      if (!dot) {
        circle = L.circle(latlng, { radius: accuracy, color: "#0b5cad", weight: 1, fillOpacity: 0.12, interactive: false }).addTo(map);
        dot = L.circleMarker(latlng, { radius: 8, color: "#ffffff", weight: 3, fillColor: "#0b5cad", fillOpacity: 1 })
          .bindTooltip(t.myPosition).addTo(map);
      } else {
        dot.setLatLng(latlng);
        circle.setLatLng(latlng).setRadius(accuracy);
      }
    };
  }

  function metres(value) {
    return String(Math.max(1, Math.round(value)));
  }

  // -- photo inputs: each pick adds to the list, with a preview and a remove button ----------

  function photoList(input, preview) {
    var files = [];
    function draw() {
      preview.textContent = "";
      files.forEach(function (file, index) {
        var li = el("li");
        var img = el("img");
        img.src = URL.createObjectURL(file);
        img.alt = format(t.photo, { n: index + 1 });
        img.onload = function () { URL.revokeObjectURL(img.src); };
        var remove = el("button", "photo-remove", "×");
        remove.type = "button";
        remove.setAttribute("aria-label", format(t.removePhoto, { n: index + 1 }));
        remove.addEventListener("click", function () {
          files.splice(index, 1);
          draw();
          sync();
        });
        li.appendChild(img);
        li.appendChild(remove);
        preview.appendChild(li);
      });
    }
    // A form post sends the input's own files, so they are kept in step with the list.
    function sync() {
      if (window.DataTransfer) {
        var transfer = new DataTransfer();
        files.forEach(function (file) { transfer.items.add(file); });
        input.files = transfer.files;
      }
    }
    input.addEventListener("change", function () {
      Array.prototype.forEach.call(input.files, function (file) {
        if (files.indexOf(file) === -1) {
          files.push(file);
        }
      });
      sync();
      draw();
    });
    return {
      files: function () { return files.slice(); },
      clear: function () { files = []; sync(); draw(); },
    };
  }

  // -- photos are kept and sent at the size the server stores (camera files are 3-10 MB) -----

  //: The server keeps photos at most this many pixels on their long edge (cases/photos.py).
  var PHOTO_EDGE = 2048;

  /** The photo as a JPEG no larger than the server keeps it; the original when it is small or cannot be read. */
  async function shrink(file) {
    if (!window.createImageBitmap || !window.OffscreenCanvas) {
      return file;
    }
    try {
      var bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
      var scale = Math.min(1, PHOTO_EDGE / Math.max(bitmap.width, bitmap.height));
      if (scale === 1 && file.size < 1024 * 1024) {
        bitmap.close();
        return file;
      }
      var canvas = new OffscreenCanvas(Math.round(bitmap.width * scale), Math.round(bitmap.height * scale));
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      bitmap.close();
      var blob = await canvas.convertToBlob({ type: "image/jpeg", quality: 0.85 });
      return blob.size < file.size ? blob : file;
    } catch (error) {
      return file;
    }
  }

  function shrinkAll(files) {
    return Promise.all(files.map(shrink));
  }

  // -- home: my grids, my tasks, my position ---------------------------------------------------

  function home() {
    var map = makeMap(document.getElementById("tablet-map"));
    var colours = { red: "#a4161a", yellow: "#b35c00", green: "#1b5e20" };
    (config.tasks || []).forEach(function (task) {
      L.circleMarker([task.y, task.x], { radius: 11, color: "#111418", weight: 2, fillColor: colours[task.colour] || "#5c6670", fillOpacity: 0.9 })
        .bindTooltip(task.label + " · " + task.number)
        .on("click", function () { window.location.href = task.url; })
        .addTo(map);
    });
    var show = positionLayer(map);
    watchPosition(function (lon, lat, accuracy) {
      show(toLayer(lon, lat), accuracy);
      status(format(t.accuracy, { accuracy: metres(accuracy) }));
    });
  }

  // -- task: the case's position and mine ------------------------------------------------------

  function task() {
    var map = makeMap(document.getElementById("tablet-map"));
    var target = null;
    if (config.case && config.case.x !== null) {
      target = L.latLng(config.case.y, config.case.x);
      L.marker(target, { title: t.casePosition, alt: t.casePosition }).addTo(map);
      map.setView(target, 18);
    }
    var show = positionLayer(map);
    var distanceNode = document.getElementById("task-distance");
    watchPosition(function (lon, lat, accuracy) {
      var here = toLayer(lon, lat);
      show(here, accuracy);
      status(format(t.accuracy, { accuracy: metres(accuracy) }));
      if (target && distanceNode) {
        distanceNode.textContent = format(t.distance, { distance: metres(map.distance(here, target)) });
      }
    });
    Array.prototype.forEach.call(document.querySelectorAll(".answer-form"), function (form) {
      var input = form.querySelector(".photo-input");
      if (input) {
        photoList(input, form.querySelector('[data-preview-for="' + input.id + '"]'));
      }
      form.addEventListener("submit", function (event) {
        if (!navigator.onLine) {
          event.preventDefault();
          window.alert(t.offlineAnswer);
        }
      });
    });
  }

  // -- report ----------------------------------------------------------------------------------

  function report() {
    var form = document.getElementById("report-form");
    var map = makeMap(document.getElementById("report-map"));
    var gridNode = document.getElementById("grid-status");
    var problemsNode = document.getElementById("report-problems");
    var showFix = positionLayer(map);
    var pin = null;
    // What is sent: the raw GPS fix, or the pin's place in the layer's datum once moved by hand.
    var position = null;
    var located = null;
    var pinned = false;
    var locateTimer = null;
    var locateSeq = 0;

    function place(latlng) {
      if (!pin) {
        pin = L.marker(latlng, { draggable: true, autoPan: true, title: t.myPosition, alt: t.myPosition, keyboard: true }).addTo(map);
        pin.on("dragend", function () { setByHand(pin.getLatLng()); });
        map.setView(latlng, Math.max(map.getZoom(), 17));
      } else {
        pin.setLatLng(latlng);
      }
    }

    function setByHand(latlng) {
      pinned = true;
      place(latlng);
      position = { x: latlng.lng, y: latlng.lat, datum: config.datum || "wgs84", accuracy: null };
      status(t.pinMoved);
      locateSoon();
    }

    function gridText(location) {
      var area = location.unit_grid || location.area;
      var name = config.locale === "en" ? area.name_en || area.name : area.name;
      return location.gap ? format(t.gap, { name: name }) : format(t.grid, { name: name, code: area.code });
    }

    function locateSoon() {
      window.clearTimeout(locateTimer);
      locateTimer = window.setTimeout(locateNow, 250);
    }

    async function locateNow() {
      if (!position) {
        return;
      }
      var seq = ++locateSeq;
      var query = new URLSearchParams({ x: String(position.x), y: String(position.y), datum: position.datum });
      try {
        var location = await gridops.fetchJSON(config.locate + "?" + query.toString());
        if (seq === locateSeq) {
          located = location;
          gridNode.textContent = gridText(location);
          gridNode.className = "grid-status grid-found";
        }
      } catch (error) {
        if (seq !== locateSeq) {
          return;
        }
        located = null;
        if (error instanceof gridops.ApiError) {
          gridNode.textContent = error.code === "outside_territory" ? t.outside : error.message;
          gridNode.className = "grid-status grid-problem";
        } else {
          gridNode.textContent = t.gridOffline;
          gridNode.className = "grid-status";
        }
      }
    }

    var lastFix = null;

    function followFix(fix) {
      position = { x: fix.lon, y: fix.lat, datum: "wgs84", accuracy: fix.accuracy };
      place(toLayer(fix.lon, fix.lat));
      status(format(t.accuracy, { accuracy: metres(fix.accuracy) }));
      locateSoon();
    }

    watchPosition(function (lon, lat, accuracy) {
      lastFix = { lon: lon, lat: lat, accuracy: accuracy };
      showFix(toLayer(lon, lat), accuracy);
      if (!pinned) {
        followFix(lastFix);
      }
    });
    map.on("click", function (event) { setByHand(event.latlng); });
    document.getElementById("pin-centre").addEventListener("click", function () { setByHand(map.getCenter()); });
    // Back to following the GPS: the latest fix at once, later ones as they come.
    document.getElementById("use-gps").addEventListener("click", function () {
      pinned = false;
      if (lastFix) {
        followFix(lastFix);
      } else {
        position = null;
        status(t.locating);
      }
    });

    // Category search: hides the tiles that do not match the typed words.
    var search = document.getElementById("class-search");
    var tiles = Array.prototype.slice.call(document.querySelectorAll(".class-tile"));
    var headings = document.querySelectorAll(".tiles-heading");
    search.addEventListener("input", function () {
      var words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      tiles.forEach(function (tile) {
        var haystack = tile.getAttribute("data-search");
        var match = words.every(function (word) { return haystack.indexOf(word) !== -1; });
        tile.hidden = !match;
        shown += match ? 1 : 0;
      });
      Array.prototype.forEach.call(headings, function (heading) { heading.hidden = words.length > 0; });
      document.getElementById("class-none").hidden = shown > 0;
    });

    var photos = photoList(document.getElementById("report-photos"), document.getElementById("report-photos-preview"));
    var afterPhotos = photoList(document.getElementById("report-after"), document.getElementById("report-after-preview"));
    var fixed = document.getElementById("report-fixed");
    fixed.addEventListener("change", function () {
      document.getElementById("fixed-after").hidden = !fixed.checked;
    });

    function problems(list) {
      problemsNode.textContent = "";
      list.forEach(function (text) { problemsNode.appendChild(el("p", null, text)); });
      problemsNode.hidden = list.length === 0;
      if (list.length) {
        problemsNode.scrollIntoView({ block: "center" });
      }
    }

    function chosenClass() {
      return form.querySelector('input[name="small_class"]:checked');
    }

    /** Same-class cases close by, when the network and the duplicates service answer (else none). */
    async function nearbyDuplicates(choice) {
      if (!navigator.onLine || !config.duplicates) {
        return [];
      }
      var query = new URLSearchParams({
        small_class: choice.getAttribute("data-full-code"),
        x: String(position.x),
        y: String(position.y),
        datum: position.datum,
      });
      try {
        var body = await gridops.fetchJSON(config.duplicates + "?" + query.toString(), { signal: AbortSignal.timeout(5000) });
        return body.items || [];
      } catch (error) {
        return [];
      }
    }

    function askAboutDuplicates(items) {
      var panel = document.getElementById("duplicates");
      var list = document.getElementById("duplicates-list");
      list.textContent = "";
      items.forEach(function (item) {
        var found = item.case;
        var li = el("li");
        var link = el("a", null, found.number);
        link.href = config.casePage.replace("__number__", encodeURIComponent(found.number));
        link.target = "_blank";
        li.appendChild(link);
        var what = [found.address || found.description || ""];
        if (item.distance_m !== undefined) {
          what.push(format(t.distance, { distance: metres(item.distance_m) }));
        }
        li.appendChild(el("span", null, " " + what.filter(Boolean).join(" · ")));
        list.appendChild(li);
      });
      panel.hidden = false;
      panel.scrollIntoView({ block: "start" });
      return new Promise(function (resolve) {
        function answer(send) {
          return function () {
            panel.hidden = true;
            document.getElementById("duplicates-send").removeEventListener("click", yes);
            document.getElementById("duplicates-drop").removeEventListener("click", no);
            resolve(send);
          };
        }
        var yes = answer(true);
        var no = answer(false);
        document.getElementById("duplicates-send").addEventListener("click", yes);
        document.getElementById("duplicates-drop").addEventListener("click", no);
        document.getElementById("duplicates-send").focus();
      });
    }

    var sending = false;
    var keptTimer = null;
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      if (sending) {
        return;
      }
      var choice = chosenClass();
      var missing = [];
      if (!position) {
        missing.push(t.needPosition);
      }
      if (!choice) {
        missing.push(t.needClass);
      }
      if (!photos.files().length) {
        missing.push(t.needPhoto);
      }
      if (fixed.checked && !afterPhotos.files().length) {
        missing.push(t.needAfter);
      }
      problems(missing);
      if (missing.length) {
        return;
      }
      sending = true;
      var button = document.getElementById("report-send");
      button.disabled = true;
      try {
        var nearby = await nearbyDuplicates(choice);
        if (nearby.length && !(await askAboutDuplicates(nearby))) {
          problems([t.dropped]);
          return;
        }
        var parts = choice.value.split(":");
        var fields = {
          source: "patrol",
          case_type: parts[0],
          small_class: parts[1],
          x: String(position.x),
          y: String(position.y),
          datum: position.datum,
          urgency: form.querySelector('input[name="urgency"]:checked').value,
          description: document.getElementById("report-description").value.trim(),
          address: document.getElementById("report-address").value.trim(),
        };
        if (position.accuracy !== null) {
          fields.accuracy_m = String(Math.round(position.accuracy * 10) / 10);
        }
        var label = choice.getAttribute("data-name") + (located ? " · " + gridText(located) : "");
        await window.gridopsOutbox.keep({
          fields: fields,
          label: label,
          photos: await shrinkAll(photos.files()),
          afterPhotos: fixed.checked ? await shrinkAll(afterPhotos.files()) : [],
          selfHandled: fixed.checked,
        });
        // Ready for the next problem at the same place: the position stays, the rest is cleared.
        choice.checked = false;
        photos.clear();
        afterPhotos.clear();
        fixed.checked = false;
        document.getElementById("fixed-after").hidden = true;
        document.getElementById("report-description").value = "";
        problemsNode.hidden = true;
        var outbox = document.getElementById("outbox");
        var kept = document.getElementById("report-kept");
        if (!kept) {
          kept = el("p", "flash flash-success", t.kept);
          kept.id = "report-kept";
          kept.setAttribute("role", "status");
          outbox.parentNode.insertBefore(kept, outbox);
        }
        window.clearTimeout(keptTimer);
        keptTimer = window.setTimeout(function () { kept.remove(); }, 8000);
        outbox.scrollIntoView({ block: "start" });
      } finally {
        sending = false;
        button.disabled = false;
      }
    });
  }

  if (document.getElementById("report-form")) {
    report();
  } else if (document.querySelector(".tablet-task")) {
    task();
  } else if (document.getElementById("tablet-map")) {
    home();
  }
})(window, document, navigator, window.L);

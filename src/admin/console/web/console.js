// Cordon web console (docs/console.md). Polls /api/state every 3 s and
// redraws the map's colours; d3's force layout places the hosts.
"use strict";
(function () {
  var POLL_MS = 3000;
  var csrf = null, user = null, lists = null, currentTab = "map", selected = null;
  var $ = function (id) { return document.getElementById(id); };

  function api(method, path, body) {
    var opts = { method: method, headers: {}, credentials: "same-origin" };
    if (method === "POST") {
      opts.headers["Content-Type"] = "application/json";
      if (csrf) opts.headers["X-CSRF-Token"] = csrf;
      opts.body = JSON.stringify(body || {});
    }
    return fetch(path, opts).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) throw new Error(j.error || ("HTTP " + r.status));
        return j;
      });
    });
  }

  function message(text, isError) {
    var m = $("message");
    m.textContent = text;
    m.className = isError ? "error" : "";
    m.hidden = !text;
  }

  // ---- session ----
  function showSession(s) {
    user = s.user; csrf = s.csrf;
    $("login-form").hidden = !!user;
    $("session-box").hidden = !user;
    $("session-user").textContent = user || "";
    $("change-tab").hidden = !user;
  }
  $("login-form").addEventListener("submit", function (e) {
    e.preventDefault();
    api("POST", "/api/login", { user: $("login-user").value, password: $("login-password").value })
      .then(function (s) { $("login-password").value = ""; showSession(s); message("logged in as " + s.user); })
      .catch(function (err) { message("login: " + err.message, true); });
  });
  $("logout-button").addEventListener("click", function () {
    api("POST", "/api/logout").then(function () { showSession({}); message("logged out"); })
      .catch(function (err) { message(err.message, true); });
  });

  // ---- map ----
  var svg = d3.select("#map"), width = 800, height = 560;
  var edgeLayer = svg.append("g"), nodeLayer = svg.append("g");
  var force = d3.layout.force().charge(-500).linkDistance(110).size([width, height]);
  // The map's layout state, for whoever waits for a still picture.
  force.on("start", function () { document.body.setAttribute("data-layout", "moving"); });
  force.on("end", function () { document.body.setAttribute("data-layout", "settled"); });
  var nodes = [], edges = [], shapeKey = "";

  function nodeKind(h) { return h.role === "coordinator" ? (h.gateway ? "gateway" : "coordinator") : "client"; }

  // A new set of hosts or links restarts the layout; a poll that only
  // changes states recolours the same objects in place.
  function drawMap(state) {
    var key = state.hosts.map(function (h) { return h.id; }).join() + "|" +
      state.links.map(function (l) { return l.a + l.b; }).join();
    if (key !== shapeKey) {
      shapeKey = key;
      rebuild(state);
    } else {
      var byId = {}, byPair = {};
      state.hosts.forEach(function (h) { byId[h.id] = h; });
      state.links.forEach(function (l) { byPair[l.a + "-" + l.b] = l; });
      nodes.forEach(function (n) {
        var h = byId[n.id];
        Object.keys(h).forEach(function (k) { n[k] = h[k]; });
      });
      edges.forEach(function (e) { e.path = byPair[e.a + "-" + e.b].path; });
    }
    restyle();
  }

  function rebuild(state) {
    width = svg.node().getBoundingClientRect().width || 800;
    force.size([width, height]);
    var old = {};
    nodes.forEach(function (n) { old[n.id] = n; });
    nodes = state.hosts.map(function (h) {
      var o = old[h.id];
      if (o) { h.x = o.x; h.y = o.y; h.px = o.px; h.py = o.py; }
      return h;
    });
    var index = {};
    nodes.forEach(function (n, i) { index[n.id] = i; });
    edges = state.links.filter(function (l) { return l.a in index && l.b in index; })
      .map(function (l) { return { source: index[l.a], target: index[l.b], path: l.path, a: l.a, b: l.b }; });
    force.nodes(nodes).links(edges);

    var e = edgeLayer.selectAll("line.edge").data(edges, function (d) { return d.a + "-" + d.b; });
    e.enter().append("line").attr("class", "edge");
    e.exit().remove();
    var n = nodeLayer.selectAll("g.node").data(nodes, function (d) { return d.id; });
    var g = n.enter().append("g").attr("class", "node").call(force.drag);
    g.each(function (d) {
      var el = d3.select(this), kind = nodeKind(d);
      if (kind === "coordinator") el.append("path").attr("class", "shape").attr("d", d3.svg.symbol().type("diamond").size(500));
      else if (kind === "gateway") el.append("rect").attr("class", "shape").attr({ x: -12, y: -12, width: 24, height: 24 });
      else el.append("circle").attr("class", "shape").attr("r", 10);
      el.select(".shape").append("title");
      el.append("text").attr("class", "label").attr({ x: 15, y: 4 });
      el.append("text").attr("class", "subnet-text").attr({ x: 15, y: 17 });
    });
    g.on("click", function (d) { if (!d3.event.defaultPrevented) selectHost(d.id); });
    n.exit().remove();
    force.on("tick", function () {
      edgeLayer.selectAll("line.edge")
        .attr("x1", function (d) { return d.source.x; }).attr("y1", function (d) { return d.source.y; })
        .attr("x2", function (d) { return d.target.x; }).attr("y2", function (d) { return d.target.y; });
      nodeLayer.selectAll("g.node").attr("transform", function (d) { return "translate(" + d.x + "," + d.y + ")"; });
    });
    force.start();
  }

  function restyle() {
    edgeLayer.selectAll("line.edge").attr("class", function (d) { return "edge " + d.path; })
      .attr("data-a", function (d) { return d.a; }).attr("data-b", function (d) { return d.b; })
      .attr("data-path", function (d) { return d.path; });
    var n = nodeLayer.selectAll("g.node");
    n.attr("class", function (d) { return "node " + d.state + (d.id === selected ? " selected" : ""); })
      .attr("data-id", function (d) { return d.id; }).attr("data-name", function (d) { return d.name; })
      .attr("data-state", function (d) { return d.state; });
    n.select("text.label").text(function (d) { return d.name + (d.admin_host ? " (admin)" : ""); });
    n.select("text.subnet-text").text(function (d) {
      return d.subnets.concat(d.ipsec_subnets.map(function (s) { return "ipsec:" + s; })).join(" ");
    });
    n.select(".shape title").text(function (d) { return d.id + " " + nodeKind(d) + " " + d.state; });
  }

  function banner(live) {
    var b = $("banner"), text = live.answered ? "" :
      "Live state unavailable, every host shown as unknown: " + live.why + " (socket " + live.socket + ")";
    if (live.problems.length) text += (text ? "; " : "") + "reports set aside: " + live.problems.join("; ");
    b.hidden = !text;
    b.textContent = text;
  }

  function poll() {
    api("GET", "/api/state").then(function (s) {
      $("network-name").textContent = s.network.name + " (network " + s.network.number + ")";
      banner(s.live);
      drawMap(s);
      document.body.setAttribute("data-polled", String(Date.now()));
    }).catch(function (err) { message("state: " + err.message, true); });
  }

  // ---- details ----
  function fmtTime(t) { return t ? new Date(t * 1000).toISOString().replace(".000Z", "Z") : ""; }
  function kv(rows) {
    return "<table>" + rows.map(function (r) { return "<tr><th>" + esc(r[0]) + "</th><td>" + esc(r[1]) + "</td></tr>"; }).join("") + "</table>";
  }
  function esc(v) {
    return String(v === null || v === undefined ? "" : v).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function selectHost(id) {
    selected = id;
    nodeLayer.selectAll("g.node").classed("selected", function (d) { return d.id === id; });
    api("GET", "/api/host?id=" + encodeURIComponent(id)).then(function (h) {
      var html = "<h3>" + esc(h.name) + " " + esc(h.id) + "</h3>" + kv([
        ["role", nodeKind(h)], ["state", h.state], ["tunnel address", h.tunnel_v4], ["endpoints", h.endpoints.join(" ")],
        ["public endpoint", h.public_endpoint], ["transport", h.transport], ["last heard", fmtTime(h.last_heard)],
        ["subnets", h.subnets.join(" ")], ["IPsec subnets", h.ipsec_subnets.join(" ")],
        ["groups", h.groups.join(" ")], ["users", h.users.join(" ")],
        ["update due", h.update_due], ["key set version", h.keyset_version]]);
      html += "<h4>Links</h4>" + kv(h.links.map(function (l) {
        var peer = l.a === h.id ? l.b_name + " " + l.b : l.a_name + " " + l.a;
        return [peer, l.path + " (" + l.reasons.join(", ") + ")"];
      }));
      html += "<h4>Updates</h4>" + kv(h.updates.map(function (u) { return ["v" + u.version + " " + u.kind, u.state + " " + u.reason]; }));
      html += "<h4>Recent audit events</h4>" + kv(h.audit.map(function (a) { return [fmtTime(a.time), a.operation + " " + a.arguments + ": " + a.result]; }));
      $("details").innerHTML = html;
    }).catch(function (err) { $("details").textContent = err.message; });
  }

  // ---- lists ----
  var columns = {
    hosts: ["id", "name", "role", "state", "tunnel_v4", "endpoints", "subnets", "ipsec_subnets", "groups",
            "update_due"],
    users: ["host", "host_name", "name", "password", "created_at"],
    groups: ["name", "members", "linked_groups"],
    links: ["a", "a_name", "b", "b_name", "reasons", "created_at"],
    updates: ["host", "host_name", "version", "kind", "state", "via", "reason", "built_at", "sent_at"],
    audit: ["id", "time", "operation", "arguments", "result"]
  };
  var lastState = null;
  function cell(row, c) {
    var v = row[c];
    if (c === "time" || c === "created_at" || c === "built_at" || c === "sent_at") return fmtTime(v);
    if (Array.isArray(v)) return v.map(function (x) { return typeof x === "object" ? x.name : x; }).join(" ");
    return v;
  }
  function renderList() {
    var rows = currentTab === "hosts" ? (lastState ? lastState.hosts : []) : (lists ? lists[currentTab] : []);
    var cols = columns[currentTab], q = $("search").value.toLowerCase();
    if (currentTab === "audit") rows = rows.slice().reverse();
    d3.select("#list thead").html("<tr>" + cols.map(function (c) { return "<th>" + esc(c) + "</th>"; }).join("") + "</tr>");
    var html = rows.map(function (r) { return cols.map(function (c) { return String(cell(r, c)); }); })
      .filter(function (cells) { return !q || cells.join(" ").toLowerCase().indexOf(q) >= 0; })
      .map(function (cells) { return "<tr>" + cells.map(function (v) { return "<td>" + esc(v) + "</td>"; }).join("") + "</tr>"; });
    d3.select("#list tbody").html(html.join(""));
  }
  function loadLists() {
    return Promise.all([api("GET", "/api/lists"), api("GET", "/api/state")]).then(function (r) {
      lists = r[0]; lastState = r[1]; renderList();
    }).catch(function (err) { message(err.message, true); });
  }
  $("search").addEventListener("input", renderList);
  Array.prototype.forEach.call(document.querySelectorAll("#tabs button"), function (b) {
    b.addEventListener("click", function () {
      currentTab = b.getAttribute("data-tab");
      Array.prototype.forEach.call(document.querySelectorAll("#tabs button"), function (o) { o.classList.toggle("active", o === b); });
      $("tab-map").hidden = currentTab !== "map";
      $("tab-change").hidden = currentTab !== "change";
      $("tab-list").hidden = currentTab === "map" || currentTab === "change";
      if (!$("tab-list").hidden) loadLists();
    });
  });

  // ---- changes ----
  function change(form, path, body, done) {
    $(form).addEventListener("submit", function (e) {
      e.preventDefault();
      api("POST", path, body()).then(function (r) { message(done(r)); poll(); })
        .catch(function (err) { message(err.message, true); });
    });
  }
  change("link-form", "/api/link/add", function () { return { a: $("link-a").value, b: $("link-b").value }; },
    function (r) { return r.already_linked || ("link added (" + r.added + " new link key); build and send updates to deliver it"); });
  change("move-form", "/api/group/move", function () {
    return { host: $("move-host").value, to: $("move-to").value, from: $("move-from").value };
  }, function (r) { return "moved: " + r.links_added + " link(s) added, " + r.links_removed + " removed"; });
  change("send-form", "/api/updates/send", function () { return {}; }, function (r) {
    return "built " + r.built.length + " package(s); " + r.sent.map(function (s) { return s.host + " v" + s.version + ": " + s.state; }).join(", ");
  });

  api("GET", "/api/session").then(showSession);
  poll();
  setInterval(poll, POLL_MS);
})();

// Live progress of a job's page: follows the job's Server-Sent Events, updates the
// numbers and draws the best objective and the bound over time. Without JavaScript the
// page refreshes itself every few seconds instead (the <noscript> refresh). When the
// stream is refused before it opens (429: the organisation already follows as many jobs as
// the service allows, MAX_EVENT_STREAMS_PER_TENANT), the page says so and refreshes itself
// every 5 seconds instead, trying the live stream again each time.
(function () {
  "use strict";
  var section = document.getElementById("progress");
  if (!section || section.getAttribute("data-active") !== "true" || !window.EventSource) {
    return;
  }
  var points = [];
  var chart = document.getElementById("p-chart-figure");
  function text(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = value; }
  }
  function num(v) {
    if (v === null || v === undefined) { return ""; }
    return Number.isInteger(v) ? v.toLocaleString("en-GB")
      : v.toLocaleString("en-GB", { maximumFractionDigits: 2 });
  }
  function draw() {
    if (!points.length) { return; }
    // The scale runs from the lowest objective to the highest objective or the latest
    // bound: an early bound far above is drawn at the top edge, not flattening the rest.
    var objectives = [], last = null;
    points.forEach(function (p) {
      if (p.objective !== null) { objectives.push(p.objective); }
      if (p.bound !== null) { last = p.bound; }
    });
    if (!objectives.length) { return; }
    chart.hidden = false;
    var lo = Math.min.apply(null, objectives);
    var hi = Math.max(Math.max.apply(null, objectives), last === null ? lo : last);
    // time runs from the start of the solve to a little after the latest event, so the
    // latest values show as a line to the right edge
    var t1 = points[points.length - 1].t, t0 = 0;
    var span = Math.max(hi - lo, 1), tspan = t1 + Math.max(1, 0.25 * t1);
    function line(key) {
      // a step line: each value holds until the next, the last to the right edge
      var out = [], y = null;
      points.forEach(function (p) {
        if (p[key] === null) { return; }
        var x = (10 + 580 * (p.t - t0) / tspan).toFixed(1);
        if (y !== null) { out.push(x + "," + y); }
        y = Math.max(10, Math.min(150, 150 - 140 * (p[key] - lo) / span)).toFixed(1);
        out.push(x + "," + y);
      });
      if (y !== null) { out.push("590.0," + y); }
      return out.join(" ");
    }
    document.getElementById("p-chart-objective").setAttribute("points", line("objective"));
    document.getElementById("p-chart-bound").setAttribute("points", line("bound"));
  }
  var source = new EventSource(section.getAttribute("data-events"));
  var opened = false;
  source.addEventListener("open", function () { opened = true; });
  source.addEventListener("progress", function (e) {
    var p = JSON.parse(e.data);
    text("p-objective", num(p.objective));
    text("p-bound", num(p.bound));
    text("p-gap", p.gap === null ? "" : (100 * p.gap).toFixed(1) + "%");
    text("p-elapsed", num(p.elapsed_s));
    points.push({ t: p.elapsed_s || 0, objective: p.objective, bound: p.bound });
    draw();
  });
  source.addEventListener("state", function (e) {
    var job = JSON.parse(e.data);
    var tag = document.querySelector("#job-state strong");
    if (tag) { tag.textContent = job.state + (job.result_status ? ": " + job.result_status : ""); }
    if (job.state === "succeeded" || job.state === "failed" || job.state === "cancelled") {
      source.close();
      window.location.reload();
    }
  });
  source.addEventListener("error", function () {
    // The stream ended or the connection dropped: show the page as it is now. Refused
    // before it opened (too many streams): say so, and poll by refreshing the page.
    source.close();
    var off = document.getElementById("p-live-off");
    if (!opened && off) { off.hidden = false; }
    window.setTimeout(function () { window.location.reload(); }, opened ? 2000 : 5000);
  });
}());

// The overview's live charts: the history the page was rendered with, then
// one sample per server-sent event. Tables and figures work without it.
"use strict";
(function () {
  const seed = document.getElementById("history");
  if (!seed) return;
  const body = JSON.parse(seed.textContent);
  const windowMs = body.window_seconds * 1000;
  let samples = body.samples || [];

  const count = (v) => {
    const a = Math.abs(v);
    if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
    if (a >= 1e4) return (v / 1e3).toFixed(1) + "k";
    return Number.isInteger(v) ? String(v) : v.toFixed(1);
  };
  const seconds = (s) => {
    if (s < 0) return "unknown";
    if (s === 0) return "0 s";
    if (s < 1) return (s * 1000).toFixed(0) + " ms";
    if (s < 60) return s.toFixed(0) + " s";
    if (s < 3600) return Math.floor(s / 60) + " min" + (s % 60 >= 1 ? " " + Math.floor(s % 60) + " s" : "");
    return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  };
  const ratio = (s, tier) => {
    let total = s.cache_misses;
    for (const k in s.cache_hits) total += s.cache_hits[k];
    return total ? (s.cache_hits[tier] || 0) / total : 0;
  };
  const format = {
    rate: (v) => count(v) + " msg/s",
    msg: (v) => count(v) + " msg",
    s: seconds,
    workers: (v) => (v === 1 ? "1 worker" : count(v) + " workers"),
    calls: (v) => count(v) + " calls",
    pct: (v) => (v * 100).toFixed(1) + " %",
    state: (v) => v,
  };
  const lagFields = { lag_messages: 1, lag_seconds: 1, drain_eta_seconds: 1, replicas_hint: 1 };

  function updateFigures(s) {
    for (const el of document.querySelectorAll("[data-stat]")) {
      const f = el.dataset.stat;
      let v = s[f];
      if (f === "hit_memory") v = ratio(s, "memory");
      if (f === "hit_redis") v = ratio(s, "redis");
      if (lagFields[f] && !s.has_lag) { el.textContent = "—"; continue; }
      el.textContent = format[el.dataset.unit](v);
      if (el.dataset.unit === "state") el.className = "state-" + v;
    }
  }

  // The x axis spans the history there is (at least a minute, at most the
  // window), so a fresh worker's first minutes fill the chart.
  function draw() {
    const now = samples.length ? Date.parse(samples[samples.length - 1].at) : Date.now();
    const first = samples.length ? Date.parse(samples[0].at) : now;
    const span = Math.min(windowMs, Math.max(now - first, 60000));
    for (const svg of document.querySelectorAll("svg.chart")) {
      const field = svg.dataset.field;
      const pts = samples.map((s) => [Date.parse(s.at), s[field]]);
      const peak = Math.max(0, ...pts.map((p) => p[1]));
      const top = peak > 0 ? peak : 1;
      const [w, h] = [600, 140];
      svg.querySelector("polyline").setAttribute("points", pts.map(([t, v]) =>
        ((w * (1 - (now - t) / span)).toFixed(1)) + "," + ((h - 4 - (h - 8) * v / top).toFixed(1))).join(" "));
      svg.dataset.points = String(pts.length);
      const axis = svg.parentElement.querySelector(".axis");
      axis.querySelector("[data-start]").textContent = "−" + seconds(Math.round(span / 1000));
      axis.querySelector("[data-max]").textContent = "max " + format[svg.dataset.unit](peak);
    }
  }

  draw();
  const es = new EventSource("/api/events");
  es.onmessage = (ev) => {
    const s = JSON.parse(ev.data);
    samples.push(s);
    const cutoff = Date.parse(s.at) - windowMs;
    samples = samples.filter((x) => Date.parse(x.at) >= cutoff);
    updateFigures(s);
    draw();
  };
})();

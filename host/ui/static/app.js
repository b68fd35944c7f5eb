// Draws each chart from the data in its canvas's data-chart attribute (the
// table beside it holds the same numbers). No inline script: the page's
// Content-Security-Policy allows only files from this origin.
"use strict";
(function () {
  const palette = ["#1f5f8b", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d6a9f", "#2e4057"];
  function draw(canvas) {
    let chart;
    try {
      chart = JSON.parse(canvas.dataset.chart);
    } catch (e) {
      return;
    }
    if (typeof Chart === "undefined") return;
    const datasets = chart.series.map(function (s, i) {
      const colour = palette[i % palette.length];
      return { label: s.name, data: s.values, backgroundColor: colour, borderColor: colour, fill: false, tension: 0 };
    });
    new Chart(canvas, {
      type: chart.kind,
      data: { labels: chart.labels, datasets: datasets },
      // Numbers as the page's language writes them (Chart.js formats ticks with Intl in this locale).
      options: { locale: document.documentElement.lang, responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { display: datasets.length > 1 } } },
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
  });
})();

// The two views both pages share: a client's windows as gauges, and its
// daily usage as a chart (uPlot, vendored) with the same numbers in a
// table beneath for keyboards and screen readers.
import { h, fill, notify, busy, num, per, inDuration } from "./dom.js";

/** Renders a /v1/quota (or admin …/quota) answer into el as one gauge per window. */
export function gauges(el, quota) {
  const items = quota.windows.map((w) => {
    const over = w.overage || 0;
    const used = w.limit - w.remaining + over;
    const share = w.limit > 0 ? Math.min(1, used / w.limit) : 1;
    const fillBar = h("div", { class: "gauge-fill" + (share >= 1 ? " full" : share >= 0.8 ? " high" : "") });
    fillBar.style.width = (share * 100).toFixed(1) + "%";
    return h(
      "li",
      { class: "gauge", "data-policy": w.policy, "data-used": used, "data-limit": w.limit, "data-remaining": w.remaining },
      h("div", { class: "gauge-head" },
        h("strong", null, "per " + per(w.per)),
        w.soft ? h("span", { class: "tag" }, "soft") : null,
        h("span", { class: "gauge-value" }, num(used) + " / " + num(w.limit))),
      h("div", { class: "gauge-bar", role: "meter", "aria-valuemin": 0, "aria-valuemax": w.limit, "aria-valuenow": Math.min(used, w.limit),
        "aria-label": w.policy + ": " + num(used) + " of " + num(w.limit) + " used" }, fillBar),
      h("div", { class: "gauge-foot" },
        num(w.remaining) + " left · resets " + inDuration(w.reset_after),
        w.soft ? " · overage " + num(over) : null));
  });
  fill(el, h("ul", { class: "gauges" }, items));
}

const DAY = 86400;

/**
 * Renders a /v1/usage answer (days with any request) into el as a chart
 * of every day from its `from` to `to`, days without requests at zero,
 * and the table of the days that had any.
 */
export function usageChart(el, usage) {
  const dates = [];
  for (let t = Date.parse(usage.from + "T00:00:00Z") / 1000, end = Date.parse(usage.to + "T00:00:00Z") / 1000; t <= end; t += DAY) {
    dates.push(t);
  }
  const byDay = new Map(usage.days.map((d) => [d.date, d]));
  const col = (f) => dates.map((t) => (byDay.get(new Date(t * 1000).toISOString().slice(0, 10)) || {})[f] || 0);
  const data = [dates, col("admitted"), col("refused"), col("overage")];
  const total = usage.total;

  const plot = h("div", { class: "chart-plot", role: "img",
    "aria-label": "Requests per day from " + usage.from + " to " + usage.to + ": " + num(total.admitted) + " admitted, " +
      num(total.refused) + " refused, " + num(total.overage) + " overage" });
  const rows = usage.days.slice().reverse().map((d) =>
    h("tr", null, h("td", null, d.date), h("td", { class: "n" }, num(d.admitted)), h("td", { class: "n" }, num(d.refused)), h("td", { class: "n" }, num(d.overage))));
  const table = h("details", { class: "chart-table" },
    h("summary", null, "Days as a table"),
    rows.length
      ? h("table", null, h("thead", null, h("tr", null, h("th", null, "Day"), h("th", null, "Admitted"), h("th", null, "Refused"), h("th", null, "Overage"))), h("tbody", null, rows))
      : h("p", null, "No requests in this range."));
  fill(el,
    h("p", { class: "chart-totals", "data-admitted": total.admitted, "data-refused": total.refused, "data-overage": total.overage },
      h("span", { class: "key admitted" }, num(total.admitted) + " admitted"), " · ",
      h("span", { class: "key refused" }, num(total.refused) + " refused"), " · ",
      h("span", { class: "key overage" }, num(total.overage) + " overage"),
      " (" + usage.from + " to " + usage.to + ")"),
    plot, table);

  if (typeof window.uPlot !== "function") {
    plot.textContent = "The chart library did not load; the table below has the numbers.";
    return;
  }
  const width = () => Math.max(260, plot.clientWidth || el.clientWidth || 600);
  const chart = new window.uPlot({
    width: width(),
    height: 220,
    legend: { show: false },
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(5, max * 1.1)] } },
    axes: [{}, { size: 60 }],
    series: [
      {},
      { label: "Admitted", stroke: "#1f6feb", fill: "rgba(31,111,235,0.12)", width: 2 },
      { label: "Refused", stroke: "#d1242f", width: 2 },
      { label: "Overage", stroke: "#bf8700", width: 2, dash: [6, 4] },
    ],
  }, data, plot);
  const resize = () => {
    if (!plot.isConnected) {
      window.removeEventListener("resize", resize);
      chart.destroy();
      return;
    }
    chart.setSize({ width: width(), height: 220 });
  };
  window.addEventListener("resize", resize);
}

/**
 * A "Refresh" button that runs load and says how it went; a failure the
 * page already handled (signed out after a 401) is not reported when
 * quiet() is true by then.
 */
export function refreshButton(load, quiet) {
  const button = h("button", { type: "button", id: "refresh" }, "Refresh");
  button.addEventListener("click", () => busy(button, async () => {
    try {
      await load();
      notify("Refreshed.", "ok");
    } catch (err) {
      if (!(quiet && quiet())) notify("Could not refresh: " + err.message, "error");
    }
  }));
  return button;
}

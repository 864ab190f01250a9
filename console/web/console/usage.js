// Usage of a month: every client with requests, sorted by the share of
// its monthly quota it has used (its tier's month window; clients on tiers
// without one come last), and the month's CSV export.
import { h, fill, notify, busy, num, money, micros } from "../lib/dom.js";

export async function render(ctx) {
  const now = new Date();
  const thisMonth = now.toISOString().slice(0, 7);
  const month = new URLSearchParams(location.hash.split("?")[1] || "").get("month") || thisMonth;
  const [report, { tiers }] = await Promise.all([
    ctx.api.get("/v1/admin/usage?month=" + encodeURIComponent(month)),
    ctx.api.get("/v1/admin/tiers"),
  ]);
  if (!ctx.current()) return;
  const monthly = new Map(tiers.map((t) => [t.name, (t.limits.find((w) => w.per === "month") || {}).limit]));
  const lines = report.clients.map((c) => {
    const quota = monthly.get(c.tier);
    // admitted includes the overage: every request a soft window let past.
    return Object.assign({ quota, share: quota ? c.admitted / quota : -1 }, c);
  });
  lines.sort((a, b) => b.share - a.share || b.admitted - a.admitted || (a.id < b.id ? -1 : 1));

  const picker = h("input", { type: "month", id: "month", value: month, max: thisMonth });
  const go = h("form", { class: "filters", onsubmit: (ev) => { ev.preventDefault(); location.hash = "#/usage?month=" + picker.value; } },
    h("label", { class: "field" }, "Month (UTC)", picker), h("div", { class: "actions" }, h("button", { type: "submit" }, "Show")));
  const exportButton = h("button", { type: "button", id: "export-csv" }, "Export CSV");
  exportButton.addEventListener("click", () => busy(exportButton, async () => {
    try {
      const csv = await ctx.api.text("/v1/admin/usage?month=" + encodeURIComponent(report.month), "text/csv");
      const a = h("a", { href: URL.createObjectURL(new Blob([csv], { type: "text/csv" })), download: "usage-" + report.month + ".csv" });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 1000);
      notify("usage-" + report.month + ".csv downloaded.", "ok");
    } catch (err) {
      notify("The export failed: " + err.message, "error");
    }
  }));

  const rows = lines.map((c) => {
    const bar = h("div", { class: "gauge-fill" + (c.share >= 1 ? " full" : c.share >= 0.8 ? " high" : "") });
    bar.style.width = Math.max(0, Math.min(100, c.share * 100)).toFixed(1) + "%";
    return h("tr", { "data-client": c.id, "data-share": c.share.toFixed(4) },
      h("th", { scope: "row" }, h("a", { href: "#/clients/" + encodeURIComponent(c.id) }, c.id)),
      h("td", null, c.tier),
      h("td", { class: "share" }, c.quota ? [h("div", { class: "gauge-bar small" }, bar), (c.share * 100).toFixed(1) + " % of " + num(c.quota)] : "no monthly quota"),
      h("td", { class: "n" }, num(c.admitted)), h("td", { class: "n" }, num(c.refused)), h("td", { class: "n" }, num(c.overage)),
      h("td", { class: "n" }, money(c.price_cents, c.currency) + (c.overage_charge_micros ? " + " + micros(c.overage_charge_micros, c.currency) : "")));
  });
  fill(ctx.main, h("section", { class: "card" },
    h("div", { class: "card-head" }, h("h1", null, "Usage in " + report.month), exportButton),
    go,
    h("p", { class: "hint" }, "Counts reach this page within a few seconds of the requests (the metering interval). Share is of the tier's month window."),
    rows.length
      ? h("div", { class: "scroll" }, h("table", { id: "usage" },
        h("thead", null, h("tr", null, h("th", null, "Client"), h("th", null, "Tier"), h("th", null, "Share of monthly quota"), h("th", null, "Admitted"), h("th", null, "Refused"), h("th", null, "Overage"), h("th", null, "Bill"))),
        h("tbody", null, rows)))
      : h("p", null, "No requests were counted in " + report.month + ".")));
}

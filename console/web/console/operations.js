// Operations: the cost rules /v1/authorize prices requests with; list,
// add or replace (PUT by name), delete.
import { h, fill, notify, busy, confirmInPlace, showFieldErrors, clearFieldErrors, num } from "../lib/dom.js";

export async function render(ctx) {
  const { operations } = await ctx.api.get("/v1/admin/operations");
  if (!ctx.current()) return;
  const rows = operations.map((o) => {
    const del = h("button", { type: "button", class: "danger", "data-action": "delete" }, "Delete");
    del.addEventListener("click", () => confirmInPlace(del, "Delete rule " + o.name + "?", "Delete " + o.name, async () => {
      try {
        await ctx.api.del("/v1/admin/operations/" + encodeURIComponent(o.name));
      } catch (err) {
        notify("Rule " + o.name + " was not deleted: " + err.message, "error");
        return;
      }
      notify("Rule " + o.name + " deleted.", "ok");
      await render(ctx);
    }));
    return h("tr", { "data-operation": o.name },
      h("th", { scope: "row" }, o.name), h("td", null, o.method), h("td", null, h("code", null, o.path)), h("td", { class: "n" }, num(o.cost)),
      h("td", { class: "row-actions" }, h("button", { type: "button", "data-action": "edit", onclick: () => edit(o) }, "Edit"), del));
  });

  const name = h("input", { name: "name", "data-field": "name", required: true, autocomplete: "off" });
  const method = h("input", { name: "method", "data-field": "method", value: "*", autocomplete: "off" });
  const path = h("input", { name: "path", "data-field": "path", placeholder: "/v1/search or /v1/search/*", autocomplete: "off" });
  const cost = h("input", { name: "cost", type: "number", min: 0, step: 1, "data-field": "cost", value: 1 });
  const save = h("button", { type: "submit", class: "primary" }, "Save rule");
  const form = h("form", { class: "card", id: "operation-form", novalidate: true },
    h("h2", null, "Add or replace a rule"),
    h("p", { class: "hint" }, "The most specific rule prices a request: an exact path before the longest prefix (/x/*), a method before *. Cost 0 lets a request through uncounted."),
    h("div", { class: "grid" },
      h("label", { class: "field" }, "Name", name),
      h("label", { class: "field" }, "Method (or *)", method),
      h("label", { class: "field" }, "Path", path),
      h("label", { class: "field" }, "Cost (requests)", cost)),
    h("p", { class: "form-errors", role: "alert" }),
    h("div", { class: "actions" }, save));
  const edit = (o) => {
    name.value = o.name;
    method.value = o.method;
    path.value = o.path;
    cost.value = o.cost;
    form.scrollIntoView({ block: "nearest" });
    method.focus();
  };
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    clearFieldErrors(form);
    const n = name.value.trim();
    if (!n) {
      showFieldErrors(form, { name: "is required" });
      return;
    }
    busy(save, async () => {
      try {
        await ctx.api.put("/v1/admin/operations/" + encodeURIComponent(n),
          { method: method.value.trim(), path: path.value.trim(), cost: cost.value === "" ? null : Number(cost.value) });
      } catch (err) {
        if (err.status === 422) showFieldErrors(form, err.fields);
        form.querySelector(".form-errors").prepend(err.message + " ");
        notify("Rule " + n + " was not saved: " + err.message, "error");
        return;
      }
      notify("Rule " + n + " saved; every instance uses it within a second.", "ok");
      await render(ctx);
    });
  });

  fill(ctx.main,
    h("section", { class: "card" }, h("h1", null, "Operations"),
      h("p", { class: "hint" }, "What a request costs when a gateway asks /v1/authorize; unlisted requests cost 1."),
      rows.length
        ? h("div", { class: "scroll" }, h("table", { id: "operations" },
          h("thead", null, h("tr", null, h("th", null, "Name"), h("th", null, "Method"), h("th", null, "Path"), h("th", null, "Cost"), h("th", null, h("span", { class: "sr-only" }, "Actions")))),
          h("tbody", null, rows)))
        : h("p", null, "No rules: every request costs 1.")),
    form);
}

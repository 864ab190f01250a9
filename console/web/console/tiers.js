// Tiers: the list, and one form to create or edit a tier with its
// windows, prices and overage price. The API's 422 field errors are shown
// next to the fields they name (limits[1].per and so on).
import { h, fill, notify, busy, confirmInPlace, showFieldErrors, clearFieldErrors, num, per, money, micros } from "../lib/dom.js";

export async function render(ctx) {
  const { tiers } = await ctx.api.get("/v1/admin/tiers");
  if (!ctx.current()) return;
  const editor = h("section", { id: "tier-editor", "aria-live": "polite" });
  const list = h("section", { class: "card" },
    h("div", { class: "card-head" },
      h("h1", null, "Tiers"),
      h("button", { type: "button", class: "primary", id: "new-tier", onclick: () => openEditor(ctx, editor, null) }, "New tier")),
    table(ctx, editor, tiers));
  fill(ctx.main, list, editor);
}

function windowsText(limits) {
  return limits.map((w) => num(w.limit) + " per " + per(w.per) + (w.soft ? " (soft)" : "")).join(", ");
}

function table(ctx, editor, tiers) {
  const rows = tiers.map((t) => {
    const problem = h("p", { class: "row-error", role: "alert" });
    const del = h("button", { type: "button", class: "danger", "data-action": "delete" }, "Delete");
    del.addEventListener("click", () => confirmDelete(ctx, t, del, problem));
    return h("tr", { "data-tier": t.name },
      h("th", { scope: "row" }, t.name, t.description ? h("div", { class: "muted" }, t.description) : null),
      h("td", null, windowsText(t.limits)),
      h("td", { class: "n" }, money(t.price_cents, t.currency)),
      h("td", { class: "n" }, t.overage_price_micros ? micros(t.overage_price_micros, t.currency) : "—"),
      h("td", { class: "row-actions" },
        h("button", { type: "button", "data-action": "edit", onclick: () => openEditor(ctx, editor, t) }, "Edit"),
        del, problem));
  });
  return h("div", { class: "scroll" }, h("table", { id: "tiers" },
    h("thead", null, h("tr", null, h("th", null, "Tier"), h("th", null, "Windows"), h("th", null, "Price"), h("th", null, "Overage / request"), h("th", null, h("span", { class: "sr-only" }, "Actions")))),
    h("tbody", null, rows)));
}

// Delete asks once more in place, then says why when the API refuses
// (a tier with clients, or free/anonymous).
function confirmDelete(ctx, t, button, problem) {
  problem.textContent = "";
  confirmInPlace(button, "Delete tier " + t.name + "?", "Delete " + t.name, async () => {
    try {
      await ctx.api.del("/v1/admin/tiers/" + encodeURIComponent(t.name));
    } catch (err) {
      problem.textContent = "Not deleted: " + err.message;
      notify("Tier " + t.name + " was not deleted: " + err.message, "error");
      return;
    }
    notify("Tier " + t.name + " deleted.", "ok");
    await render(ctx);
  });
}

const MAX_WINDOWS = 4;

function windowRow(w, i) {
  const isMonth = w && w.per === "month";
  const limit = h("input", { type: "number", min: 1, step: 1, required: true, inputmode: "numeric", "data-field": "limits[" + i + "].limit", name: "limit", value: w ? w.limit : "" });
  const unit = h("select", { name: "unit", "aria-label": "Window " + (i + 1) + " length unit", "data-field": "limits[" + i + "].per" },
    ["seconds", "minutes", "hours", "days", "month"].map((u) => h("option", { value: u }, u === "month" ? "calendar month" : u)));
  const count = h("input", { type: "number", min: 1, step: 1, inputmode: "numeric", name: "per", "aria-label": "Window " + (i + 1) + " length" });
  const soft = h("input", { type: "checkbox", name: "soft", "data-field": "limits[" + i + "].soft" });
  if (isMonth) {
    unit.value = "month";
    soft.checked = !!w.soft;
  } else {
    const p = w ? w.per : 60;
    const [n, u] = p % 86400 === 0 ? [p / 86400, "days"] : p % 3600 === 0 ? [p / 3600, "hours"] : p % 60 === 0 ? [p / 60, "minutes"] : [p, "seconds"];
    count.value = n;
    unit.value = u;
  }
  const softLabel = h("label", { class: "inline" }, soft, " soft: admit past the limit and bill overage");
  const sync = () => {
    count.hidden = unit.value === "month";
    softLabel.hidden = unit.value !== "month";
  };
  unit.addEventListener("change", sync);
  sync();
  const remove = h("button", { type: "button", class: "link", "data-action": "remove-window", "aria-label": "Remove window " + (i + 1) }, "Remove");
  return h("fieldset", { class: "window", "data-window": i },
    h("legend", null, "Window " + (i + 1)),
    h("label", { class: "field" }, "Requests", limit),
    h("div", { class: "field" }, h("span", null, "per"), h("div", { class: "per" }, count, unit)),
    softLabel, remove);
}

function readWindow(fs) {
  const limit = fs.querySelector("[name=limit]").value.trim();
  const unit = fs.querySelector("[name=unit]").value;
  const count = fs.querySelector("[name=per]").value.trim();
  const mult = { seconds: 1, minutes: 60, hours: 3600, days: 86400 }[unit];
  const w = { limit: limit === "" ? null : Number(limit) };
  if (unit === "month") {
    w.per = "month";
    if (fs.querySelector("[name=soft]").checked) w.soft = true;
  } else {
    w.per = count === "" ? null : Number(count) * mult;
  }
  return w;
}

function openEditor(ctx, editor, tier) {
  const creating = !tier;
  const windows = h("div", { class: "windows" });
  const renumber = () => {
    const current = [...windows.querySelectorAll("fieldset.window")].map(readWindow);
    fill(windows, current.map((w, i) => windowRow(w, i)));
    bindRemove();
  };
  const bindRemove = () => {
    const sets = windows.querySelectorAll("fieldset.window");
    sets.forEach((fs) => {
      const b = fs.querySelector("[data-action=remove-window]");
      b.hidden = sets.length === 1;
      b.onclick = () => {
        fs.remove();
        renumber();
        windows.querySelector("input")?.focus();
      };
    });
    add.disabled = sets.length >= MAX_WINDOWS;
  };
  const add = h("button", { type: "button", "data-action": "add-window" }, "Add a window");
  add.addEventListener("click", () => {
    windows.append(windowRow(null, windows.children.length));
    bindRemove();
    windows.lastElementChild.querySelector("input").focus();
  });
  fill(windows, (tier ? tier.limits : [null]).map((w, i) => windowRow(w, i)));

  const field = (label, input, hint) => h("label", { class: "field" }, label, input, hint ? h("span", { class: "hint" }, hint) : null);
  const name = h("input", { name: "name", "data-field": "name", required: true, pattern: "[a-z0-9_-]{1,63}", value: tier ? tier.name : "", disabled: !creating, autocomplete: "off" });
  const description = h("input", { name: "description", "data-field": "description", value: tier ? tier.description : "" });
  const price = h("input", { name: "price_cents", type: "number", min: 0, step: 1, "data-field": "price_cents", value: tier ? tier.price_cents : 0 });
  const currency = h("input", { name: "currency", "data-field": "currency", maxlength: 3, value: tier ? tier.currency : "USD", autocomplete: "off" });
  const overage = h("input", { name: "overage_price_micros", type: "number", min: 0, step: 1, "data-field": "overage_price_micros", value: tier ? tier.overage_price_micros : 0 });
  const save = h("button", { type: "submit", class: "primary" }, creating ? "Create tier" : "Save " + tier.name);
  const cancel = h("button", { type: "button", onclick: () => { editor.replaceChildren(); document.getElementById("new-tier")?.focus(); } }, "Cancel");
  const form = h("form", { class: "card", id: "tier-form", novalidate: true },
    h("h2", null, creating ? "New tier" : "Edit tier " + tier.name),
    h("div", { class: "grid" },
      field("Name", name, creating ? "Lower-case letters, digits, - and _." : "A tier's name cannot change."),
      field("Description", description),
      field("Price per period (minor units, e.g. cents)", price),
      field("Currency", currency, "ISO 4217, e.g. USD."),
      field("Overage price per request (millionths of the currency)", overage, "Charged for requests past a soft month window.")),
    h("h3", null, "Windows"),
    h("p", { class: "hint" }, "A request is admitted only if every window has room; up to four windows, each of a different length."),
    h("div", { "data-field": "limits", tabindex: -1 }, windows), add,
    h("p", { class: "form-errors", role: "alert" }),
    h("div", { class: "actions" }, save, cancel));
  bindRemove();
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    clearFieldErrors(form);
    const body = {
      limits: [...windows.querySelectorAll("fieldset.window")].map(readWindow),
      description: description.value,
      price_cents: price.value === "" ? 0 : Number(price.value),
      currency: currency.value.trim(),
      overage_price_micros: overage.value === "" ? 0 : Number(overage.value),
    };
    busy(save, async () => {
      try {
        if (creating) await ctx.api.post("/v1/admin/tiers", Object.assign({ name: name.value.trim() }, body));
        else await ctx.api.put("/v1/admin/tiers/" + encodeURIComponent(tier.name), body);
      } catch (err) {
        if (err.status === 422) showFieldErrors(form, err.fields);
        form.querySelector(".form-errors").prepend(err.message + " ");
        notify((creating ? "The tier was not created: " : "The tier was not saved: ") + err.message, "error");
        return;
      }
      const n = creating ? name.value.trim() : tier.name;
      notify("Tier " + n + (creating ? " created." : " saved."), "ok");
      await render(ctx);
      document.querySelector('tr[data-tier="' + CSS.escape(n) + '"] th')?.scrollIntoView({ block: "nearest" });
    });
  });
  fill(editor, form);
  (creating ? name : description).focus();
}

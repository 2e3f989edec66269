// Wayline dashboard: progressive enhancement over server-rendered pages.
// Data only ever reaches the page through textContent and DOM APIs, never innerHTML.
"use strict";

(function () {
  const POLL_MS = 2000;
  const fmt = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  });

  function utcTitle(date) {
    return date.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  }

  // <time datetime="ISO"> in the browser's zone, UTC on hover.
  function localizeTime(el) {
    const date = new Date(el.getAttribute("datetime"));
    if (isNaN(date)) return;
    el.textContent = fmt.format(date);
    el.title = utcTitle(date);
  }

  function localizeAll(root) {
    root.querySelectorAll("time[datetime]").forEach(localizeTime);
  }

  function timeElement(iso) {
    const el = document.createElement("time");
    el.setAttribute("datetime", iso);
    el.textContent = iso;
    localizeTime(el);
    return el;
  }

  function durationText(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 1) return Math.round(seconds * 1000) + " ms";
    if (seconds < 60) return seconds.toFixed(1) + " s";
    const whole = Math.floor(seconds);
    const pad = (n) => String(n).padStart(2, "0");
    if (whole < 3600) return Math.floor(whole / 60) + "m " + pad(whole % 60) + "s";
    if (whole < 86400) return Math.floor(whole / 3600) + "h " + pad(Math.floor((whole % 3600) / 60)) + "m";
    return Math.floor(whole / 86400) + "d " + pad(Math.floor((whole % 86400) / 3600)) + "h";
  }

  function link(href, text) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    return a;
  }

  function cell(cls, child) {
    const td = document.createElement("td");
    td.className = cls;
    if (child) td.appendChild(child);
    return td;
  }

  function statusBadge(status) {
    const span = document.createElement("span");
    span.className = "status s-" + status.toLowerCase();
    span.textContent = status;
    return span;
  }

  // ----- the instances list: rows updated in place, keyed by instance id -----------------

  function fillRow(tr, row) {
    const set = (cls, node) => {
      const td = tr.querySelector("td." + cls);
      if (!td) return;
      td.replaceChildren(...(node ? [node] : []));
    };
    const status = tr.querySelector("td.col-status .status");
    if (!status || status.textContent !== row.status) set("col-status", statusBadge(row.status));
    set("updated", timeElement(row.updated));
    const dur = document.createDocumentFragment();
    dur.appendChild(document.createTextNode(durationText(row.duration)));
    if (row.running) {
      const more = document.createElement("span");
      more.className = "muted";
      more.textContent = "…";
      dur.appendChild(more);
    }
    tr.querySelector("td.duration").replaceChildren(dur);
  }

  function newRow(row, selectable) {
    const tr = document.createElement("tr");
    tr.dataset.id = row.id;
    if (selectable) {
      const box = document.createElement("input");
      box.type = "checkbox";
      box.name = "id";
      box.value = row.id;
      box.setAttribute("form", "selection");
      box.setAttribute("aria-label", "Select " + row.id);
      tr.appendChild(cell("sel", box));
    }
    tr.appendChild(cell("id", link("/ui/instances/" + encodeURIComponent(row.id), row.id)));
    tr.appendChild(cell("name", link("/ui/workflows/" + encodeURIComponent(row.name), row.name)));
    tr.appendChild(cell("col-status", statusBadge(row.status)));
    tr.appendChild(cell("created", timeElement(row.created)));
    tr.appendChild(cell("updated", null));
    tr.appendChild(cell("duration num", null));
    tr.appendChild(cell("parent opt",
      row.parent ? link("/ui/instances/" + encodeURIComponent(row.parent), row.parent) : null));
    fillRow(tr, row);
    return tr;
  }

  function applyListing(table, data) {
    const tbody = table.tBodies[0];
    const selectable = !!table.querySelector("th.sel");
    const existing = new Map();
    tbody.querySelectorAll("tr[data-id]").forEach((tr) => existing.set(tr.dataset.id, tr));
    const wanted = [];
    for (const row of data.rows) {
      let tr = existing.get(row.id);
      if (tr) {
        fillRow(tr, row);
        existing.delete(row.id);
      } else {
        tr = newRow(row, selectable);
        tr.classList.add("fresh");
      }
      wanted.push(tr);
    }
    // Rows that left the page go, unless selected: a selection is never dropped.
    existing.forEach((tr) => {
      const box = tr.querySelector("input[type=checkbox]");
      if (box && box.checked) { tr.classList.add("stale"); wanted.push(tr); } else tr.remove();
    });
    // Move only what is out of place, so focus and scroll stay where they are.
    wanted.forEach((tr, i) => {
      if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null);
    });
    document.querySelectorAll("[data-count]").forEach((chip) => {
      const b = chip.querySelector("b");
      const n = data.counts[chip.dataset.count];
      if (b && n !== undefined) b.textContent = n.toLocaleString("en-US");
    });
    const total = document.querySelector("[data-total]");
    if (total) total.textContent = data.total.toLocaleString("en-US") + " matching the other filters";
    const empty = document.querySelector(".empty");
    if (empty) empty.hidden = data.rows.length > 0;
    updateSelection();
  }

  function pollList(table) {
    const note = document.querySelector("[data-live]");
    async function tick() {
      if (!document.hidden) {
        try {
          const response = await fetch(table.dataset.poll, { credentials: "same-origin", headers: { accept: "application/json" } });
          if (response.status === 401) { if (note) note.textContent = "Signed out: reload to sign in."; return; }
          if (response.ok) {
            applyListing(table, await response.json());
            if (note) note.textContent = "Live: updated " + fmt.format(new Date()) + ".";
          }
        } catch (e) {
          if (note) note.textContent = "Live updates paused: the server does not answer.";
        }
      }
      setTimeout(tick, POLL_MS);
    }
    setTimeout(tick, POLL_MS);
  }

  // ----- selection and bulk ----------------------------------------------------------------

  function updateSelection() {
    const boxes = document.querySelectorAll("input[form=selection][name=id]");
    const chosen = Array.from(boxes).filter((b) => b.checked).length;
    document.querySelectorAll("[data-selected-count]").forEach((el) => { el.textContent = String(chosen); });
    document.querySelectorAll("[data-needs-selection]").forEach((el) => { el.disabled = chosen === 0; });
  }

  function setupSelection() {
    const all = document.querySelector("[data-select-all]");
    if (all) {
      all.addEventListener("change", () => {
        document.querySelectorAll("input[form=selection][name=id]").forEach((b) => { b.checked = all.checked; });
        updateSelection();
      });
    }
    document.addEventListener("change", (ev) => {
      if (ev.target.matches && ev.target.matches("input[form=selection][name=id]")) updateSelection();
    });
    const selection = document.getElementById("selection");
    const op = document.querySelector("form.bulk select[name=op]");
    if (selection && op) {
      selection.addEventListener("submit", (ev) => {
        if (!op.value) { ev.preventDefault(); op.focus(); op.reportValidity(); return; }
        selection.querySelector("[data-selection-op]").value = op.value;
      });
    }
    updateSelection();
  }

  // ----- forms: confirmations, JSON validation, UTC filters ------------------------------------

  function setupForms() {
    document.querySelectorAll("form[data-confirm]").forEach((form) => {
      form.addEventListener("submit", (ev) => {
        if (!window.confirm(form.dataset.confirm)) ev.preventDefault();
      });
    });
    document.querySelectorAll("form[data-json-form]").forEach((form) => {
      form.addEventListener("submit", (ev) => {
        const problem = form.querySelector("[data-json-error]");
        for (const area of form.querySelectorAll("[data-json]")) {
          if (!area.value.trim()) continue;
          try { JSON.parse(area.value); } catch (e) {
            ev.preventDefault();
            ev.stopImmediatePropagation();
            problem.textContent = "Not valid JSON: " + e.message;
            problem.hidden = false;
            area.setAttribute("aria-invalid", "true");
            area.focus();
            return;
          }
        }
      }, true);
    });
    document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
      select.addEventListener("change", () => select.form.submit());
    });
    // Filter times: shown and typed in the browser's zone, sent as UTC.
    const pad = (n) => String(n).padStart(2, "0");
    document.querySelectorAll("input[data-utc]").forEach((input) => {
      if (!input.value) return;
      const text = /[zZ]|[+-]\d\d:\d\d$/.test(input.value) ? input.value : input.value + "Z";
      const d = new Date(text);
      if (isNaN(d)) return;
      input.value = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) +
        "T" + pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
    });
    const filters = document.querySelector("form.filters");
    if (filters) {
      filters.querySelector(".hint").textContent = "Times are in your browser's zone.";
      filters.addEventListener("submit", () => {
        filters.querySelectorAll("input[data-utc]").forEach((input) => {
          if (!input.value) { input.disabled = true; return; }
          const hidden = document.createElement("input");
          hidden.type = "hidden";
          hidden.name = input.name;
          hidden.value = new Date(input.value).toISOString().replace(/\.\d+Z$/, "Z");
          input.disabled = true;
          filters.appendChild(hidden);
        });
        // Empty fields make no parameters.
        filters.querySelectorAll("input[type=search], input[name=name], input[name=parent]").forEach((i) => {
          if (!i.value) i.disabled = true;
        });
      });
    }
  }

  // ----- the instance page: timeline geometry and change notice ---------------------------

  function drawTimeline() {
    document.querySelectorAll(".bar[data-left]").forEach((bar) => {
      bar.style.left = bar.dataset.left + "%";
      bar.style.width = bar.dataset.width + "%";
    });
    document.querySelectorAll(".ov[data-h]").forEach((el) => {
      el.style.height = Math.max(2, Number(el.dataset.h)) + "%";
    });
  }

  function watchInstance(title) {
    const banner = document.querySelector("[data-changed]");
    async function tick() {
      if (!document.hidden) {
        try {
          const response = await fetch(title.dataset.instance, { credentials: "same-origin" });
          if (response.ok) {
            const state = await response.json();
            if (state.updated !== title.dataset.version) {
              const busy = document.querySelector("main details[open]") ||
                (document.activeElement && /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName)) ||
                Array.from(document.querySelectorAll("textarea")).some((t) => t.value);
              if (busy) { if (banner) banner.hidden = false; }
              else { window.location.reload(); return; }
            }
          }
        } catch (e) { /* the next tick retries */ }
      }
      setTimeout(tick, POLL_MS);
    }
    setTimeout(tick, POLL_MS);
  }

  // ----- keyboard ----------------------------------------------------------------------------

  function setupKeys() {
    let pendingG = false;
    const help = document.getElementById("help");
    document.querySelectorAll("[data-help]").forEach((b) => b.addEventListener("click", () => help.showModal()));
    document.addEventListener("keydown", (ev) => {
      if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
      const target = ev.target;
      if (target && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) {
        if (ev.key === "Escape") target.blur();
        return;
      }
      const rows = Array.from(document.querySelectorAll("table.instances tbody tr"));
      const current = document.querySelector("table.instances tbody tr.cursor");
      const move = (delta) => {
        if (!rows.length) return;
        let i = rows.indexOf(current);
        i = i < 0 ? 0 : Math.min(rows.length - 1, Math.max(0, i + delta));
        if (current) current.classList.remove("cursor");
        rows[i].classList.add("cursor");
        rows[i].querySelector("td.id a").focus();
      };
      if (pendingG) {
        pendingG = false;
        if (ev.key === "i") { window.location.href = "/ui/"; return; }
        if (ev.key === "w") { window.location.href = "/ui/workflows/"; return; }
      }
      switch (ev.key) {
        case "/": {
          const search = document.querySelector("[data-search]");
          if (search) { ev.preventDefault(); search.focus(); search.select(); }
          break;
        }
        case "j": move(1); break;
        case "k": move(-1); break;
        case "x": {
          const box = current && current.querySelector("input[type=checkbox]");
          if (box) { box.checked = !box.checked; updateSelection(); }
          break;
        }
        case "g": pendingG = true; break;
        case "?": if (help) help.showModal(); break;
        default: break;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    localizeAll(document);
    drawTimeline();
    setupForms();
    setupSelection();
    setupKeys();
    const table = document.querySelector("table[data-poll]");
    if (table) pollList(table);
    const title = document.querySelector("[data-instance]");
    if (title) watchInstance(title);
  });
})();

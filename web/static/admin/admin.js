/* Воронка admin: clickable rows, confirmations, live conversation refresh, analytics charts (plain SVG), live queue
   counts. */
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";

  function el(name, attrs, text) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function plural(n, one, few, many) {
    var m10 = n % 10, m100 = n % 100;
    if (m10 === 1 && m100 !== 11) return one;
    if (m10 >= 2 && m10 <= 4 && (m100 < 12 || m100 > 14)) return few;
    return many;
  }
  function count(n, one, few, many) { return fmtInt(n) + "\u00a0" + plural(n || 0, one, few, many); }
  function fmtInt(n) { return (n || 0).toLocaleString("ru-RU"); }
  function fmtPct(x) { return x === null || x === undefined ? "—" : (x * 100).toLocaleString("ru-RU", {maximumFractionDigits: 1}) + "\u00a0%"; }
  function fmtMoney(s) {
    var n = parseFloat(s || "0");
    return n.toLocaleString("ru-RU", {maximumFractionDigits: 0}) + "\u00a0₽";
  }
  function fmtSeconds(s) {
    if (s === null || s === undefined) return "—";
    if (s < 10) return s.toLocaleString("ru-RU", {maximumFractionDigits: 2}) + "\u00a0с";
    if (s < 60) return s.toLocaleString("ru-RU", {maximumFractionDigits: 1}) + "\u00a0с";
    if (s < 3600) return (s / 60).toLocaleString("ru-RU", {maximumFractionDigits: 1}) + "\u00a0мин";
    return (s / 3600).toLocaleString("ru-RU", {maximumFractionDigits: 1}) + "\u00a0ч";
  }
  function empty(container, text) {
    container.textContent = "";
    var div = document.createElement("div");
    div.className = "chart-empty";
    div.textContent = text || "Данных за период пока нет";
    container.appendChild(div);
  }

  /* horizontal bars: rows = [{label, value, note}] */
  function hbars(container, rows, opts) {
    opts = opts || {};
    container.textContent = "";
    var max = Math.max.apply(null, rows.map(function (r) { return r.value; }).concat([0]));
    if (!rows.length || max <= 0) { empty(container); return; }
    var W = Math.max(360, Math.round(container.clientWidth || 640)), labelW = 130, noteW = 110, rowH = 36,
        H = rows.length * rowH + 8;
    var svg = el("svg", {viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "xMinYMin meet"});
    var barMax = W - labelW - noteW - 70;
    rows.forEach(function (r, i) {
      var y = i * rowH + 6, w = Math.max(2, Math.round(barMax * r.value / max));
      svg.appendChild(el("text", {x: 0, y: y + 20}, r.label));
      svg.appendChild(el("rect", {x: labelW, y: y + 4, width: barMax, height: 22, rx: 6, "class": "bar-soft", opacity: 0.35}));
      var bar = el("rect", {x: labelW, y: y + 4, width: w, height: 22, rx: 6, "class": "bar"});
      bar.appendChild(el("title", {}, r.label + ": " + (r.title || r.value)));
      svg.appendChild(bar);
      svg.appendChild(el("text", {x: labelW + barMax + 10, y: y + 20, "font-weight": 600}, r.text !== undefined ? r.text : fmtInt(r.value)));
      if (r.note) svg.appendChild(el("text", {x: W, y: y + 20, "text-anchor": "end", "class": "label-muted"}, r.note));
    });
    container.appendChild(svg);
  }

  /* vertical bars (NPS 0..10), colours by group */
  function vbars(container, values, colours) {
    container.textContent = "";
    var max = Math.max.apply(null, values.concat([0]));
    if (max <= 0) { empty(container, "Оценок за период пока нет"); return; }
    var W = Math.max(360, Math.round(container.clientWidth || 640)), H = 220, pad = 8, gap = 8, n = values.length,
        bw = (W - pad * 2 - gap * (n - 1)) / n;
    var svg = el("svg", {viewBox: "0 0 " + W + " " + H});
    svg.appendChild(el("line", {x1: pad, x2: W - pad, y1: H - 24, y2: H - 24, "class": "axis"}));
    values.forEach(function (v, i) {
      var h = Math.round((H - 60) * v / max), x = pad + i * (bw + gap), y = H - 24 - h;
      var rect = el("rect", {x: x, y: y, width: bw, height: Math.max(h, v ? 2 : 0), rx: 4, fill: colours(i)});
      rect.appendChild(el("title", {}, "Оценка " + i + ": " + v));
      svg.appendChild(rect);
      svg.appendChild(el("text", {x: x + bw / 2, y: H - 8, "text-anchor": "middle", "class": "label-muted"}, String(i)));
      if (v) svg.appendChild(el("text", {x: x + bw / 2, y: y - 6, "text-anchor": "middle", "font-weight": 600}, fmtInt(v)));
    });
    container.appendChild(svg);
  }

  function funnelRows(stages) {
    return stages.map(function (s, i) {
      return {label: s.label, value: s.count,
              note: i === 0 ? "" : fmtPct(s.conversion_from_previous) + " от пред.",
              title: fmtInt(s.count) + " · " + fmtPct(s.conversion_from_start) + " от контактов"};
    });
  }

  function analytics(root) {
    var days = root.getAttribute("data-days") || "30";
    fetch("/api/v1/admin/analytics?days=" + encodeURIComponent(days), {credentials: "same-origin"})
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (data) { draw(data); })
      .catch(function () { document.getElementById("period").textContent = "Не удалось загрузить данные аналитики"; });

    function draw(data) {
      var from = new Date(data.period.from), to = new Date(data.period.to);
      document.getElementById("period").textContent = "С " + from.toLocaleDateString("ru-RU") + " по " + to.toLocaleDateString("ru-RU");
      var stages = data.funnel.stages, contacts = stages[0].count, paid = stages[stages.length - 1].count;
      document.getElementById("kpi-leads").textContent = fmtInt(contacts);
      document.getElementById("kpi-leads-note").textContent = "до оплаты: " + fmtPct(stages[stages.length - 1].conversion_from_start);
      document.getElementById("kpi-reply").textContent = fmtSeconds(data.reply_time.p95);
      document.getElementById("kpi-reply-note").textContent = "медиана " + fmtSeconds(data.reply_time.p50) + " · " + count(data.reply_time.count, "ответ", "ответа", "ответов");
      document.getElementById("kpi-auto").textContent = fmtPct(data.automation.rate);
      document.getElementById("kpi-auto-note").textContent = fmtInt(data.automation.automated) + " из " + count(data.automation.total, "лида", "лидов", "лидов") + " со встречей или оплатой";
      document.getElementById("kpi-nps").textContent = data.nps.score === null ? "—" : data.nps.score.toLocaleString("ru-RU");
      document.getElementById("kpi-nps-note").textContent = count(data.nps.responses, "оценка", "оценки", "оценок");
      document.getElementById("kpi-revenue").textContent = fmtMoney(data.revenue.total);
      document.getElementById("kpi-revenue-note").textContent = count(data.revenue.payments, "оплата", "оплаты", "оплат") + " · " + count(paid, "лид оплатил", "лида оплатили", "лидов оплатили");

      var split = document.getElementById("funnel-split"), chart = document.getElementById("chart-funnel");
      var groups = {all: stages};
      [["by_channel", "Канал: "], ["by_product", "Продукт: "]].forEach(function (pair) {
        Object.keys(data.funnel[pair[0]]).forEach(function (k) {
          var g = data.funnel[pair[0]][k], key = pair[0] + ":" + k;
          groups[key] = g.stages;
          var opt = document.createElement("option");
          opt.value = key; opt.textContent = pair[1] + g.label;
          split.appendChild(opt);
        });
      });
      function drawFunnel() { hbars(chart, funnelRows(groups[split.value] || stages)); }
      split.addEventListener("change", drawFunnel);
      drawFunnel();

      hbars(document.getElementById("chart-channels"), Object.keys(data.funnel.by_channel).map(function (k) {
        var g = data.funnel.by_channel[k], s = g.stages;
        var conv = s[s.length - 2].conversion_from_start || 0;  // reached a booking or further
        return {label: g.label, value: conv, text: fmtPct(conv), note: count(s[0].count, "лид", "лида", "лидов"),
                title: fmtPct(conv) + " лидов дошли до встречи"};
      }));
      vbars(document.getElementById("chart-nps"), data.nps.distribution, function (i) {
        return i >= 9 ? "#12b76a" : (i >= 7 ? "#fdb022" : "#f04438");
      });
      hbars(document.getElementById("chart-revenue"), data.revenue.by_source.map(function (r) {
        return {label: r.label, value: parseFloat(r.amount), text: fmtMoney(r.amount), note: count(r.payments, "оплата", "оплаты", "оплат")};
      }));
    }
  }

  /* the conversation refreshes itself while the page is open */
  function liveChat(list) {
    var busy = false;
    setInterval(function () {
      if (busy || document.hidden) return;
      busy = true;
      fetch(location.pathname, {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) return;
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById("messages");
          if (fresh && fresh.getAttribute("data-count") !== list.getAttribute("data-count")) {
            var atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
            list.innerHTML = fresh.innerHTML;
            list.setAttribute("data-count", fresh.getAttribute("data-count"));
            if (atBottom) list.scrollTop = list.scrollHeight;
          }
        })
        .catch(function () {})
        .then(function () { busy = false; });
    }, 5000);
  }

  /* queue counts refresh themselves: the «Система» table and a queue page's tabs (GET /admin/ops/queues.json) */
  var QUEUE_STATES = ["ready", "delayed", "in_progress", "dead"];
  function queueHref(queue, state) {
    return "/admin/ops/queues/" + encodeURIComponent(queue) + (state ? "?state=" + encodeURIComponent(state) : "");
  }
  function liveQueues(root) {
    var url = root.getAttribute("data-refresh"), busy = false, links = root.getAttribute("data-links") === "yes";
    var status = document.getElementById("queues-status"), changed = document.getElementById("queue-changed");
    var watched = root.getAttribute("data-queue") + ":" + root.getAttribute("data-state");
    var start = root.querySelector('[data-count="' + watched + '"]');
    var initial = start ? start.textContent.trim() : null;

    function setCount(cell, queue, state, n) {
      var text = String(n), old = cell.textContent.trim();
      cell.textContent = "";
      if (links && n && cell.getAttribute("data-plain") !== "yes") {
        var a = document.createElement("a");
        a.href = queueHref(queue, state);
        a.textContent = text;
        cell.appendChild(a);
      } else {
        cell.textContent = text;
      }
      if (state === "dead") cell.classList.toggle("text-danger", n > 0);
      if (old !== text) { cell.classList.remove("count-flash"); void cell.offsetWidth; cell.classList.add("count-flash"); }
    }
    function addRow(q) {
      var body = root.querySelector("tbody"), empty = body.querySelector(".queues-empty");
      if (empty) empty.remove();
      var tr = document.createElement("tr"), name = document.createElement("td");
      tr.setAttribute("data-queue", q.queue);
      name.className = "mono";
      if (links) { var a = document.createElement("a"); a.href = queueHref(q.queue); a.textContent = q.queue; name.appendChild(a); }
      else name.textContent = q.queue;
      tr.appendChild(name);
      QUEUE_STATES.forEach(function (state) {
        var td = document.createElement("td");
        td.className = "num";
        td.setAttribute("data-count", q.queue + ":" + state);
        tr.appendChild(td);
      });
      body.appendChild(tr);
    }
    function apply(data) {
      if (status) status.textContent = data.redis_error ? "Redis недоступен: " + data.redis_error
        : "обновлено в " + new Date().toLocaleTimeString("ru-RU");
      (data.queues || []).forEach(function (q) {
        if (root.tagName === "TABLE" && !root.querySelector('tr[data-queue="' + q.queue + '"]')) addRow(q);
        QUEUE_STATES.forEach(function (state) {
          var cell = root.querySelector('[data-count="' + q.queue + ":" + state + '"]');
          if (cell) setCount(cell, q.queue, state, q[state]);
        });
      });
      if (changed && start && start.textContent.trim() !== initial) changed.hidden = false;
    }
    setInterval(function () {
      if (busy || document.hidden) return;
      busy = true;
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) {
          var json = (r.headers.get("Content-Type") || "").indexOf("json") >= 0;
          return r.ok && json ? r.json() : null;
        })
        .then(function (data) { if (data) apply(data); })
        .catch(function () {})
        .then(function () { busy = false; });
    }, 5000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("tr[data-href]").forEach(function (row) {
      row.addEventListener("click", function (e) {
        if (e.target.closest("a, button, form")) return;
        location.href = row.getAttribute("data-href");
      });
    });
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (e) {
        if (!confirm(form.getAttribute("data-confirm"))) e.preventDefault();
      });
    });
    document.querySelectorAll("form").forEach(function (form) {
      form.addEventListener("submit", function (e) {
        if (e.defaultPrevented) return;
        var btn = form.querySelector("button[type=submit]");
        if (btn) setTimeout(function () { btn.disabled = true; }, 0);
      });
    });
    var chat = document.getElementById("messages");
    if (chat) { chat.scrollTop = chat.scrollHeight; liveChat(chat); }
    var text = document.getElementById("composer-text");
    if (text) text.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); text.form.requestSubmit(); }
    });
    var root = document.getElementById("analytics");
    if (root) analytics(root);
    document.querySelectorAll("[data-refresh]").forEach(liveQueues);
  });
})();

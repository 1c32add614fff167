/* Воронка ИИ — the landing's calculator and brief form. Plain JS, no build step, no framework. */
(function () {
  "use strict";

  var PRODUCT_NAMES = { ai_manager: "ИИ-Менеджер", ai_lawyer: "ИИ-Юрист", ai_analyst: "ИИ-Аналитик" };
  var HOSTING_NAMES = { cloud: "облако", hybrid: "гибрид", onprem: "on-premise" };
  var SLA_NAMES = { standard: "стандарт", "99.5": "99,5%", "99.9": "99,9%" };
  var DEADLINE_NAMES = { standard: "стандартный", lt2w: "до 2 недель", lt1w: "до недели" };
  var SESSION_KEY = "voronka.site.session";
  var money = new Intl.NumberFormat("ru-RU", { maximumFractionDigits: 0 });

  function plural(n, one, few, many) {
    var a = Math.abs(n) % 100, b = a % 10;
    if (a > 10 && a < 20) return many;
    if (b > 1 && b < 5) return few;
    if (b === 1) return one;
    return many;
  }

  function randomId(prefix) {
    var bytes = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return prefix + Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  /* The chat widget owns the site session; the form falls back to the same storage key when it is not there. */
  function sessionId() {
    if (window.VoronkaWidget && window.VoronkaWidget.sessionId) return window.VoronkaWidget.sessionId();
    var id = null;
    try { id = window.localStorage.getItem(SESSION_KEY); } catch (e) { id = null; }
    if (!id) {
      id = randomId("w");
      try { window.localStorage.setItem(SESSION_KEY, id); } catch (e) { /* private mode: a per-page session */ }
    }
    return id;
  }

  function withWidget(fn) {
    if (window.VoronkaWidget) { fn(window.VoronkaWidget); return; }
    window.addEventListener("voronka:ready", function once() {
      window.removeEventListener("voronka:ready", once);
      fn(window.VoronkaWidget);
    });
  }

  function setError(form, field, message) {
    var box = form.querySelector('[data-error-for="' + field + '"]');
    if (box) box.textContent = message || "";
    var input = form.querySelector('[name="' + field + '"]');
    var wrap = input && input.closest(".field");
    if (wrap) wrap.classList.toggle("field--invalid", !!message);
    if (input) {
      if (message) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
    }
  }

  function clearErrors(form) {
    Array.prototype.forEach.call(form.querySelectorAll("[data-error-for]"), function (box) {
      setError(form, box.getAttribute("data-error-for"), "");
    });
  }

  function postJSON(url, body, signal) {
    return fetch(url, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), signal: signal
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { status: response.status, data: data, retryAfter: response.headers.get("Retry-After") };
      });
    });
  }

  function tooMany(retryAfter) {
    var seconds = parseInt(retryAfter || "0", 10);
    return "Слишком много запросов. Попробуйте снова" + (seconds > 0 ? " через " + seconds + " " +
      plural(seconds, "секунду", "секунды", "секунд") : " чуть позже") + ".";
  }

  /* --- calculator ------------------------------------------------------------------------------------------ */

  function initCalculator(root) {
    var form = root.querySelector("form");
    var status = root.querySelector("[data-calc-status]");
    var packagesBox = root.querySelector("[data-packages]");
    var users = form.elements.users;
    var usersRange = root.querySelector("[data-users-range]");
    var integrations = form.elements.integrations;
    var timer = null, controller = null, seq = 0;

    function readInt(input) {
      var raw = String(input.value).trim();
      if (raw === "") return null;
      var n = Number(raw);
      return isFinite(n) ? n : raw;
    }

    function brief() {
      return {
        product: form.elements.product.value, users: readInt(users), integrations: readInt(integrations),
        hosting: form.elements.hosting.value, sla: form.elements.sla.value, deadline: form.elements.deadline.value
      };
    }

    function render(result) {
      result.packages.forEach(function (p) {
        var card = packagesBox.querySelector('[data-package="' + p.code + '"]');
        if (!card) return;
        card.querySelector("[data-price]").textContent = money.format(p.price) + "\u00a0₽";
        card.setAttribute("data-price-value", String(p.price));
        var list = card.querySelector("[data-includes]");
        list.textContent = "";
        p.includes.forEach(function (line) {
          var li = document.createElement("li");
          li.textContent = line;
          list.appendChild(li);
        });
      });
    }

    function setStatus(text, isError) {
      status.textContent = text || "";
      status.classList.toggle("calc__status--error", !!isError);
    }

    function calculate() {
      var mine = ++seq;
      if (controller) controller.abort();
      controller = window.AbortController ? new AbortController() : null;
      packagesBox.classList.add("packages--loading");
      postJSON("/api/v1/quote", brief(), controller && controller.signal).then(function (res) {
        if (mine !== seq) return;
        packagesBox.classList.remove("packages--loading");
        clearErrors(form);
        if (res.status === 200) {
          setStatus("");
          render(res.data);
        } else if (res.status === 422 && res.data.error) {
          var field = res.data.error.field;
          if (field && form.querySelector('[data-error-for="' + field + '"]')) {
            setError(form, field, res.data.error.message);
            setStatus("");
          } else {
            setStatus(res.data.error.message, true);
          }
        } else if (res.status === 429) {
          setStatus(tooMany(res.retryAfter), true);
        } else {
          setStatus("Не удалось рассчитать стоимость. Попробуйте ещё раз через минуту.", true);
        }
      }).catch(function (err) {
        if (err && err.name === "AbortError") return;
        if (mine !== seq) return;
        packagesBox.classList.remove("packages--loading");
        setStatus("Нет связи с сервером. Проверьте интернет — пересчитаем, как только вы измените параметры.", true);
      });
    }

    function schedule() {
      if (timer) clearTimeout(timer);
      timer = setTimeout(calculate, 300);
    }

    form.addEventListener("input", function (event) {
      if (event.target === usersRange) users.value = usersRange.value;
      if (event.target === users) {
        var n = parseInt(users.value, 10);
        if (n > 0) usersRange.value = String(Math.min(n, Number(usersRange.max)));
      }
      schedule();
    });
    form.addEventListener("change", schedule);
    form.addEventListener("submit", function (event) { event.preventDefault(); calculate(); });
    Array.prototype.forEach.call(root.querySelectorAll("[data-step]"), function (button) {
      button.addEventListener("click", function () {
        var current = parseInt(integrations.value, 10) || 0;
        integrations.value = String(Math.max(0, current + Number(button.getAttribute("data-step"))));
        schedule();
      });
    });

    Array.prototype.forEach.call(document.querySelectorAll("[data-pick-product]"), function (link) {
      link.addEventListener("click", function () {
        var radio = form.querySelector('input[name="product"][value="' + link.getAttribute("data-pick-product") + '"]');
        if (radio) { radio.checked = true; schedule(); }
      });
    });

    root.querySelector("[data-get-proposal]").addEventListener("click", function () {
      var b = brief();
      var usersN = typeof b.users === "number" ? b.users : 0;
      var integrationsN = typeof b.integrations === "number" ? b.integrations : 0;
      // A price request with every parameter (a message naming «КП» is read as a document request and its numbers are
      // dropped by the NLU): the assistant quotes at once, and the КП PDF is one step away in the chat.
      var text = "Рассчитайте стоимость: " + PRODUCT_NAMES[b.product] +
        (usersN ? ", " + usersN + " " + plural(usersN, "пользователь", "пользователя", "пользователей") : "") +
        ", " + integrationsN + " " + plural(integrationsN, "интеграция", "интеграции", "интеграций") +
        ", размещение: " + HOSTING_NAMES[b.hosting] + ", SLA: " + SLA_NAMES[b.sla] +
        ", срок: " + DEADLINE_NAMES[b.deadline] + ".";
      withWidget(function (widget) { widget.open(); widget.send(text); });
    });

    calculate();
  }

  /* --- brief form ------------------------------------------------------------------------------------------ */

  var EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

  function initLeadForm(form) {
    var status = form.querySelector("[data-form-status]");
    var done = form.querySelector("[data-form-done]");
    var submit = form.querySelector('button[type="submit"]');
    var submissionId = randomId("f");

    function value(name) { return String(form.elements[name].value || "").trim(); }

    function localErrors() {
      var errors = {};
      if (!value("name")) errors.name = "Укажите имя";
      var phone = value("phone"), email = value("email");
      if (!phone && !email) errors.phone = "Укажите телефон или e-mail, чтобы мы могли ответить";
      if (phone && phone.replace(/\D/g, "").length < 10) errors.phone = "Проверьте номер телефона: например, +7 915 123-45-67";
      if (email && !EMAIL_RE.test(email)) errors.email = "Проверьте e-mail: например, name@company.ru";
      if (!form.elements.consent.checked) errors.consent = "Нужно согласие на обработку персональных данных";
      return errors;
    }

    function setStatus(text, isError) {
      status.textContent = text || "";
      status.classList.toggle("lead-form__status--error", !!isError);
    }

    form.addEventListener("input", function (event) {
      if (event.target.name) setError(form, event.target.name, "");
      if (event.target.name === "email" || event.target.name === "phone") setError(form, "phone", "");
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      clearErrors(form);
      setStatus("");
      var errors = localErrors();
      var fields = Object.keys(errors);
      if (fields.length) {
        fields.forEach(function (f) { setError(form, f, errors[f]); });
        var first = form.elements[fields[0]];
        if (first && first.focus) first.focus();
        return;
      }
      submit.disabled = true;
      submit.textContent = "Отправляем…";
      postJSON("/api/v1/site/leads", {
        session_id: sessionId(), name: value("name"), phone: value("phone"), email: value("email"),
        company: value("company"), product: value("product"), comment: value("comment"),
        consent: form.elements.consent.checked, client_message_id: submissionId
      }).then(function (res) {
        if (res.status === 202) {
          form.querySelector("[data-form-thanks]").textContent = res.data.message;
          done.hidden = false;
          submissionId = randomId("f");
          withWidget(function (widget) { if (widget.refresh) widget.refresh(); });
          return;
        }
        if (res.status === 422 && res.data.error && res.data.error.field &&
            form.querySelector('[data-error-for="' + res.data.error.field + '"]')) {
          setError(form, res.data.error.field, res.data.error.message);
        } else if (res.status === 429) {
          setStatus(tooMany(res.retryAfter), true);
        } else {
          setStatus((res.data.error && res.data.error.message) ||
            "Не удалось отправить заявку. Попробуйте ещё раз или позвоните нам.", true);
        }
      }).catch(function () {
        setStatus("Нет связи с сервером. Проверьте интернет и отправьте заявку ещё раз.", true);
      }).then(function () {
        submit.disabled = false;
        submit.textContent = "Отправить заявку";
      });
    });
  }

  function init() {
    var calc = document.querySelector("[data-calculator]");
    if (calc) initCalculator(calc);
    var leadForm = document.querySelector("[data-lead-form]");
    if (leadForm) initLeadForm(leadForm);
    Array.prototype.forEach.call(document.querySelectorAll("[data-open-chat]"), function (button) {
      button.addEventListener("click", function () { withWidget(function (widget) { widget.open(); }); });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();

/* Воронка ИИ — the site chat widget. Plain JS, no build step, no framework.
 *
 * Embed on any site with one tag:  <script src="https://HOST/static/widget.js" data-api="https://HOST" defer></script>
 * (data-api may be omitted: the script's own origin is used). The widget builds its own DOM in a shadow root with
 * its own styles, keeps the visitor's session id in localStorage, sends messages with POST /api/v1/site/messages and
 * receives replies through the long-poll GET (wait=20, after=<last id>).
 *
 * window.VoronkaWidget = { open(), close(), toggle(), send(text), sessionId(), refresh() }; "voronka:ready" fires on
 * window once it exists.
 */
(function () {
  "use strict";
  if (window.VoronkaWidget) return;

  var SESSION_KEY = "voronka.site.session";
  var WAIT_SECONDS = 20;
  var TYPING_TIMEOUT_MS = 45000;
  var SLOW_NOTICE = "Ассистент отвечает дольше обычного — ответ появится здесь, как только будет готов.";
  var WELCOME = "Здравствуйте! Я ИИ-ассистент агентства «Воронка ИИ». Подскажу, какой ассистент подойдёт вашему " +
    "бизнесу, рассчитаю стоимость и пришлю КП.";
  var SUGGESTIONS = ["Сколько стоит ИИ-Менеджер?", "Как проходит бесплатный пилот?", "Нужен ИИ-Юрист для договоров"];

  var script = document.currentScript || (function () {
    var all = document.getElementsByTagName("script");
    for (var i = all.length - 1; i >= 0; i--) if (/widget\.js(\?|$)/.test(all[i].src)) return all[i];
    return null;
  })();

  function originOf(url) {
    try { return new URL(url, window.location.href).origin; } catch (e) { return window.location.origin; }
  }

  var API = ((script && script.getAttribute("data-api")) || (script && script.src ? originOf(script.src) : "") ||
    window.location.origin).replace(/\/+$/, "");

  var config = { telegram_bot: (script && script.getAttribute("data-telegram")) || null, max_message_length: 4000 };

  /* --- session ------------------------------------------------------------------------------------------------ */

  function randomHex(bytes) {
    var a = new Uint8Array(bytes);
    window.crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  var memorySession = null;
  function sessionId() {
    var id = null;
    try { id = window.localStorage.getItem(SESSION_KEY); } catch (e) { id = memorySession; }
    if (!id || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
      id = "w" + randomHex(12);
      try { window.localStorage.setItem(SESSION_KEY, id); } catch (e) { memorySession = id; }
    }
    return id;
  }

  function plural(n, one, few, many) {
    var a = Math.abs(n) % 100, b = a % 10;
    if (a > 10 && a < 20) return many;
    if (b > 1 && b < 5) return few;
    if (b === 1) return one;
    return many;
  }

  /* --- styles (scoped to the shadow root) --------------------------------------------------------------------- */

  var CSS = [
    ":host{all:initial;position:fixed;z-index:2147483000;right:24px;bottom:24px;font-family:Inter,system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;",
    "font-size:15px;line-height:1.45;color:#0d1330;-webkit-font-smoothing:antialiased}",
    "*{box-sizing:border-box}[hidden]{display:none!important}",
    "button{font:inherit}",
    ".fab{position:relative;width:60px;height:60px;border:0;border-radius:50%;cursor:pointer;display:grid;place-items:center;",
    "background:linear-gradient(135deg,#4f46e5,#7c3aed);box-shadow:0 12px 30px rgba(79,70,229,.45);transition:transform .2s ease}",
    ".fab:hover{transform:scale(1.06)}.fab:focus-visible{outline:3px solid rgba(79,70,229,.5);outline-offset:3px}",
    ".fab svg{width:28px;height:28px}",
    ".badge{position:absolute;top:-2px;right:-2px;min-width:20px;height:20px;padding:0 6px;border-radius:10px;background:#ef4444;",
    "color:#fff;font-size:12px;font-weight:700;display:grid;place-items:center;border:2px solid #fff}",
    ".panel{position:absolute;right:0;bottom:76px;width:380px;height:min(620px,calc(100vh - 120px));background:#fff;",
    "border-radius:20px;box-shadow:0 24px 70px rgba(13,19,48,.28),0 2px 8px rgba(13,19,48,.08);display:flex;flex-direction:column;",
    "overflow:hidden;transform-origin:bottom right;animation:pop .18s ease-out}",
    "@keyframes pop{from{opacity:0;transform:translateY(8px) scale(.98)}to{opacity:1;transform:none}}",
    ".head{display:flex;align-items:center;gap:12px;padding:16px 16px 16px 18px;color:#fff;",
    "background:radial-gradient(420px 160px at 100% 0,#6d5cf6 0,rgba(109,92,246,0) 70%),#0d1330}",
    ".avatar{width:40px;height:40px;border-radius:12px;flex:none;display:grid;place-items:center;background:linear-gradient(135deg,#4f46e5,#7c3aed)}",
    ".avatar svg{width:22px;height:22px}",
    ".title{flex:1;min-width:0}.title b{display:block;font-size:15.5px;font-weight:700;letter-spacing:-.01em}",
    ".title span{display:flex;align-items:center;gap:6px;font-size:12.5px;color:#b8bdd6}",
    ".title span::before{content:'';width:7px;height:7px;border-radius:50%;background:#34d399}",
    ".close{width:34px;height:34px;border:0;border-radius:10px;background:rgba(255,255,255,.1);color:#fff;cursor:pointer;",
    "display:grid;place-items:center}.close:hover{background:rgba(255,255,255,.2)}.close svg{width:16px;height:16px}",
    ".banner{display:none;padding:8px 14px;font-size:13px;background:#fff7e6;color:#8a5a00;border-bottom:1px solid #f5e3bd}",
    ".banner.on{display:block}",
    ".log{flex:1;overflow-y:auto;padding:18px 14px 8px;background:#f5f6fb;display:flex;flex-direction:column;gap:8px;",
    "scroll-behavior:smooth}",
    ".msg{display:flex;flex-direction:column;max-width:86%;gap:6px}",
    ".msg.client{align-self:flex-end;align-items:flex-end}",
    ".who{font-size:11.5px;color:#5d6682;margin:0 4px;font-weight:600}",
    ".bubble{padding:10px 13px;border-radius:16px;white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word}",
    ".assistant .bubble,.manager .bubble,.local .bubble{background:#fff;border:1px solid #e3e6f0;border-bottom-left-radius:6px}",
    ".manager .bubble{border-color:#c7d2fe;background:#eef0ff}",
    ".client .bubble{background:linear-gradient(135deg,#4f46e5,#6d4aea);color:#fff;border-bottom-right-radius:6px}",
    ".bubble a{color:inherit;text-decoration:underline;text-underline-offset:2px}",
    ".state{font-size:12px;color:#5d6682;margin:0 4px}",
    ".state.failed{color:#d92d20}.state button{border:0;background:none;color:#4f46e5;font-weight:600;cursor:pointer;padding:0;margin-left:4px;font-size:12px}",
    ".buttons{display:flex;flex-wrap:wrap;gap:6px}",
    ".choice{border:1.5px solid #c7d2fe;background:#fff;color:#4338ca;border-radius:999px;padding:7px 12px;font-size:13.5px;",
    "font-weight:600;cursor:pointer;transition:background .15s,border-color .15s;text-align:left}",
    ".choice:hover:not(:disabled){background:#eef0ff;border-color:#818cf8}",
    ".choice:disabled{opacity:.5;cursor:default}.choice.chosen{opacity:1;background:#4f46e5;border-color:#4f46e5;color:#fff}",
    ".file{display:flex;align-items:center;gap:10px;padding:10px 12px;border-radius:14px;background:#fff;border:1px solid #e3e6f0;",
    "color:#0d1330;text-decoration:none;font-size:14px;font-weight:600}.file:hover{border-color:#818cf8}",
    ".file i{flex:none;width:34px;height:40px;border-radius:6px;background:#fee4e2;color:#b42318;font-style:normal;font-size:10px;",
    "font-weight:800;display:grid;place-items:center}.file small{display:block;font-weight:400;color:#5d6682;font-size:12px}",
    ".typing{align-self:flex-start;background:#fff;border:1px solid #e3e6f0;border-radius:16px;border-bottom-left-radius:6px;",
    "padding:12px 14px;display:none;gap:4px}.typing.on{display:flex}",
    ".typing span{width:7px;height:7px;border-radius:50%;background:#9aa1bd;animation:blink 1.2s infinite ease-in-out}",
    ".typing span:nth-child(2){animation-delay:.15s}.typing span:nth-child(3){animation-delay:.3s}",
    "@keyframes blink{0%,80%,100%{opacity:.3;transform:translateY(0)}40%{opacity:1;transform:translateY(-3px)}}",
    ".note{align-self:center;text-align:center;font-size:12.5px;color:#5d6682;padding:4px 10px;max-width:92%}",
    ".suggest{display:flex;flex-wrap:wrap;gap:6px;margin-top:2px}",
    ".foot{border-top:1px solid #e3e6f0;padding:10px 12px 12px;background:#fff}",
    ".row{display:flex;gap:8px;align-items:flex-end}",
    "textarea{flex:1;resize:none;border:1.5px solid #e3e6f0;border-radius:14px;padding:10px 12px;font:inherit;color:#0d1330;",
    "max-height:120px;min-height:44px;line-height:1.4;outline:none;background:#fff}",
    "textarea:focus{border-color:#4f46e5;box-shadow:0 0 0 3px rgba(79,70,229,.15)}",
    ".send{flex:none;width:44px;height:44px;border:0;border-radius:14px;cursor:pointer;display:grid;place-items:center;",
    "background:linear-gradient(135deg,#4f46e5,#7c3aed)}.send:disabled{opacity:.45;cursor:default}.send svg{width:20px;height:20px}",
    ".meta{display:flex;justify-content:space-between;align-items:center;gap:8px;margin-top:6px;font-size:12px;color:#5d6682;min-height:16px}",
    ".count.over{color:#d92d20;font-weight:600}.err{color:#d92d20}",
    ".tg{color:#229ed9;font-weight:600;text-decoration:none;white-space:nowrap}.tg:hover{text-decoration:underline}",
    "@media (max-width:480px){:host{right:16px;bottom:16px}",
    ".panel{position:fixed;inset:0;width:auto;height:auto;border-radius:0;bottom:0}.fab.is-open{display:none}}"
  ].join("");

  var ICON_CHAT = '<svg viewBox="0 0 24 24" fill="none" stroke="#fff" stroke-width="2" stroke-linecap="round" ' +
    'stroke-linejoin="round"><path d="M4 5.5h16a1.5 1.5 0 0 1 1.5 1.5v9a1.5 1.5 0 0 1-1.5 1.5H10l-5 4v-4H4A1.5 1.5 0 0 1 ' +
    '2.5 16V7A1.5 1.5 0 0 1 4 5.5z"/><path d="M7.5 11.5h.01M12 11.5h.01M16.5 11.5h.01"/></svg>';
  var ICON_CLOSE = '<svg viewBox="0 0 16 16" fill="none" stroke="#fff" stroke-width="2" stroke-linecap="round">' +
    '<path d="M3 3l10 10M13 3L3 13"/></svg>';
  var ICON_SEND = '<svg viewBox="0 0 20 20" fill="none" stroke="#fff" stroke-width="2" stroke-linecap="round" ' +
    'stroke-linejoin="round"><path d="M3 10h13M11 4.5l5.5 5.5-5.5 5.5"/></svg>';
  var ICON_BOT = '<svg viewBox="0 0 24 24" fill="none" stroke="#fff" stroke-width="2" stroke-linecap="round" ' +
    'stroke-linejoin="round"><rect x="4" y="7" width="16" height="12" rx="4"/><path d="M12 3v4M9 13h.01M15 13h.01"/></svg>';

  /* --- DOM ---------------------------------------------------------------------------------------------------- */

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  }

  var URL_RE = /(https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]»])/g;
  function fillText(node, text) {
    var last = 0, match;
    URL_RE.lastIndex = 0;
    while ((match = URL_RE.exec(text)) !== null) {
      if (match.index > last) node.appendChild(document.createTextNode(text.slice(last, match.index)));
      var a = el("a", null, match[0]);
      a.href = match[0];
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      node.appendChild(a);
      last = match.index + match[0].length;
    }
    if (last < text.length) node.appendChild(document.createTextNode(text.slice(last)));
  }

  var host = el("div");
  host.id = "voronka-chat-widget";
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  if (root.adoptedStyleSheets !== undefined && window.CSSStyleSheet && CSSStyleSheet.prototype.replaceSync) {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } else {
    root.appendChild(el("style", null, CSS));
  }

  var fab = el("button", "fab");
  fab.type = "button";
  fab.setAttribute("aria-label", "Открыть чат с ассистентом");
  fab.setAttribute("data-testid", "chat-open");
  fab.innerHTML = ICON_CHAT;
  var badge = el("span", "badge");
  badge.hidden = true;
  fab.appendChild(badge);

  var panel = el("section", "panel");
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", "Чат с ассистентом «Воронки ИИ»");

  var head = el("div", "head");
  var avatar = el("div", "avatar");
  avatar.innerHTML = ICON_BOT;
  var title = el("div", "title");
  title.appendChild(el("b", null, "Ассистент «Воронки ИИ»"));
  title.appendChild(el("span", null, "Онлайн · отвечает за секунды"));
  var closeBtn = el("button", "close");
  closeBtn.type = "button";
  closeBtn.setAttribute("aria-label", "Свернуть чат");
  closeBtn.innerHTML = ICON_CLOSE;
  head.appendChild(avatar);
  head.appendChild(title);
  head.appendChild(closeBtn);

  var banner = el("div", "banner");
  banner.setAttribute("role", "status");
  var log = el("div", "log");
  log.setAttribute("aria-live", "polite");
  var typing = el("div", "typing");
  typing.setAttribute("aria-label", "Ассистент печатает");
  typing.appendChild(el("span"));
  typing.appendChild(el("span"));
  typing.appendChild(el("span"));

  var foot = el("div", "foot");
  var row = el("div", "row");
  var input = el("textarea");
  input.rows = 1;
  input.placeholder = "Напишите сообщение…";
  input.setAttribute("aria-label", "Сообщение");
  var sendBtn = el("button", "send");
  sendBtn.type = "button";
  sendBtn.setAttribute("aria-label", "Отправить");
  sendBtn.innerHTML = ICON_SEND;
  sendBtn.disabled = true;
  row.appendChild(input);
  row.appendChild(sendBtn);
  var meta = el("div", "meta");
  var metaLeft = el("span", "count");
  var tgLink = el("a", "tg", "Продолжить в Telegram");
  tgLink.target = "_blank";
  tgLink.rel = "noopener";
  tgLink.hidden = true;
  meta.appendChild(metaLeft);
  meta.appendChild(tgLink);
  foot.appendChild(row);
  foot.appendChild(meta);

  panel.appendChild(head);
  panel.appendChild(banner);
  panel.appendChild(log);
  panel.appendChild(foot);
  root.appendChild(panel);
  root.appendChild(fab);

  /* --- state -------------------------------------------------------------------------------------------------- */

  var lastId = 0;
  var seen = {};          // server message id → true
  var pending = [];       // optimistic client bubbles waiting for their server id: {text, node}
  var unread = 0;
  var isOpen = false;
  var polling = false;
  var pollController = null;
  var backoff = 0;
  var typingTimer = null;
  var welcomeShown = false;
  var historyLoaded = false;

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function setBanner(text) {
    banner.textContent = text || "";
    banner.className = text ? "banner on" : "banner";
  }

  function showTyping(on) {
    if (typingTimer) { clearTimeout(typingTimer); typingTimer = null; }
    typing.className = on ? "typing on" : "typing";
    if (on) {
      log.appendChild(typing);
      scrollDown();
      typingTimer = setTimeout(function () {
        typing.className = "typing";
        addNote(SLOW_NOTICE);
      }, TYPING_TIMEOUT_MS);
    }
  }

  function append(node) {
    if (typing.parentNode === log) log.insertBefore(node, typing); else log.appendChild(node);
    scrollDown();
  }

  function addNote(text) { append(el("div", "note", text)); }

  function updateBadge() {
    badge.hidden = unread === 0;
    badge.textContent = unread > 9 ? "9+" : String(unread);
  }

  function clientBubble(text) {
    var box = el("div", "msg client");
    var bubble = el("div", "bubble");
    fillText(bubble, text);
    box.appendChild(bubble);
    append(box);
    return box;
  }

  function setState(box, text, failed, retry) {
    var state = box.querySelector(".state");
    if (!state) { state = el("div", "state"); box.appendChild(state); }
    state.textContent = text || "";
    state.className = failed ? "state failed" : "state";
    if (retry) {
      var again = el("button", null, "Повторить");
      again.type = "button";
      again.addEventListener("click", retry);
      state.appendChild(again);
    }
    if (!text) state.parentNode.removeChild(state);
  }

  function attachmentLink(att) {
    var a = el("a", "file");
    a.href = new URL(att.url, API + "/").href;
    a.target = "_blank";
    a.rel = "noopener";
    var isPdf = /pdf/i.test(att.kind || "") || /\.pdf(\?|$)/i.test(att.name || att.url || "");
    if (isPdf) a.setAttribute("download", att.name || "");
    a.appendChild(el("i", null, isPdf ? "PDF" : "ФАЙЛ"));
    var label = el("span", null, att.name || "Документ");
    label.appendChild(el("small", null, isPdf ? "Скачать PDF" : "Открыть"));
    a.appendChild(label);
    return a;
  }

  function renderServerMessage(m) {
    if (m.id > lastId) lastId = m.id;
    if (seen[m.id]) return;
    seen[m.id] = true;
    if (m.role === "client") {
      for (var i = 0; i < pending.length; i++) {
        if (pending[i].id === m.id || (!pending[i].id && (pending[i].text === m.text || pending[i].shown === m.text))) {
          pending[i].id = m.id;
          return;
        }
      }
      if (!m.text) return;  // a button press we did not draw (another tab): nothing to show
      var own = clientBubble(m.text);
      own.setAttribute("data-id", String(m.id));
      return;
    }
    var box = el("div", "msg " + (m.role === "manager" ? "manager" : "assistant"));
    box.setAttribute("data-id", String(m.id));
    if (m.role === "manager") box.appendChild(el("div", "who", "Менеджер"));
    if (m.text) {
      var bubble = el("div", "bubble");
      fillText(bubble, m.text);
      box.appendChild(bubble);
    }
    (m.attachments || []).forEach(function (att) { if (att && att.url) box.appendChild(attachmentLink(att)); });
    if (m.buttons && m.buttons.length) {
      var buttons = el("div", "buttons");
      m.buttons.forEach(function (b) {
        var choice = el("button", "choice", b.text);
        choice.type = "button";
        choice.addEventListener("click", function () {
          Array.prototype.forEach.call(buttons.querySelectorAll("button"), function (x) { x.disabled = true; });
          choice.classList.add("chosen");
          postMessage({ callback: b.callback }, b.text);
        });
        buttons.appendChild(choice);
      });
      box.appendChild(buttons);
    }
    append(box);
    showTyping(false);
    if (!isOpen && historyLoaded) { unread += 1; updateBadge(); }
  }

  /* --- network ------------------------------------------------------------------------------------------------ */

  function request(method, path, body, signal) {
    var init = { method: method, headers: { Accept: "application/json" }, signal: signal, credentials: "omit" };
    if (body) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    return fetch(API + path, init).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { status: response.status, data: data, retryAfter: response.headers.get("Retry-After") };
      });
    });
  }

  function retryText(retryAfter) {
    var s = parseInt(retryAfter || "0", 10);
    return s > 0 ? " через " + s + " " + plural(s, "секунду", "секунды", "секунд") : " чуть позже";
  }

  function postMessage(fields, shownText) {
    var box = clientBubble(shownText);
    var entry = { text: fields.text != null ? fields.text : "", shown: shownText, node: box, id: null };
    pending.push(entry);
    var body = { session_id: sessionId(), client_message_id: "c" + randomHex(10) };
    for (var k in fields) if (Object.prototype.hasOwnProperty.call(fields, k)) body[k] = fields[k];

    function attempt() {
      setState(box, "Отправляется…");
      request("POST", "/api/v1/site/messages", body).then(function (res) {
        if (res.status === 202) {
          setState(box, "");
          entry.id = res.data.message_id;
          if (seen[entry.id] === undefined) seen[entry.id] = true;
          showTyping(true);
          startPolling();
          return;
        }
        if (res.status === 429) {
          setState(box, "Слишком много сообщений. Повторите" + retryText(res.retryAfter) + ".", true, attempt);
        } else if (res.data && res.data.error) {
          setState(box, res.data.error.message, true, res.status >= 500 ? attempt : null);
        } else {
          setState(box, "Не отправлено: ошибка сервера.", true, attempt);
        }
      }).catch(function () {
        setState(box, "Не отправлено: нет связи.", true, attempt);
      });
    }
    attempt();
  }

  function poll() {
    if (!polling) return;
    pollController = window.AbortController ? new AbortController() : null;
    var wait = historyLoaded ? WAIT_SECONDS : 0;
    var path = "/api/v1/site/messages?session_id=" + encodeURIComponent(sessionId()) + "&after=" + lastId +
      "&wait=" + wait;
    request("GET", path, null, pollController && pollController.signal).then(function (res) {
      if (res.status === 200) {
        backoff = 0;
        setBanner("");
        (res.data.messages || []).forEach(renderServerMessage);
        if (!historyLoaded) {
          historyLoaded = true;
          if (!(res.data.messages || []).length && isOpen) showWelcome();
        }
        setTimeout(poll, 50);
        return;
      }
      var delay = res.status === 429 ? (parseInt(res.retryAfter || "5", 10) || 5) * 1000 : nextBackoff();
      if (res.status === 429) setBanner("Слишком много запросов — продолжим" + retryText(res.retryAfter) + ".");
      else setBanner("Сервер временно недоступен. Переподключаемся…");
      setTimeout(poll, delay);
    }).catch(function (err) {
      if (err && err.name === "AbortError") return;
      setBanner("Нет связи. Переподключаемся…");
      setTimeout(poll, nextBackoff());
    });
  }

  function nextBackoff() {
    backoff = Math.min(backoff ? backoff * 2 : 2000, 30000);
    return backoff;
  }

  function startPolling() {
    if (polling) return;
    polling = true;
    poll();
  }

  function refresh() {
    if (pollController) pollController.abort();
    polling = false;
    startPolling();
  }

  function loadConfig() {
    request("GET", "/api/v1/site/widget-config").then(function (res) {
      if (res.status !== 200) return;
      if (res.data.max_message_length) config.max_message_length = res.data.max_message_length;
      if (res.data.telegram_bot) config.telegram_bot = res.data.telegram_bot;
      updateTelegram();
      updateCounter();
    }).catch(function () { /* the defaults stay: no Telegram link, 4000 characters */ });
  }

  function updateTelegram() {
    if (!config.telegram_bot) { tgLink.hidden = true; return; }
    tgLink.href = "https://t.me/" + encodeURIComponent(config.telegram_bot) + "?start=site_" + sessionId();
    tgLink.hidden = false;
  }

  /* --- UI ----------------------------------------------------------------------------------------------------- */

  function showWelcome() {
    if (welcomeShown || log.querySelector(".msg")) return;
    welcomeShown = true;
    var box = el("div", "msg local");
    var bubble = el("div", "bubble", WELCOME);
    box.appendChild(bubble);
    var suggest = el("div", "suggest");
    SUGGESTIONS.forEach(function (text) {
      var chip = el("button", "choice", text);
      chip.type = "button";
      chip.addEventListener("click", function () {
        if (suggest.parentNode) suggest.parentNode.removeChild(suggest);
        send(text);
      });
      suggest.appendChild(chip);
    });
    box.appendChild(suggest);
    append(box);
  }

  function updateCounter() {
    var len = input.value.length, max = config.max_message_length;
    if (len > max) {
      metaLeft.textContent = "Слишком длинно: " + len + " / " + max + " символов";
      metaLeft.className = "count over";
    } else if (len > max * 0.8) {
      metaLeft.textContent = len + " / " + max;
      metaLeft.className = "count";
    } else {
      metaLeft.textContent = "";
      metaLeft.className = "count";
    }
    sendBtn.disabled = !input.value.trim() || len > max;
  }

  function autosize() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 120) + "px";
  }

  function send(text) {
    text = String(text || "").trim();
    if (!text) return;
    if (text.length > config.max_message_length) {
      metaLeft.textContent = "Сообщение длиннее " + config.max_message_length + " символов — сократите его или разбейте на несколько.";
      metaLeft.className = "count over";
      return;
    }
    var suggest = log.querySelector(".suggest");
    if (suggest) suggest.parentNode.removeChild(suggest);
    postMessage({ text: text }, text);
  }

  function open() {
    if (isOpen) return;
    isOpen = true;
    panel.hidden = false;
    fab.classList.add("is-open");
    fab.setAttribute("aria-label", "Свернуть чат");
    fab.innerHTML = ICON_CLOSE.replace('viewBox="0 0 16 16"', 'viewBox="-2 -2 20 20"');
    unread = 0;
    updateBadge();
    if (historyLoaded) showWelcome(); else startPolling();
    setTimeout(function () { input.focus(); scrollDown(); }, 30);
  }

  function close() {
    if (!isOpen) return;
    isOpen = false;
    panel.hidden = true;
    fab.classList.remove("is-open");
    fab.setAttribute("aria-label", "Открыть чат с ассистентом");
    fab.innerHTML = ICON_CHAT;
    fab.appendChild(badge);
    fab.focus();
  }

  fab.addEventListener("click", function () { if (isOpen) close(); else open(); });
  closeBtn.addEventListener("click", close);
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") close(); });
  input.addEventListener("input", function () { updateCounter(); autosize(); });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      if (!sendBtn.disabled) { send(input.value); input.value = ""; updateCounter(); autosize(); }
    }
  });
  sendBtn.addEventListener("click", function () {
    send(input.value);
    input.value = "";
    updateCounter();
    autosize();
    input.focus();
  });

  function mount() {
    var had = false;
    try { had = !!window.localStorage.getItem(SESSION_KEY); } catch (e) { had = false; }
    document.body.appendChild(host);
    updateTelegram();
    loadConfig();
    if (had) startPolling();  // a returning visitor: load the conversation and listen for replies
    window.VoronkaWidget = {
      open: open, close: close, toggle: function () { if (isOpen) close(); else open(); },
      send: send, sessionId: sessionId, refresh: refresh
    };
    var ready;
    try { ready = new CustomEvent("voronka:ready"); } catch (e) {
      ready = document.createEvent("Event");
      ready.initEvent("voronka:ready", false, false);
    }
    window.dispatchEvent(ready);
  }

  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();

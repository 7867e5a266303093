/* Greenlight sandbox chat page: act as any demo person against the Bot API emulator.
 *
 * Plain browser JavaScript, no build step, nothing from the network. It talks to:
 *   /sandbox/info, /sandbox/overview, /sandbox/press, /sandbox/file/<id>,
 *   /sandbox/advance, /sandbox/sweep             (routes the sandbox runner adds)
 *   /_control/chat, /_control/send_text, /_control/send_photo,
 *   /_control/send_document                      (the emulator's control API)
 */
"use strict";

const POLL_MS = 1000;
const FAST_POLL_MS = 200; // for a moment after the visitor acts: the bot answers quickly
const FAST_FOR_MS = 3000;
const PHOTO_MIME = /^image\/(png|jpeg|gif|webp|bmp)$/;
const NAME_COLOURS = ["#e17076", "#7bc862", "#e5a64e", "#65aadd", "#a695e7", "#ee7aae", "#6ec9cb"];

const state = {
  info: null,
  runId: "",
  me: null, // acting user id
  chatId: null,
  overview: null,
  messages: [],
  chatJson: "",
  overviewJson: "",
  replyTo: null, // message object
  autoReplied: new Set(), // force-reply prompts already taken up
  openedAt: 0, // the newest message id when the chat was opened
  seen: {},
  busy: false,
  clockHistory: [],
  timezone: "Asia/Shanghai",
  failures: 0,
  fastUntil: 0,
};

const $ = (id) => document.getElementById(id);

// ----------------------------------------------------------------------------- HTTP

async function http(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch (error) {
    throw new Error(`沙盒没有响应（已停止？） · sandbox unreachable: ${error.message}`);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (error) {
    data = null;
  }
  if (!response.ok) {
    const message = (data && (data.error || data.description)) || text || response.statusText;
    throw new Error(`${response.status}: ${message}`);
  }
  return data;
}

const get = (path) => http("GET", path);
const post = (path, body) => http("POST", path, body || {});
const control = (action, body) => post(`/_control/${action}`, body);

// ----------------------------------------------------------------------------- toasts and modal

function toast(text, kind) {
  const box = document.createElement("div");
  box.className = `toast ${kind || ""}`;
  box.textContent = text;
  box.addEventListener("click", () => box.remove());
  $("toasts").appendChild(box);
  setTimeout(() => box.remove(), kind === "error" ? 9000 : 4500);
}

function showError(error) {
  toast(`⚠️ ${error.message || error}`, "error");
}

function modal(title, text) {
  $("modal-title").textContent = title || "";
  $("modal-text").textContent = text || "";
  $("modal").classList.remove("hidden");
  $("modal-ok").focus();
}

// ----------------------------------------------------------------------------- time

function offsetAt(unixSeconds) {
  let offset = 0;
  for (const [since, value] of state.clockHistory) {
    if (since <= unixSeconds + 0.5) offset = value;
  }
  if (!state.clockHistory.length) return 0;
  return unixSeconds < state.clockHistory[0][0] ? state.clockHistory[0][1] : offset;
}

/** A message's real date shown in sandbox time (the clock offset in force when it was sent). */
function sandboxDate(unixSeconds) {
  return new Date((unixSeconds + offsetAt(unixSeconds)) * 1000);
}

function formatTime(date) {
  return new Intl.DateTimeFormat("zh-CN", {
    timeZone: state.timezone, hour: "2-digit", minute: "2-digit", hour12: false,
  }).format(date);
}

function formatDay(date) {
  return new Intl.DateTimeFormat("zh-CN", {
    timeZone: state.timezone, month: "long", day: "numeric", weekday: "short",
  }).format(date);
}

function renderClock(clock) {
  if (!clock) return;
  state.clockHistory = clock.history || [];
  state.timezone = clock.timezone || state.timezone;
  $("clock-text").textContent = clock.text;
  const offset = $("clock-offset");
  offset.textContent = clock.offset_seconds > 0 ? `已前进 ${clock.offset_text}` : "实时";
  const flags = $("clock-flags");
  if (clock.workday === null || clock.workday === undefined) {
    flags.textContent = "";
  } else if (!clock.workday) {
    flags.textContent = "休息日";
    flags.className = "chip off";
  } else {
    flags.textContent = clock.office_time ? "办公时间" : "非办公时间";
    flags.className = `chip ${clock.office_time ? "on" : "off"}`;
  }
}

// ----------------------------------------------------------------------------- text with entities

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => (
    { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function safeUrl(url) {
  return /^(https?:|tg:|mailto:)/i.test(url || "") ? url : "#";
}

function wrapEntity(entity, inner, raw) {
  switch (entity.type) {
    case "bold": return `<b>${inner}</b>`;
    case "italic": return `<i>${inner}</i>`;
    case "underline": return `<u>${inner}</u>`;
    case "strikethrough": return `<s>${inner}</s>`;
    case "spoiler": return `<span class="spoiler" title="点击显示">${inner}</span>`;
    case "code": return `<code>${inner}</code>`;
    case "pre": return `<pre><code>${inner}</code></pre>`;
    case "blockquote":
    case "expandable_blockquote": return `<blockquote>${inner}</blockquote>`;
    case "text_link": {
      const url = safeUrl(entity.url);
      const user = /^tg:\/\/user\?id=(\d+)/.exec(entity.url || "");
      if (user) return `<span class="mention" data-user="${user[1]}">${inner}</span>`;
      return `<a href="${escapeHtml(url)}" target="_blank" rel="noopener">${inner}</a>`;
    }
    case "text_mention":
      return `<span class="mention" data-user="${entity.user ? entity.user.id : ""}">${inner}</span>`;
    case "mention": return `<span class="mention">${inner}</span>`;
    case "url":
      return `<a href="${escapeHtml(safeUrl(raw))}" target="_blank" rel="noopener">${inner}</a>`;
    case "email": return `<a href="mailto:${escapeHtml(raw)}">${inner}</a>`;
    case "bot_command": return `<span class="command" data-command="${escapeHtml(raw)}">${inner}</span>`;
    case "hashtag":
    case "cashtag": return `<span class="hashtag">${inner}</span>`;
    default: return inner;
  }
}

/** Render ``text`` with Bot API entities (UTF-16 offsets, as JavaScript strings count). */
function renderText(text, entities) {
  const sorted = (entities || [])
    .filter((e) => e.length > 0)
    .slice()
    .sort((a, b) => a.offset - b.offset || b.length - a.length);
  function range(start, end, list) {
    let out = "";
    let pos = start;
    let i = 0;
    while (i < list.length) {
      const entity = list[i];
      const stop = Math.min(entity.offset + entity.length, end);
      if (entity.offset < pos) { i += 1; continue; } // overlapping: drop it
      const inside = [];
      let j = i + 1;
      while (j < list.length && list[j].offset < stop) {
        if (list[j].offset + list[j].length <= stop) inside.push(list[j]);
        j += 1;
      }
      out += escapeHtml(text.slice(pos, entity.offset));
      out += wrapEntity(entity, range(entity.offset, stop, inside), text.slice(entity.offset, stop));
      pos = stop;
      i = j;
    }
    return out + escapeHtml(text.slice(pos, end));
  }
  return range(0, text.length, sorted);
}

// ----------------------------------------------------------------------------- people and chats

function person(userId) {
  return state.info ? state.info.people.find((p) => p.telegram_id === userId) : null;
}

function colourFor(id) {
  return NAME_COLOURS[Math.abs(Number(id)) % NAME_COLOURS.length];
}

function initials(title) {
  const clean = (title || "?").replace(/[^\p{L}\p{N}]/gu, "");
  return clean.slice(0, clean.match(/^[\x00-\x7f]/) ? 2 : 1) || "?";
}

function seenKey(chatId) {
  return `${state.runId}:${state.me}:${chatId}`;
}

function loadSeen() {
  try {
    state.seen = JSON.parse(localStorage.getItem("greenlight-sandbox-seen") || "{}");
  } catch (error) {
    state.seen = {};
  }
}

function markSeen(chatId, messageId) {
  const key = seenKey(chatId);
  if ((state.seen[key] || 0) >= messageId) return;
  state.seen[key] = messageId;
  try {
    localStorage.setItem("greenlight-sandbox-seen", JSON.stringify(state.seen));
  } catch (error) { /* private mode: unread hints just reset */ }
}

function fillActAs() {
  const select = $("act-as");
  select.innerHTML = "";
  const groups = [["局领导", ["director", "leader"]], ["经办人与引导员", ["handler", "guide"]],
    ["督查与管理", ["supervisor", "admin"]], ["局外", []]];
  for (const [label, roles] of groups) {
    const group = document.createElement("optgroup");
    group.label = label;
    for (const p of state.info.people) {
      const inGroup = roles.length ? roles.includes(p.roles[0]) : p.roles.length === 0;
      if (!inGroup) continue;
      const option = document.createElement("option");
      option.value = String(p.telegram_id);
      option.textContent = `${p.name} · ${p.role_label}${p.started ? "" : " · 未启动"}`;
      group.appendChild(option);
    }
    if (group.children.length) select.appendChild(group);
  }
  select.value = String(state.me);
}

function renderMe() {
  const p = person(state.me);
  const card = $("me-card");
  if (!p) { card.textContent = ""; return; }
  const projects = p.projects.length ? ` · ${p.projects.join("、")}` : "";
  const started = state.overview && state.overview.user ? state.overview.user.started : p.started;
  card.innerHTML = "";
  const line = document.createElement("div");
  line.innerHTML = `<b>${escapeHtml(p.name)}</b> <span class="muted">${p.username ? "@" + escapeHtml(p.username) : ""} · id ${p.telegram_id}</span>`;
  const roles = document.createElement("div");
  roles.className = "muted";
  roles.textContent = `${p.role_label}${p.section ? " · " + p.section : ""}${projects}`;
  card.append(line, roles);
  if (!started) {
    const hint = document.createElement("div");
    hint.className = "hint";
    hint.textContent = "尚未启动机器人：机器人不能先私信他（403），提醒会在群里 @ 他。在私聊里发送 /start 即启动。";
    card.appendChild(hint);
  }
}

function renderChatList() {
  const list = $("chat-list");
  list.innerHTML = "";
  if (!state.overview) return;
  for (const chat of state.overview.chats) {
    const seen = state.seen[seenKey(chat.id)] || 0;
    const unread = chat.id === state.chatId ? 0 : chat.message_ids.filter((id) => id > seen).length;
    const item = document.createElement("li");
    item.className = chat.id === state.chatId ? "active" : "";
    item.dataset.chat = String(chat.id);
    const title = chat.type === "private" ? `🤖 ${chat.title}` : chat.title;
    const last = chat.last;
    const preview = last ? `${last.is_bot || chat.type === "private" ? "" : last.from + "："}${last.text}` : "（还没有消息）";
    item.innerHTML = `
      <div class="avatar" style="background:${colourFor(chat.id)}">${escapeHtml(chat.type === "private" ? "绿" : initials(chat.title))}</div>
      <div class="chat-line">
        <div class="chat-top"><span class="chat-name">${escapeHtml(title)}</span>
          <span class="muted small">${last ? formatTime(sandboxDate(last.date)) : ""}</span></div>
        <div class="chat-bottom"><span class="preview">${escapeHtml(preview.replace(/\s+/g, " "))}</span>
          ${unread ? `<span class="badge">${unread}</span>` : ""}</div>
      </div>`;
    item.addEventListener("click", () => openChat(chat.id));
    list.appendChild(item);
  }
}

function currentChat() {
  return state.overview ? state.overview.chats.find((c) => c.id === state.chatId) : null;
}

function renderHeader() {
  const chat = currentChat();
  const title = $("chat-title");
  const sub = $("chat-sub");
  const avatar = $("chat-avatar");
  if (!chat) {
    title.textContent = "选择一个聊天";
    sub.textContent = "";
    avatar.textContent = "";
    avatar.style.background = "transparent";
    return;
  }
  avatar.textContent = chat.type === "private" ? "绿" : initials(chat.title);
  avatar.style.background = colourFor(chat.id);
  if (chat.type === "private") {
    const bot = state.info.bot;
    title.textContent = `${bot.first_name}`;
    sub.textContent = `@${bot.username} · 机器人 · 私聊`;
  } else {
    const demo = state.info.chats.find((c) => c.chat_id === chat.id);
    title.textContent = chat.title;
    sub.textContent = `${demo ? demo.members.length + " 位成员 · " : ""}${demo && demo.project ? demo.project + " · " : ""}隐私模式：机器人只看到命令、@它和对它的回复`;
  }
}

// ----------------------------------------------------------------------------- messages

function senderName(message) {
  const from = message.from || {};
  return [from.first_name, from.last_name].filter(Boolean).join(" ") || "?";
}

function messageText(message) {
  if (message.text !== undefined) return [message.text, message.entities];
  if (message.caption !== undefined) return [message.caption, message.caption_entities];
  return ["", []];
}

function snippet(message) {
  const [text] = messageText(message);
  if (text) return text.replace(/\s+/g, " ").slice(0, 90);
  if (message.photo) return "[图片]";
  if (message.document) return `[文件] ${message.document.file_name || ""}`;
  return "[消息]";
}

function bestPhoto(sizes) {
  const fits = sizes.filter((s) => s.width <= 800 && s.height <= 800);
  const pool = fits.length ? fits : sizes;
  return pool.reduce((a, b) => (a.width * a.height >= b.width * b.height ? a : b));
}

function humanSize(bytes) {
  if (!bytes && bytes !== 0) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function isForceReplyForMe(message) {
  const chat = currentChat();
  const prompt = chat && chat.force_reply ? chat.force_reply[String(message.message_id)] : null;
  if (!prompt) return null;
  if (!prompt.selective) return prompt;
  const replied = message.reply_to_message;
  if (replied && replied.from && replied.from.id === state.me) return prompt;
  const [, entities] = messageText(message);
  if ((entities || []).some((e) => (e.user && e.user.id === state.me)
      || (e.url || "") === `tg://user?id=${state.me}`)) return prompt;
  return null;
}

function buildMessage(message, isGroup, previous) {
  const fromBot = Boolean(message.from && message.from.is_bot);
  const mine = !fromBot && message.from && message.from.id === state.me;
  const row = document.createElement("div");
  row.className = `row ${mine ? "mine" : fromBot ? "bot" : "other"}`;
  row.id = `m${message.message_id}`;
  const grouped = previous && previous.from && message.from && previous.from.id === message.from.id
    && message.date - previous.date < 300 && !message.reply_to_message;
  if (grouped) row.classList.add("grouped");

  const bubble = document.createElement("div");
  bubble.className = "bubble";
  if (isGroup && !mine && !grouped) {
    const name = document.createElement("div");
    name.className = "sender";
    name.style.color = fromBot ? "#2a9d4b" : colourFor(message.from ? message.from.id : 0);
    const who = person(message.from ? message.from.id : 0);
    name.textContent = senderName(message) + (fromBot ? " 🤖" : who ? ` · ${who.role_label}` : "");
    bubble.appendChild(name);
  }
  if (message.reply_to_message) {
    const replied = message.reply_to_message;
    const quote = document.createElement("div");
    quote.className = "reply-quote";
    quote.innerHTML = `<b>${escapeHtml(senderName(replied))}</b><span>${escapeHtml(snippet(replied))}</span>`;
    quote.addEventListener("click", (event) => {
      event.stopPropagation();
      const target = $(`m${replied.message_id}`);
      if (target) {
        target.scrollIntoView({ behavior: "smooth", block: "center" });
        target.classList.add("flash");
        setTimeout(() => target.classList.remove("flash"), 1200);
      }
    });
    bubble.appendChild(quote);
  }
  if (message.photo && message.photo.length) {
    const shown = bestPhoto(message.photo);
    const largest = message.photo[message.photo.length - 1];
    const link = document.createElement("a");
    link.href = `/sandbox/file/${encodeURIComponent(largest.file_id)}`;
    link.target = "_blank";
    link.rel = "noopener";
    link.className = "photo";
    const img = document.createElement("img");
    img.src = `/sandbox/file/${encodeURIComponent(shown.file_id)}`;
    img.alt = "图片";
    img.loading = "lazy";
    img.width = Math.min(shown.width, 320);
    img.style.aspectRatio = `${shown.width} / ${shown.height}`;
    link.appendChild(img);
    link.addEventListener("click", (event) => event.stopPropagation());
    bubble.appendChild(link);
  }
  if (message.document) {
    const doc = message.document;
    const link = document.createElement("a");
    link.className = "document";
    link.href = `/sandbox/file/${encodeURIComponent(doc.file_id)}?download=1`;
    link.innerHTML = `<span class="doc-icon">📄</span><span><b>${escapeHtml(doc.file_name || "文件")}</b><br><span class="muted small">${escapeHtml(humanSize(doc.file_size))} ${escapeHtml(doc.mime_type || "")}</span></span>`;
    link.addEventListener("click", (event) => event.stopPropagation());
    bubble.appendChild(link);
  }
  const [text, entities] = messageText(message);
  if (text) {
    const body = document.createElement("div");
    body.className = "text";
    body.innerHTML = renderText(text, entities);
    bubble.appendChild(body);
  } else if (!message.photo && !message.document) {
    const body = document.createElement("div");
    body.className = "text muted";
    body.textContent = message.pinned_message ? "📌 置顶了一条消息" : "[系统消息]";
    bubble.appendChild(body);
  }
  const meta = document.createElement("div");
  meta.className = "meta";
  const when = sandboxDate(message.date);
  meta.textContent = `${message.edit_date ? "已编辑 · " : ""}${formatTime(when)}`;
  meta.title = `#${message.message_id} · ${formatDay(when)} ${formatTime(when)}（沙盒时间）`;
  bubble.appendChild(meta);

  const prompt = fromBot ? isForceReplyForMe(message) : null;
  if (prompt) {
    const hint = document.createElement("div");
    hint.className = "force-reply";
    hint.textContent = "↩️ 请回复此消息";
    bubble.appendChild(hint);
  }
  bubble.addEventListener("click", (event) => {
    if (event.target.closest("a, button, .spoiler")) return;
    setReply(message);
  });
  bubble.addEventListener("dblclick", (event) => event.preventDefault());
  row.appendChild(bubble);

  const keyboard = (message.reply_markup || {}).inline_keyboard;
  if (keyboard && keyboard.length) {
    const board = document.createElement("div");
    board.className = "keyboard";
    for (const buttons of keyboard) {
      const line = document.createElement("div");
      line.className = "keyboard-row";
      for (const button of buttons) {
        const element = document.createElement(button.url ? "a" : "button");
        element.className = "key";
        element.textContent = button.text;
        if (button.url) {
          element.href = safeUrl(button.url);
          element.target = "_blank";
          element.rel = "noopener";
          element.textContent += " ↗";
        } else if (button.callback_data !== undefined) {
          element.type = "button";
          element.addEventListener("click", () => press(message, button, element));
        } else {
          element.type = "button";
          element.disabled = true;
          element.title = "沙盒不支持这种按钮";
        }
        line.appendChild(element);
      }
      board.appendChild(line);
    }
    row.appendChild(board);
  }
  return row;
}

function renderMessages(forceBottom) {
  const box = $("messages");
  const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  const scrolled = box.scrollTop;
  const chat = currentChat();
  box.innerHTML = "";
  if (!chat) {
    box.innerHTML = '<div class="empty">← 选择一个聊天</div>';
    return;
  }
  if (!state.messages.length) {
    const empty = document.createElement("div");
    empty.className = "empty";
    empty.textContent = chat.type === "private"
      ? "还没有消息。发送 /start 开始和机器人对话。" : "还没有消息。试试 /report 或 /submit。";
    box.appendChild(empty);
  }
  const isGroup = chat.type !== "private";
  let previous = null;
  let lastDay = "";
  for (const message of state.messages) {
    const day = formatDay(sandboxDate(message.date));
    if (day !== lastDay) {
      const divider = document.createElement("div");
      divider.className = "day";
      divider.innerHTML = `<span>${escapeHtml(day)}</span>`;
      box.appendChild(divider);
      lastDay = day;
      previous = null;
    }
    box.appendChild(buildMessage(message, isGroup, previous));
    previous = message;
  }
  box.scrollTop = forceBottom || nearBottom ? box.scrollHeight : scrolled;
  if (state.messages.length) markSeen(chat.id, state.messages[state.messages.length - 1].message_id);
}

function takeUpForceReply() {
  // A real Telegram app opens the reply to a force-reply prompt addressed to you by itself:
  // the newest bot message, if it came after the chat was opened and you have not written since.
  for (let i = state.messages.length - 1; i >= 0; i -= 1) {
    const message = state.messages[i];
    const from = message.from || {};
    if (from.id === state.me && !from.is_bot) return;
    if (!from.is_bot) continue;
    if (message.message_id <= state.openedAt) return;
    const prompt = isForceReplyForMe(message);
    const key = `${state.chatId}:${message.message_id}`;
    if (prompt && !state.autoReplied.has(key)) {
      state.autoReplied.add(key);
      if (!state.replyTo) setReply(message, prompt.placeholder);
    }
    return;
  }
}

// ----------------------------------------------------------------------------- reply and composer

function setReply(message, placeholder) {
  state.replyTo = message;
  $("reply-name").textContent = `回复 ${senderName(message)}`;
  $("reply-text").textContent = snippet(message);
  $("reply-bar").classList.remove("hidden");
  $("input").placeholder = placeholder ? `${placeholder}…` : "输入回复…";
  $("input").focus();
}

function clearReply() {
  state.replyTo = null;
  $("reply-bar").classList.add("hidden");
  $("input").placeholder = "输入消息… Enter 发送，Shift+Enter 换行";
}

function autoGrow() {
  const input = $("input");
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
}

function afterSend(result) {
  const chat = currentChat();
  if (result && result.delivered === false && chat && chat.type !== "private") {
    toast("机器人看不到这条群消息（隐私模式）：用 / 开头的命令、@机器人，或点机器人的消息回复它。", "info");
  }
}

async function sendText(event) {
  if (event) event.preventDefault();
  const input = $("input");
  const text = input.value.trim();
  if (!text || state.chatId === null || state.busy) return;
  state.busy = true;
  try {
    const result = await control("send_text", {
      user_id: state.me,
      chat_id: state.chatId,
      text,
      reply_to_message_id: state.replyTo ? state.replyTo.message_id : undefined,
      wait: true,
      timeout: 10,
    });
    input.value = "";
    autoGrow();
    clearReply();
    afterSend(result);
    expectAnswer();
    await refresh(true);
  } catch (error) {
    showError(error);
  } finally {
    state.busy = false;
  }
}

function readBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(reader.error || new Error("读取文件失败"));
    reader.readAsDataURL(file);
  });
}

async function sendFile() {
  const picker = $("file-input");
  const file = picker.files && picker.files[0];
  picker.value = "";
  if (!file || state.chatId === null) return;
  if (file.size > 20 * 1024 * 1024) {
    showError(new Error("文件太大（沙盒上限 20 MB）"));
    return;
  }
  const caption = $("input").value.trim() || undefined;
  const body = {
    user_id: state.me,
    chat_id: state.chatId,
    content: await readBase64(file),
    caption,
    reply_to_message_id: state.replyTo ? state.replyTo.message_id : undefined,
    wait: true,
    timeout: 10,
  };
  try {
    let result;
    if (PHOTO_MIME.test(file.type)) {
      result = await control("send_photo", body);
    } else {
      result = await control("send_document", {
        ...body, file_name: file.name, mime_type: file.type || "application/octet-stream",
      });
    }
    $("input").value = "";
    autoGrow();
    clearReply();
    afterSend(result);
    expectAnswer();
    await refresh(true);
  } catch (error) {
    showError(error);
  }
}

async function press(message, button, element) {
  element.disabled = true;
  element.classList.add("pressing");
  try {
    const result = await post("/sandbox/press", {
      user_id: state.me,
      chat_id: state.chatId,
      message_id: message.message_id,
      callback_data: button.callback_data,
    });
    const answer = result.answer;
    expectAnswer();
    if (answer && answer.show_alert) {
      modal(state.info.bot.first_name, answer.text || "");
    } else if (answer && answer.text) {
      toast(answer.text, "answer");
    } else if (answer && answer.url) {
      window.open(answer.url, "_blank", "noopener");
    } else if (!result.answered) {
      toast("机器人没有回应这个按钮（answerCallbackQuery 超时）", "error");
    }
    await refresh(true);
  } catch (error) {
    showError(error);
  } finally {
    element.disabled = false;
    element.classList.remove("pressing");
  }
}

// ----------------------------------------------------------------------------- sandbox bar

async function advance(body, label) {
  try {
    const result = await post("/sandbox/advance", body);
    renderClock(result.clock);
    expectAnswer();
    const sent = result.sent ? `，发出 ${result.sent} 条提醒` : "，没有新的提醒";
    const failed = result.failed ? `（${result.failed} 条发送失败，稍后重试）` : "";
    toast(`${label}：现在是 ${result.clock.text}${sent}${failed}`, result.sent ? "answer" : "info");
    await refresh(true);
  } catch (error) {
    showError(error);
  }
}

async function sweep() {
  try {
    const result = await post("/sandbox/sweep");
    renderClock(result.clock);
    expectAnswer();
    toast(result.sent ? `巡检完成：发出 ${result.sent} 条提醒` : "巡检完成：没有到期的提醒",
      result.sent ? "answer" : "info");
    await refresh(true);
  } catch (error) {
    showError(error);
  }
}

function renderErrors(errors) {
  const button = $("btn-errors");
  if (!errors || !errors.length) {
    button.classList.add("hidden");
    return;
  }
  button.classList.remove("hidden");
  $("error-count").textContent = String(errors.length);
  button.onclick = () => modal("机器人最近失败的 Bot API 调用（新的在前）",
    errors.map((e) => {
      const who = person(e.chat_id);
      const where = who ? `${who.name}` : e.chat_id !== undefined && e.chat_id !== null ? `chat ${e.chat_id}` : "";
      const at = e.at ? formatTime(sandboxDate(e.at)) : "";
      return `${at} ${e.method} ${where}\n  ${e.description || e.error_code}`;
    }).join("\n\n"));
}

// ----------------------------------------------------------------------------- navigation

function openChat(chatId) {
  state.chatId = chatId;
  state.chatJson = "";
  state.messages = [];
  clearReply();
  localStorage.setItem("greenlight-sandbox-chat", String(chatId));
  document.body.classList.add("in-chat");
  renderChatList();
  renderHeader();
  renderMessages(true);
  refresh(true).catch(showError);
  if (window.innerWidth > 720) $("input").focus();
}

function actAs(userId) {
  state.me = userId;
  localStorage.setItem("greenlight-sandbox-me", String(userId));
  state.overview = null;
  state.overviewJson = "";
  state.chatId = null;
  state.messages = [];
  clearReply();
  renderMe();
  renderHeader();
  renderMessages(true);
  refresh(true).then(() => {
    const chats = state.overview ? state.overview.chats : [];
    const remembered = Number(localStorage.getItem(`greenlight-sandbox-chat-${userId}`));
    const group = chats.find((c) => c.id === remembered) || chats.find((c) => c.type !== "private") || chats[0];
    if (group && window.innerWidth > 720) openChat(group.id);
  }).catch(showError);
}

// ----------------------------------------------------------------------------- polling

/** Poll quickly for a moment: the bot's answer to what the visitor just did is coming. */
function expectAnswer() {
  state.fastUntil = Date.now() + FAST_FOR_MS;
}

async function refresh(scrollDown) {
  if (state.me === null) return;
  const me = state.me;
  const chatId = state.chatId;
  // The chat first, then the overview: the overview's force-reply marks are then at least as
  // new as the messages shown.
  const messages = chatId !== null ? await control("chat", { chat_id: chatId }) : null;
  const overview = await get(`/sandbox/overview?user_id=${me}`);
  if (me !== state.me || chatId !== state.chatId) return; // the visitor moved on meanwhile
  renderClock(overview.clock);
  renderErrors(overview.api_errors);
  const overviewJson = JSON.stringify(overview.chats) + JSON.stringify(overview.user);
  const overviewChanged = overviewJson !== state.overviewJson;
  const prompts = () => JSON.stringify((currentChat() || {}).force_reply || {});
  const promptsBefore = prompts();
  state.overview = overview;
  state.overviewJson = overviewJson;
  if (messages !== null) {
    localStorage.setItem(`greenlight-sandbox-chat-${me}`, String(chatId));
    const chatJson = JSON.stringify(messages);
    if (chatJson !== state.chatJson) {
      const firstLoad = state.chatJson === "";
      if (firstLoad) {
        state.openedAt = messages.length ? messages[messages.length - 1].message_id : 0;
      }
      state.messages = messages;
      state.chatJson = chatJson;
      renderMessages(scrollDown || firstLoad);
    } else if (prompts() !== promptsBefore) {
      renderMessages(false); // a force-reply prompt became known
    }
    takeUpForceReply();
  }
  if (overviewChanged) {
    renderChatList();
    renderHeader();
    renderMe();
  }
}

async function poll() {
  try {
    await refresh(false);
    if (state.failures) toast("已重新连接沙盒", "info");
    state.failures = 0;
  } catch (error) {
    state.failures += 1;
    if (state.failures === 1 || state.failures % 30 === 0) showError(error);
  }
  setTimeout(poll, Date.now() < state.fastUntil ? FAST_POLL_MS : POLL_MS);
}

// ----------------------------------------------------------------------------- start

async function main() {
  loadSeen();
  try {
    state.info = await get("/sandbox/info");
  } catch (error) {
    showError(error);
    setTimeout(main, 2000);
    return;
  }
  state.runId = String(state.info.run_id || "");
  renderClock(state.info.clock);
  // ?as=<person key or id>&chat=<chat key (KP-002, leaders…) or id>: a link to one view.
  const params = new URLSearchParams(window.location.search);
  const people = state.info.people;
  const wanted = params.get("as");
  const linked = wanted ? people.find((p) => p.key === wanted || String(p.telegram_id) === wanted) : null;
  const remembered = Number(localStorage.getItem("greenlight-sandbox-me"));
  const fallback = people.find((p) => p.key === "liuxiao") || people[0];
  state.me = (linked || people.find((p) => p.telegram_id === remembered) || fallback).telegram_id;
  const chatParam = params.get("chat");
  if (chatParam) {
    const demo = state.info.chats.find((c) => c.key === chatParam);
    const chatId = demo ? demo.chat_id : chatParam === "private" ? state.me : Number(chatParam);
    if (chatId) localStorage.setItem(`greenlight-sandbox-chat-${state.me}`, String(chatId));
  }
  fillActAs();
  $("act-as").addEventListener("change", (event) => actAs(Number(event.target.value)));
  $("composer").addEventListener("submit", sendText);
  $("input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) sendText(event);
  });
  $("input").addEventListener("input", autoGrow);
  $("file-input").addEventListener("change", () => sendFile().catch(showError));
  $("reply-cancel").addEventListener("click", clearReply);
  $("back").addEventListener("click", () => document.body.classList.remove("in-chat"));
  $("btn-hour").addEventListener("click", () => advance({ hours: 1 }, "⏩ +1 小时"));
  $("btn-day").addEventListener("click", () => advance({ working_days: 1 }, "⏩ +1 工作日"));
  $("btn-sweep").addEventListener("click", sweep);
  $("btn-help").addEventListener("click", () => $("help").classList.toggle("hidden"));
  $("help-close").addEventListener("click", () => $("help").classList.add("hidden"));
  $("modal-ok").addEventListener("click", () => $("modal").classList.add("hidden"));
  $("modal").addEventListener("click", (event) => {
    if (event.target === $("modal")) $("modal").classList.add("hidden");
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      $("modal").classList.add("hidden");
      clearReply();
    }
  });
  $("messages").addEventListener("click", (event) => {
    const spoiler = event.target.closest(".spoiler");
    if (spoiler) spoiler.classList.add("shown");
    const command = event.target.closest(".command");
    if (command && !event.target.closest("a")) {
      event.stopPropagation();
      $("input").value = command.dataset.command + " ";
      autoGrow();
      $("input").focus();
    }
  }, true);
  if (!localStorage.getItem("greenlight-sandbox-helped")) {
    $("help").classList.remove("hidden");
    localStorage.setItem("greenlight-sandbox-helped", "1");
  }
  actAs(state.me);
  setTimeout(poll, POLL_MS);
}

main();

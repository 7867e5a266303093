/* Greenlight sandbox chat page: act as any demo person against the Bot API emulator.
 *
 * Plain browser JavaScript, no build step, nothing from the network. It talks to:
 *   /sandbox/info, /sandbox/overview, /sandbox/press, /sandbox/file/<id>,
 *   /sandbox/advance, /sandbox/sweep, /sandbox/events (server-sent events: the page
 *   updates when something changes and makes no requests while idle),
 *   /sandbox/next, /sandbox/lang            (feature-detected: hidden when they answer 404)
 *   /_control/chat, /_control/send_text, /_control/send_photo,
 *   /_control/send_document                      (the emulator's control API)
 */
"use strict";

const PHOTO_MIME = /^image\/(png|jpeg|gif|webp|bmp)$/;
const NAME_COLOURS = ["#e17076", "#7bc862", "#e5a64e", "#65aadd", "#a695e7", "#ee7aae", "#6ec9cb"];
const MAX_TOASTS = 2; // the newest ones: the messages keep the room
const NARROW = 720; // px: the phone layout (one pane at a time)
// Refusals Telegram gives for what a bot may not do, not faults: shown as neutral notices.
const EXPECTED_REFUSAL = /can't initiate conversation|bot was blocked by the user|user is deactivated/i;

// ----------------------------------------------------------------------------- the page's words

const STRINGS = {
  zh: {
    brand: "绿灯沙盒",
    brand_title: "绿灯沙盒：真实的机器人，连着本机的 Telegram Bot API 模拟器",
    clock_title: "沙盒时间（Asia/Shanghai）",
    hour: "+1 小时", hour_short: "+1小时", day_short: "+1工作日", hour_title: "沙盒时间前进 1 小时，然后巡检一次",
    day: "+1 工作日", day_title: "前进到下一个工作日的同一时刻（跳过周末和节假日），然后巡检一次",
    next: "到下一个时限", next_title: "前进到下一个到期时刻，然后巡检一次",
    next_none: "眼下没有待到期的事项",
    sweep: "运行巡检", sweep_title: "立即运行一次截止时限巡检（黄灯、红灯提醒）",
    errors_title: "机器人最近失败的 Bot API 调用",
    help: "帮助", help_title: "怎么玩",
    help_summary: "沙盒怎么用：① 汇报 ② 审批 ③ 催办",
    help_steps: `<li>左侧选择<b>以谁的身份操作</b>，再选一个聊天：与机器人的私聊，或这个人所在的工作群。</li>
<li>群里开着<b>隐私模式</b>，和真实 Telegram 一样：机器人只收到以 <code>/</code> 开头的命令、@机器人 的消息和<b>对机器人消息的回复</b>。点一条消息就能回复它。</li>
<li><b>汇报</b>：以「刘晓」在「天台山公园工作群」发送 <code>/report 今日完成现场踏勘</code>，可用 📎 附图片或文件。</li>
<li><b>审批</b>：以「刘晓」在群里发送 <code>/submit 微波站迁建选址方案</code>，选择「一般事项审批」；切换为「李副局长」，在私聊里点「✅ 同意」或「↩️ 退回」。<code>/pending</code> 可批量审批，<code>/away</code> 登记外出由代理人审批。</li>
<li><b>催办</b>：提交后点上方「⏩ +1 工作日」或「⏭」，巡检会发出🟡黄灯、🔴红灯提醒，逾期五个工作日发催办通知书。「林引导」没有启动机器人，私信会被拒，提醒就在群里 @ 他。</li>
<li>沙盒时间只会往前走。数据库在重启后保留；<code>greenlight sandbox --fresh</code> 从头开始。</li>`,
    help_note: "右上角 EN 可切换为英文（页面和机器人）。",
    act_as: "以此身份操作", chats: "聊天",
    group_leaders: "局领导", group_heads: "科长与督查室", group_staff: "经办人与引导员",
    group_admin: "管理", group_outside: "局外",
    not_started: "未启动", try_label: "可以试试：",
    not_started_hint: "尚未启动机器人：机器人不能先私信他，提醒会在群里 @ 他。在私聊里发送 /start 即启动。",
    pick_chat: "选择一个聊天", pick_chat_hint: "← 选择一个聊天",
    no_messages: "（还没有消息）",
    empty_private: "还没有消息。发送 /start 开始和机器人对话。",
    empty_group: "还没有消息。试试 /report 或 /submit。",
    bot_private: "机器人 · 私聊",
    members: "{n} 位成员", privacy: "隐私模式：机器人只看到命令、@它和对它的回复",
    photo: "[图片]", file: "[文件]", message: "[消息]", photo_alt: "图片", file_default: "文件",
    pinned: "📌 置顶了一条消息", service: "[系统消息]", edited: "已编辑",
    sandbox_time: "沙盒时间", reply_prompt: "↩️ 请回复此消息", spoiler: "点击显示",
    unsupported_button: "沙盒不支持这种按钮",
    board_title: "以当前身份打开红绿灯看板（小程序）", board_close: "关闭看板",
    reply_to: "回复 {name}", input: "输入消息… Enter 发送，Shift+Enter 换行",
    input_short: "输入消息…", input_reply: "输入回复…",
    attach_title: "发送图片或文件", attach_photo: "发送图片", attach_document: "发送文件",
    caption: "添加说明…", cancel: "取消", send: "发送", ok: "确定", back: "返回聊天列表",
    too_big: "文件太大（沙盒上限 20 MB）", read_failed: "读取文件失败",
    privacy_toast: "机器人看不到这条群消息（隐私模式）：用 / 开头的命令、@机器人，或点机器人的消息回复它。",
    no_answer: "机器人没有回应这个按钮（answerCallbackQuery 超时）",
    unreachable: "沙盒没有响应（已停止？）",
    reconnected: "已重新连接沙盒", reconnecting: "与沙盒的连接断了，正在重连…",
    live: "实时", moved: "已前进 {offset}", rest_day: "休息日", office: "办公时间", off_hours: "非办公时间",
    advanced: "{label}：现在是 {time}", sent_n: "，发出 {n} 条提醒", sent_none: "，没有新的提醒",
    failed_n: "（{n} 条发送失败，稍后重试）",
    sweeping: "⏳ 巡检中：机器人按 Telegram 的限速（每群每分钟 20 条）逐条发送提醒…",
    swept: "巡检完成：发出 {n} 条提醒", swept_none: "巡检完成：没有到期的提醒",
    errors_modal: "机器人最近失败的 Bot API 调用（新的在前）",
    not_started_notice: "{names}还没有启动机器人",
    notices_modal: "Telegram 不让机器人先私信没启动过它的人（403）。这是预料之中的：这些提醒改为在项目群里 @ 他们。",
    lang_unsupported: "页面已切换为中文；这个沙盒的机器人还不能按页面切换语言（没有 /sandbox/lang）。",
    lang_done: "页面和机器人（对 {name}）都切换为中文",
  },
  en: {
    brand: "Greenlight",
    brand_title: "Greenlight sandbox: the real bot against a local Telegram Bot API emulator",
    clock_title: "Sandbox time (Asia/Shanghai)",
    hour: "+1 hour", hour_short: "+1 h", day_short: "+1 w.d.", hour_title: "Move the sandbox clock 1 hour forward, then sweep once",
    day: "+1 working day", day_title: "Move to the same time on the next working day (skipping weekends and holidays), then sweep once",
    next: "To the next due", next_title: "Move to the next due time, then sweep once",
    next_none: "Nothing is coming due",
    sweep: "Sweep", sweep_title: "Run the deadline sweep now (yellow and red nudges)",
    errors_title: "The bot's most recent failed Bot API calls",
    help: "Help", help_title: "How to play",
    help_summary: "How to play: ① report ② approve ③ nudge",
    help_steps: `<li>On the left pick <b>who you act as</b>, then a chat: the private chat with the bot or one of that person's work groups.</li>
<li>Groups run in <b>privacy mode</b> as on Telegram: the bot only sees commands starting with <code>/</code>, mentions and <b>replies to its messages</b>. Click a message to reply to it.</li>
<li><b>Report</b>: as 刘晓 in 天台山公园工作群 send <code>/report site survey done</code>; 📎 adds a photo or a file.</li>
<li><b>Approve</b>: as 刘晓 send <code>/submit relocation plan</code> and pick 一般事项审批; switch to 李副局长 and press ✅ or ↩️ in the private chat. <code>/pending</code> decides in bulk, <code>/away</code> hands over to a deputy.</li>
<li><b>Nudge</b>: after submitting press ⏩ +1 working day or ⏭ above: the sweep sends 🟡 yellow and 🔴 red nudges, and an urge notice five working days late. 林引导 never started the bot, so his nudges mention him in the group.</li>
<li>Sandbox time only moves forward. The database survives restarts; <code>greenlight sandbox --fresh</code> starts over.</li>`,
    help_note: "中 (top right) switches the page and the bot back to Chinese.",
    act_as: "Act as", chats: "Chats",
    group_leaders: "Leaders", group_heads: "Section heads and supervision", group_staff: "Handlers and guides",
    group_admin: "Administration", group_outside: "Outside the bureau",
    not_started: "not started", try_label: "Try: ",
    not_started_hint: "Has not started the bot: a bot may not write first, so nudges mention them in the group. Send /start in the private chat to start it.",
    pick_chat: "Pick a chat", pick_chat_hint: "← Pick a chat",
    no_messages: "(no messages yet)",
    empty_private: "No messages yet. Send /start to talk to the bot.",
    empty_group: "No messages yet. Try /report or /submit.",
    bot_private: "bot · private chat",
    members: "{n} members", privacy: "privacy mode: the bot sees commands, mentions and replies to it",
    photo: "[photo]", file: "[file]", message: "[message]", photo_alt: "photo", file_default: "file",
    pinned: "📌 pinned a message", service: "[service message]", edited: "edited",
    sandbox_time: "sandbox time", reply_prompt: "↩️ reply to this message", spoiler: "click to show",
    unsupported_button: "the sandbox does not support this button",
    board_title: "Open the lights board (Mini App) as this person", board_close: "Close the board",
    reply_to: "Reply to {name}", input: "Message… Enter sends, Shift+Enter for a new line",
    input_short: "Message…", input_reply: "Reply…",
    attach_title: "Send a photo or a file", attach_photo: "Send a photo", attach_document: "Send a file",
    caption: "Add a caption…", cancel: "Cancel", send: "Send", ok: "OK", back: "Back to the chats",
    too_big: "File too large (the sandbox takes up to 20 MB)", read_failed: "Could not read the file",
    privacy_toast: "The bot does not see this group message (privacy mode): use a / command, mention the bot or reply to one of its messages.",
    no_answer: "The bot did not answer this button (answerCallbackQuery timed out)",
    unreachable: "The sandbox does not answer (stopped?)",
    reconnected: "Reconnected to the sandbox", reconnecting: "Lost the sandbox; reconnecting…",
    live: "live", moved: "moved {offset}", rest_day: "day off", office: "office hours", off_hours: "after hours",
    advanced: "{label}: it is now {time}", sent_n: ", {n} nudges sent", sent_none: ", no new nudges",
    failed_n: " ({n} failed, retried later)",
    sweeping: "⏳ Sweeping: the bot keeps to Telegram's rate limit (20 a minute per group)…",
    swept: "Sweep done: {n} nudges sent", swept_none: "Sweep done: nothing due",
    errors_modal: "The bot's most recent failed Bot API calls (newest first)",
    not_started_notice: "{names} hasn't started the bot yet",
    notices_modal: "Telegram does not let a bot write first to someone who never started it (403). That is expected: those nudges mention them in the project group instead.",
    lang_unsupported: "The page is in English; this sandbox's bot cannot follow the page's language yet (no /sandbox/lang).",
    lang_done: "The page and the bot (for {name}) now speak English",
  },
};

const state = {
  lang: "zh",
  langChosen: false, // the visitor picked a language (then each persona is switched to it)
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
  clock: null,
  clockAt: 0, // Date.now() when the clock arrived: the shown time runs on from there
  clockHistory: [],
  timezone: "Asia/Shanghai",
  events: null, // the EventSource
  eventsLost: false,
  refreshTimer: 0,
  refreshing: null,
  again: false,
  next: undefined, // /sandbox/next's answer; null: the route is not there
  attachment: null, // the file being previewed
  stuckToBottom: true,
};

const $ = (id) => document.getElementById(id);

function t(key, vars) {
  const table = STRINGS[state.lang] || STRINGS.zh;
  let text = table[key] !== undefined ? table[key] : STRINGS.zh[key] !== undefined ? STRINGS.zh[key] : key;
  for (const [name, value] of Object.entries(vars || {})) text = text.split(`{${name}}`).join(String(value));
  return text;
}

function locale() {
  return state.lang === "en" ? "en-GB" : "zh-CN";
}

function isNarrow() {
  return window.innerWidth <= NARROW;
}

/** The page's fixed words in the current language (data-i18n* attributes in index.html). */
function applyStrings() {
  document.documentElement.lang = state.lang === "en" ? "en" : "zh-CN";
  document.title = state.lang === "en" ? "Greenlight · sandbox" : "绿灯 Greenlight · 沙盒";
  for (const element of document.querySelectorAll("[data-i18n]")) element.textContent = t(element.dataset.i18n);
  for (const element of document.querySelectorAll("[data-i18n-html]")) element.innerHTML = t(element.dataset.i18nHtml);
  for (const element of document.querySelectorAll("[data-i18n-title]")) element.title = t(element.dataset.i18nTitle);
  for (const element of document.querySelectorAll("[data-i18n-aria]")) element.setAttribute("aria-label", t(element.dataset.i18nAria));
  for (const element of document.querySelectorAll("[data-i18n-placeholder]")) element.placeholder = t(element.dataset.i18nPlaceholder);
  $("btn-lang").textContent = state.lang === "en" ? "中" : "EN";
  if (!state.replyTo) $("input").placeholder = t(isNarrow() ? "input_short" : "input");
}

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
    throw new Error(`${t("unreachable")}: ${error.message}`);
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
    const failure = new Error(`${response.status}: ${message}`);
    failure.status = response.status;
    // No such route (the server's plain 404 page), as against a route's own JSON refusal.
    failure.noRoute = (response.status === 404 || response.status === 405) && !(data && data.error);
    throw failure;
  }
  return data;
}

const get = (path) => http("GET", path);
const post = (path, body) => http("POST", path, body || {});
const control = (action, body) => post(`/_control/${action}`, body);

// ----------------------------------------------------------------------------- toasts and modal

/** Toasts sit in the chat pane between the messages and the composer, so the list is padded
 * and the newest message stays in sight; with no chat open (a phone's chat list) they float. */
function placeToasts() {
  const box = $("toasts");
  const chatShown = $("chat").offsetParent !== null;
  if (chatShown && box.parentElement !== $("chat")) {
    $("chat").insertBefore(box, $("reply-bar"));
  } else if (!chatShown && box.parentElement !== document.body) {
    document.body.appendChild(box);
  }
  box.classList.toggle("floating", !chatShown);
}

function toast(text, kind) {
  placeToasts();
  const box = document.createElement("div");
  box.className = `toast ${kind || ""}`;
  box.textContent = text;
  const remove = () => { box.remove(); keepBottom(); };
  box.addEventListener("click", remove);
  const shown = $("toasts");
  shown.appendChild(box);
  while (shown.children.length > MAX_TOASTS) shown.firstElementChild.remove();
  keepBottom();
  setTimeout(remove, kind === "error" ? 9000 : 4000);
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
  return new Intl.DateTimeFormat(locale(), {
    timeZone: state.timezone, hour: "2-digit", minute: "2-digit", hour12: false,
  }).format(date);
}

function formatDay(date) {
  return new Intl.DateTimeFormat(locale(), {
    timeZone: state.timezone, month: "long", day: "numeric", weekday: "short",
  }).format(date);
}

/** The sandbox time now, in the bar's form: 2026-11-23 周一 10:00 / Mon 2026-11-23 10:00. */
function clockText(date) {
  const parts = {};
  for (const part of new Intl.DateTimeFormat(locale(), {
    timeZone: state.timezone, year: "numeric", month: "2-digit", day: "2-digit",
    weekday: "short", hour: "2-digit", minute: "2-digit", hour12: false,
  }).formatToParts(date)) parts[part.type] = part.value;
  const day = `${parts.year}-${parts.month}-${parts.day}`;
  return `${day} ${parts.weekday} ${parts.hour}:${parts.minute}`;
}

/** "+13天1小时" / "+13 d 1 h": compact, one line. */
function offsetText(seconds) {
  let minutes = Math.round(seconds / 60);
  const days = Math.floor(minutes / 1440);
  minutes -= days * 1440;
  const hours = Math.floor(minutes / 60);
  minutes -= hours * 60;
  const en = state.lang === "en";
  const parts = [];
  if (days) parts.push(en ? `${days} d` : `${days}天`);
  if (hours) parts.push(en ? `${hours} h` : `${hours}小时`);
  if (minutes && !days) parts.push(en ? `${minutes} min` : `${minutes}分`);
  return `+${parts.join(en ? " " : "") || "0"}`;
}

function renderClock(clock) {
  if (clock) {
    state.clock = clock;
    state.clockAt = Date.now();
    state.clockHistory = clock.history || [];
    state.timezone = clock.timezone || state.timezone;
  }
  clock = state.clock;
  if (!clock) return;
  const now = new Date(Date.parse(clock.now) + (Date.now() - state.clockAt));
  $("clock-text").textContent = clockText(now);
  $("clock-text").title = clock.text;
  const offset = $("clock-offset");
  const moved = offsetText(clock.offset_seconds || 0);
  offset.textContent = clock.offset_seconds > 0 ? (isNarrow() ? moved : t("moved", { offset: moved })) : t("live");
  offset.title = clock.offset_seconds > 0 ? t("moved", { offset: moved }) : "";
  const flags = $("clock-flags");
  if (clock.workday === null || clock.workday === undefined) {
    flags.textContent = "";
  } else if (!clock.workday) {
    flags.textContent = t("rest_day");
    flags.className = "chip off";
  } else {
    flags.textContent = clock.office_time ? t("office") : t("off_hours");
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
    case "spoiler": return `<span class="spoiler" title="${t("spoiler")}">${inner}</span>`;
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

function roleLabel(p) {
  return state.lang === "en" && p.role_label_en ? p.role_label_en : p.role_label;
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
  // Each person once, under their first role in this order.
  const groups = [["group_leaders", ["director", "leader"]], ["group_heads", ["section_head", "supervisor"]],
    ["group_staff", ["handler", "guide"]], ["group_admin", ["admin"]], ["group_outside", []]];
  const placed = new Set();
  for (const [label, roles] of groups) {
    const group = document.createElement("optgroup");
    group.label = t(label);
    for (const p of state.info.people) {
      if (placed.has(p.telegram_id)) continue;
      const inGroup = roles.length ? p.roles.some((r) => roles.includes(r)) : true;
      if (!inGroup) continue;
      placed.add(p.telegram_id);
      const option = document.createElement("option");
      option.value = String(p.telegram_id);
      option.textContent = `${p.name} · ${roleLabel(p)}${p.started ? "" : ` · ${t("not_started")}`}`;
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
  const projects = p.projects.length ? ` · ${p.projects.join(state.lang === "en" ? ", " : "、")}` : "";
  const started = state.overview && state.overview.user ? state.overview.user.started : p.started;
  card.innerHTML = "";
  const line = document.createElement("div");
  line.innerHTML = `<b>${escapeHtml(p.name)}</b> <span class="muted">${p.username ? "@" + escapeHtml(p.username) : ""} · id ${p.telegram_id}</span>`;
  const roles = document.createElement("div");
  roles.className = "roles";
  for (const label of roleLabel(p).split(state.lang === "en" ? ", " : "、")) {
    const chip = document.createElement("span");
    chip.className = "role";
    chip.textContent = label;
    roles.appendChild(chip);
  }
  const where = document.createElement("span");
  where.className = "muted";
  where.textContent = `${p.section ? p.section : ""}${projects}`;
  roles.appendChild(where);
  card.append(line, roles);
  if (p.tries) {
    const tries = document.createElement("div");
    tries.className = "tries";
    tries.textContent = `${t("try_label")}${p.tries[state.lang] || p.tries.zh}`;
    card.appendChild(tries);
  }
  if (!started) {
    const hint = document.createElement("div");
    hint.className = "hint";
    hint.textContent = t("not_started_hint");
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
    const preview = last ? `${last.is_bot || chat.type === "private" ? "" : last.from + (state.lang === "en" ? ": " : "：")}${last.text}` : t("no_messages");
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
    title.textContent = t("pick_chat");
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
    sub.textContent = `@${bot.username} · ${t("bot_private")}`;
  } else {
    const demo = state.info.chats.find((c) => c.chat_id === chat.id);
    title.textContent = chat.title;
    sub.textContent = `${demo ? t("members", { n: demo.members.length }) + " · " : ""}${demo && demo.project ? demo.project + " · " : ""}${t("privacy")}`;
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
  if (message.photo) return t("photo");
  if (message.document) return `${t("file")} ${message.document.file_name || ""}`;
  return t("message");
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
  row.dataset.at = String(sandboxDate(message.date).getTime() / 1000); // sandbox time, seconds
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
    name.textContent = senderName(message) + (fromBot ? " 🤖" : who ? ` · ${roleLabel(who)}` : "");
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
    img.alt = t("photo_alt");
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
    link.innerHTML = `<span class="doc-icon">📄</span><span><b>${escapeHtml(doc.file_name || t("file_default"))}</b><br><span class="muted small">${escapeHtml(humanSize(doc.file_size))} ${escapeHtml(doc.mime_type || "")}</span></span>`;
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
    body.textContent = message.pinned_message ? t("pinned") : t("service");
    bubble.appendChild(body);
  }
  const meta = document.createElement("div");
  meta.className = "meta";
  const when = sandboxDate(message.date);
  meta.textContent = `${message.edit_date ? `${t("edited")} · ` : ""}${formatTime(when)}`;
  meta.title = `#${message.message_id} · ${formatDay(when)} ${formatTime(when)} (${t("sandbox_time")})`;
  bubble.appendChild(meta);

  const prompt = fromBot ? isForceReplyForMe(message) : null;
  if (prompt) {
    const hint = document.createElement("div");
    hint.className = "force-reply";
    hint.textContent = t("reply_prompt");
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
        if (["success", "danger", "primary"].includes(button.style)) {
          element.classList.add(`key-${button.style}`);  // Telegram's button colours
        }
        element.textContent = button.text;
        const deepLink = startParameter(button.url);
        if (deepLink !== null) {
          // t.me/<this bot>?start=…: as Telegram does, open the private chat and send /start …
          element.href = "#";
          element.addEventListener("click", (event) => {
            event.preventDefault();
            startPrivately(deepLink);
          });
        } else if (button.url) {
          element.href = safeUrl(button.url);
          element.target = "_blank";
          element.rel = "noopener";
          element.textContent += " ↗";
        } else if (button.callback_data !== undefined) {
          element.type = "button";
          element.addEventListener("click", () => press(message, button, element));
        } else if (button.web_app) {
          // A Mini App: opened over the chat like Telegram does, signed for this person.
          element.type = "button";
          element.classList.add("web-app");
          element.addEventListener("click", () => openBoard());
        } else {
          element.type = "button";
          element.disabled = true;
          element.title = t("unsupported_button");
        }
        line.appendChild(element);
      }
      board.appendChild(line);
    }
    row.appendChild(board);
  }
  return row;
}

// ----------------------------------------------------------------------------- the Mini App

function startParameter(url) {
  const bot = state.info && state.info.bot;
  const found = /^https:\/\/t\.me\/([A-Za-z0-9_]+)\?start=([A-Za-z0-9_-]{1,64})$/.exec(url || "");
  return found && bot && found[1] === bot.username ? found[2] : null;
}

async function startPrivately(parameter) {
  try {
    await control("send_text", {user_id: state.me, chat_id: state.me, text: `/start ${parameter}`,
                                wait: true, timeout: 10});
    openChat(state.me);
    await refresh(true);
  } catch (error) {
    showError(error);
  }
}

async function openBoard() {
  const dark = document.documentElement.classList.contains("dark")
    || window.matchMedia("(prefers-color-scheme: dark)").matches;
  const response = await fetch("/sandbox/webapp", {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({user_id: state.me, dark}),
  });
  if (!response.ok) return;
  const {url} = await response.json();
  closeBoard();
  const overlay = document.createElement("div");
  overlay.id = "board-overlay";
  const phone = document.createElement("div");
  phone.className = "board-phone";
  // Telegram's Mini App frame: a bar with ✕ above the app, never over it.
  const bar = document.createElement("div");
  bar.className = "board-bar";
  const close = document.createElement("button");
  close.type = "button";
  close.id = "board-close";
  close.textContent = "✕";
  close.title = t("board_close");
  close.addEventListener("click", closeBoard);
  const name = document.createElement("span");
  name.textContent = "🚦 Greenlight";
  bar.append(close, name);
  const frame = document.createElement("iframe");
  frame.id = "board-frame";
  frame.title = t("board_title");
  frame.src = url;
  phone.append(bar, frame);
  overlay.appendChild(phone);
  overlay.addEventListener("click", (event) => { if (event.target === overlay) closeBoard(); });
  document.body.appendChild(overlay);
}

function closeBoard() {
  const overlay = document.getElementById("board-overlay");
  if (overlay) overlay.remove();
}

function keepBottom() {
  const box = $("messages");
  if (state.stuckToBottom) box.scrollTop = box.scrollHeight;
}

function renderMessages(forceBottom) {
  const box = $("messages");
  const scrolled = box.scrollTop;
  const chat = currentChat();
  box.innerHTML = "";
  if (!chat) {
    box.innerHTML = `<div class="empty">${escapeHtml(t("pick_chat_hint"))}</div>`;
    return;
  }
  if (!state.messages.length) {
    const empty = document.createElement("div");
    empty.className = "empty";
    empty.textContent = chat.type === "private" ? t("empty_private") : t("empty_group");
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
  if (forceBottom) state.stuckToBottom = true;
  box.scrollTop = state.stuckToBottom ? box.scrollHeight : scrolled;
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
  $("reply-name").textContent = t("reply_to", { name: senderName(message) });
  $("reply-text").textContent = snippet(message);
  $("reply-bar").classList.remove("hidden");
  $("input").placeholder = placeholder ? `${placeholder}…` : t("input_reply");
  $("input").focus();
  keepBottom();
}

function clearReply() {
  state.replyTo = null;
  $("reply-bar").classList.add("hidden");
  $("input").placeholder = t(isNarrow() ? "input_short" : "input");
}

function autoGrow() {
  const input = $("input");
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
}

function afterSend(result) {
  const chat = currentChat();
  if (result && result.delivered === false && chat && chat.type !== "private") {
    toast(t("privacy_toast"), "info");
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
    reader.onerror = () => reject(reader.error || new Error(t("read_failed")));
    reader.readAsDataURL(file);
  });
}

/** A picked file: a preview card with a caption field, as Telegram shows before sending. */
function previewAttachment() {
  const picker = $("file-input");
  const file = picker.files && picker.files[0];
  picker.value = "";
  if (!file || state.chatId === null) return;
  if (file.size > 20 * 1024 * 1024) {
    showError(new Error(t("too_big")));
    return;
  }
  closeAttachment();
  const photo = PHOTO_MIME.test(file.type);
  state.attachment = { file, photo, url: photo ? URL.createObjectURL(file) : "" };
  $("attach-title").textContent = t(photo ? "attach_photo" : "attach_document");
  $("attach-thumb").classList.toggle("hidden", !photo);
  $("attach-file").classList.toggle("hidden", photo);
  if (photo) $("attach-thumb").src = state.attachment.url;
  $("attach-name").textContent = file.name;
  $("attach-size").textContent = `${humanSize(file.size)} ${file.type || ""}`;
  const caption = $("attach-caption");
  caption.value = $("input").value.trim(); // what was typed becomes the caption
  $("input").value = "";
  autoGrow();
  $("attach").classList.remove("hidden");
  caption.focus();
}

function closeAttachment() {
  if (state.attachment && state.attachment.url) URL.revokeObjectURL(state.attachment.url);
  state.attachment = null;
  $("attach").classList.add("hidden");
  $("attach-thumb").removeAttribute("src");
}

async function sendAttachment(event) {
  if (event) event.preventDefault();
  const attachment = state.attachment;
  if (!attachment || state.chatId === null || state.busy) return;
  state.busy = true;
  $("attach-send").disabled = true;
  try {
    const body = {
      user_id: state.me,
      chat_id: state.chatId,
      content: await readBase64(attachment.file),
      caption: $("attach-caption").value.trim() || undefined,
      reply_to_message_id: state.replyTo ? state.replyTo.message_id : undefined,
      wait: true,
      timeout: 10,
    };
    let result;
    if (attachment.photo) {
      result = await control("send_photo", body);
    } else {
      result = await control("send_document", {
        ...body, file_name: attachment.file.name,
        mime_type: attachment.file.type || "application/octet-stream",
      });
    }
    closeAttachment();
    clearReply();
    afterSend(result);
    await refresh(true);
  } catch (error) {
    showError(error);
  } finally {
    state.busy = false;
    $("attach-send").disabled = false;
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
    if (answer && answer.show_alert) {
      modal(state.info.bot.first_name, answer.text || "");
    } else if (answer && answer.text) {
      toast(answer.text, "answer");
    } else if (answer && answer.url) {
      window.open(answer.url, "_blank", "noopener");
    } else if (!result.answered) {
      toast(t("no_answer"), "error");
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

const CLOCK_BUTTONS = ["btn-hour", "btn-day", "btn-next", "btn-sweep"];

/** While a move of the clock sweeps (the bot may be held by Telegram's rate limits), the
 * clock buttons wait and, after a moment, say why. */
async function clockBusy(work) {
  for (const id of CLOCK_BUTTONS) $(id).disabled = true;
  const slow = setTimeout(() => toast(t("sweeping"), "info"), 1500);
  try {
    return await work();
  } finally {
    clearTimeout(slow);
    for (const id of CLOCK_BUTTONS) $(id).disabled = false;
    renderNext();
  }
}

async function advance(body, label) {
  try {
    const result = await clockBusy(() => post("/sandbox/advance", body));
    renderClock(result.clock);
    const sent = result.sent ? t("sent_n", { n: result.sent }) : t("sent_none");
    const failed = result.failed ? t("failed_n", { n: result.failed }) : "";
    toast(`${t("advanced", { label, time: clockText(new Date(Date.parse(result.clock.now))) })}${sent}${failed}`,
      result.sent ? "answer" : "info");
    await refresh(true);
  } catch (error) {
    showError(error);
  }
}

async function sweep() {
  try {
    const result = await clockBusy(() => post("/sandbox/sweep"));
    renderClock(result.clock);
    toast(result.sent ? t("swept", { n: result.sent }) : t("swept_none"), result.sent ? "answer" : "info");
    await refresh(true);
  } catch (error) {
    showError(error);
  }
}

/** What "to the next due" would do, shown on the button before it is pressed. */
async function loadNext() {
  if (state.next === null) return;
  try {
    state.next = await get("/sandbox/next");
  } catch (error) {
    if (error.noRoute) state.next = null; // a sandbox without the route: no button
    else return;
  }
  renderNext();
}

function renderNext() {
  const button = $("btn-next");
  const next = state.next;
  button.classList.toggle("hidden", !next);
  if (!next) return;
  button.disabled = !next.at;
  const what = next.at ? [next.text, next.what].filter(Boolean).join(" · ") : (next.text || t("next_none"));
  button.title = `${t("next_title")}\n${what}`;
  button.dataset.what = what;
  $("next-what").textContent = next.at ? next.text || "" : t("next_none");
}

function renderErrors(errors) {
  const notices = [];
  const faults = [];
  for (const e of errors || []) {
    (e.error_code === 403 && EXPECTED_REFUSAL.test(e.description || "") ? notices : faults).push(e);
  }
  const button = $("btn-errors");
  button.classList.toggle("hidden", !faults.length);
  $("error-count").textContent = String(faults.length);
  button.onclick = () => modal(t("errors_modal"), faults.map(describeCall).join("\n\n"));

  const names = [...new Set(notices.map((e) => {
    const who = person(e.chat_id);
    return who ? who.name : String(e.chat_id);
  }))];
  const info = $("btn-notices");
  info.classList.toggle("hidden", !names.length);
  const sep = state.lang === "en" ? ", " : "、";
  $("notice-text").textContent = isNarrow() ? String(names.length) : t("not_started_notice", { names: names.join(sep) });
  info.title = t("not_started_notice", { names: names.join(sep) });
  info.onclick = () => modal(t("not_started_notice", { names: names.join(sep) }),
    `${t("notices_modal")}\n\n${notices.map(describeCall).join("\n\n")}`);
}

function describeCall(e) {
  const who = person(e.chat_id);
  const where = who ? `${who.name}` : e.chat_id !== undefined && e.chat_id !== null ? `chat ${e.chat_id}` : "";
  const at = e.at ? formatTime(sandboxDate(e.at)) : "";
  return `${at} ${e.method} ${where}\n  ${e.description || e.error_code}`;
}

// ----------------------------------------------------------------------------- language

async function switchLanguage(lang) {
  state.lang = lang;
  state.langChosen = true;
  localStorage.setItem("greenlight-sandbox-lang", lang);
  rerender();
  await tellBotLanguage(true);
}

/** POST /sandbox/lang for the persona acted as, so the bot answers in the page's language. */
async function tellBotLanguage(announce) {
  if (!state.langChosen || state.me === null || state.langRoute === false) return;
  const who = person(state.me);
  try {
    await post("/sandbox/lang", { user_id: state.me, lang: state.lang });
    state.langRoute = true;
    if (announce) toast(t("lang_done", { name: who ? who.name : state.me }), "info");
  } catch (error) {
    if (error.noRoute) {
      state.langRoute = false;
      if (announce) toast(t("lang_unsupported"), "info");
    } else if (announce) {
      showError(error);
    }
  }
}

function rerender() {
  applyStrings();
  renderClock();
  renderHelp();
  if (!state.info) return;
  fillActAs();
  renderMe();
  renderChatList();
  renderHeader();
  renderMessages(false);
  renderNext();
  if (state.overview) renderErrors(state.overview.api_errors);
}

// ----------------------------------------------------------------------------- the guide panel

function helpOpen() {
  const stored = localStorage.getItem("greenlight-sandbox-help");
  if (stored) return stored === "open";
  return !isNarrow(); // first visit: open on a desktop, one line on a phone
}

function renderHelp() {
  const open = helpOpen();
  $("help").classList.toggle("collapsed", !open);
  $("help-toggle").setAttribute("aria-expanded", String(open));
}

function toggleHelp() {
  localStorage.setItem("greenlight-sandbox-help", helpOpen() ? "collapsed" : "open");
  renderHelp();
}

// ----------------------------------------------------------------------------- navigation

function openChat(chatId) {
  state.chatId = chatId;
  state.chatJson = "";
  state.messages = [];
  state.stuckToBottom = true;
  clearReply();
  localStorage.setItem("greenlight-sandbox-chat", String(chatId));
  document.body.classList.add("in-chat");
  placeToasts();
  renderChatList();
  renderHeader();
  renderMessages(true);
  refresh(true).catch(showError);
  if (!isNarrow()) $("input").focus();
}

function actAs(userId) {
  $("toasts").innerHTML = ""; // what the last persona was told is not for this one
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
  listen();
  tellBotLanguage(false);
  refresh(true).then(() => {
    const chats = state.overview ? state.overview.chats : [];
    const remembered = Number(localStorage.getItem(`greenlight-sandbox-chat-${userId}`));
    const group = chats.find((c) => c.id === remembered) || chats.find((c) => c.type !== "private") || chats[0];
    if (group && !isNarrow()) openChat(group.id);
  }).catch(showError);
}

// ----------------------------------------------------------------------------- live updates

/** The server's event stream for the persona acted as: whatever changes in a chat they see,
 * or on the clock, brings one refresh; an idle page makes no requests. EventSource
 * reconnects by itself; the page then catches up. */
function listen() {
  if (state.events) state.events.close();
  const source = new EventSource(`/sandbox/events?user_id=${encodeURIComponent(state.me)}`);
  state.events = source;
  source.addEventListener("hello", (event) => {
    const hello = JSON.parse(event.data);
    if (state.runId && hello.run_id && hello.run_id !== state.runId) {
      window.location.reload(); // a new sandbox run: start over with its people and chats
      return;
    }
    if (state.eventsLost) toast(t("reconnected"), "info");
    state.eventsLost = false;
    soon();
  });
  for (const kind of ["message", "prompt", "errors"]) source.addEventListener(kind, () => soon());
  source.addEventListener("clock", (event) => {
    renderClock(JSON.parse(event.data).clock);
    soon();
  });
  source.onerror = () => {
    if (source !== state.events || state.eventsLost) return;
    state.eventsLost = true;
    toast(t("reconnecting"), "error");
  };
}

/** One refresh for a burst of events (the bot often sends a few messages at once). */
function soon() {
  if (state.refreshTimer) return;
  state.refreshTimer = setTimeout(() => {
    state.refreshTimer = 0;
    refresh(false).catch(showError);
    loadNext();
  }, 40);
}

async function refresh(scrollDown) {
  // One refresh at a time; one more after it if something happened meanwhile.
  if (state.refreshing) {
    state.again = true;
    return state.refreshing;
  }
  state.refreshing = load(scrollDown);
  try {
    await state.refreshing;
  } finally {
    state.refreshing = null;
  }
  if (state.again) {
    state.again = false;
    await refresh(false);
  }
  return undefined;
}

async function load(scrollDown) {
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

// ----------------------------------------------------------------------------- start

async function main() {
  loadSeen();
  const lang = localStorage.getItem("greenlight-sandbox-lang");
  if (lang === "zh" || lang === "en") {
    state.lang = lang;
    state.langChosen = true;
  }
  applyStrings();
  renderHelp();
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
  $("file-input").addEventListener("change", previewAttachment);
  $("attach-form").addEventListener("submit", sendAttachment);
  $("attach-cancel").addEventListener("click", closeAttachment);
  $("reply-cancel").addEventListener("click", clearReply);
  $("back").addEventListener("click", () => {
    document.body.classList.remove("in-chat");
    placeToasts();
  });
  $("btn-hour").addEventListener("click", () => advance({ hours: 1 }, `⏩ ${t("hour")}`));
  $("btn-day").addEventListener("click", () => advance({ working_days: 1 }, `⏩ ${t("day")}`));
  $("btn-next").addEventListener("click", () => advance({ to: "next_due" }, `⏭ ${t("next")}`));
  $("btn-sweep").addEventListener("click", sweep);
  $("btn-board").addEventListener("click", () => openBoard());
  $("btn-lang").addEventListener("click", () => switchLanguage(state.lang === "en" ? "zh" : "en"));
  $("btn-help").addEventListener("click", toggleHelp);
  $("help-toggle").addEventListener("click", toggleHelp);
  $("modal-ok").addEventListener("click", () => $("modal").classList.add("hidden"));
  $("modal").addEventListener("click", (event) => {
    if (event.target === $("modal")) $("modal").classList.add("hidden");
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      $("modal").classList.add("hidden");
      closeAttachment();
      clearReply();
    }
  });
  $("messages").addEventListener("scroll", () => {
    const box = $("messages");
    state.stuckToBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  });
  if (typeof ResizeObserver === "function") new ResizeObserver(keepBottom).observe($("messages"));
  window.addEventListener("resize", () => {
    placeToasts();
    renderClock();
    if (state.overview) renderErrors(state.overview.api_errors);
    if (!state.replyTo) $("input").placeholder = t(isNarrow() ? "input_short" : "input");
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
  // The shown time runs on by itself (no request): the minute changes every 60 s.
  setInterval(() => renderClock(), 15000);
  actAs(state.me);
  loadNext();
}

main();

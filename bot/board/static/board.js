// The lights board, a Telegram Mini App without telegram-web-app.js: the launch parameters
// are read from location.hash as Telegram's clients pass them (tgWebAppData,
// tgWebAppThemeParams). Every text from the server is set with textContent, never as HTML.
'use strict';

(function () {
  const launch = new URLSearchParams(location.hash.slice(1));
  const initData = launch.get('tgWebAppData') || sessionStorage.getItem('tgWebAppData') || '';
  if (launch.get('tgWebAppData')) sessionStorage.setItem('tgWebAppData', initData);
  const LIGHT_ORDER = ['red', 'yellow', 'green'];
  const EMOJI = { red: '🔴', yellow: '🟡', green: '🟢' };
  let strings = {};
  let filters = { unit: '', section: '', person: '', light: '' };
  let lastBoard = null;

  const $ = (id) => document.getElementById(id);
  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // -- Telegram ------------------------------------------------------------------------------
  function postEvent(type, data) {
    const body = JSON.stringify({ eventType: type, eventData: data || {} });
    try {
      if (window.TelegramWebviewProxy) window.TelegramWebviewProxy.postEvent(type, JSON.stringify(data || {}));
      else if (window.external && 'notify' in window.external) window.external.notify(body);
      else if (window.parent !== window) window.parent.postMessage(body, '*');
    } catch (e) { /* outside Telegram: nobody to tell */ }
  }

  function applyTheme() {
    let theme = {};
    try { theme = JSON.parse(launch.get('tgWebAppThemeParams') || '{}') || {}; } catch (e) { theme = {}; }
    const names = {
      bg_color: '--bg', text_color: '--text', hint_color: '--hint', link_color: '--link',
      button_color: '--button', button_text_color: '--button-text',
      secondary_bg_color: '--secondary-bg', section_bg_color: '--section-bg',
    };
    const root = document.documentElement.style;
    for (const [key, variable] of Object.entries(names)) {
      const value = theme[key];
      if (typeof value === 'string' && /^#[0-9a-fA-F]{3,8}$/.test(value)) root.setProperty(variable, value);
    }
    if (!theme.section_bg_color && theme.bg_color) root.setProperty('--section-bg', theme.bg_color);
  }

  // -- the API -------------------------------------------------------------------------------
  async function api(path) {
    const response = await fetch(path, { headers: { Authorization: 'tma ' + initData }, cache: 'no-store' });
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok || !body) {
      const error = new Error((body && body.message) || strings.failed || String(response.status));
      error.refused = body && body.error;
      error.status = response.status;
      throw error;
    }
    return body;
  }

  function showNotice(message, reason) {
    $('board').replaceChildren();
    $('case').hidden = true;
    $('counts').hidden = true;
    $('filters').hidden = true;
    const notice = $('notice');
    notice.textContent = message;
    notice.dataset.reason = reason || '';
    notice.hidden = false;
  }

  // -- the board -----------------------------------------------------------------------------
  async function loadBoard() {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(filters)) if (value) query.set(key, value);
    try {
      const board = await api('board/api/overview' + (query.toString() ? '?' + query : ''));
      lastBoard = board;
      renderBoard(board);
    } catch (error) {
      showNotice(error.message, error.refused);
    }
  }

  function fillSelect(select, options, chosen) {
    select.replaceChildren();
    const all = el('option', '', strings.all);
    all.value = '';
    select.append(all);
    for (const option of options) {
      const node = el('option', '', option.name);
      node.value = String(option.id);
      select.append(node);
    }
    select.value = chosen || '';
  }

  function renderBoard(board) {
    strings = board.strings;
    document.documentElement.lang = board.locale;
    document.title = strings.title;
    $('title').textContent = '🚦 ' + strings.title;
    $('as-of').textContent = strings.updated + ' ' + board.now.text;
    $('notice').hidden = true;

    const counts = $('counts');
    counts.replaceChildren();
    for (const light of LIGHT_ORDER) {
      const chip = el('button', 'chip ' + light + (filters.light === light ? ' on' : ''));
      chip.type = 'button';
      chip.dataset.light = light;
      chip.append(el('span', 'dot ' + light), el('span', 'n', board.counts.projects[light]),
                  el('span', 'hint', strings[light]));
      chip.title = strings.light + ': ' + strings[light];
      chip.setAttribute('aria-pressed', filters.light === light ? 'true' : 'false');
      chip.addEventListener('click', () => {
        filters.light = filters.light === light ? '' : light;
        loadBoard();
      });
      counts.append(chip);
    }
    counts.hidden = false;

    $('unit-label').textContent = strings.unit;
    $('section-label').textContent = strings.section;
    $('person-label').textContent = strings.person;
    const units = board.filters.units;
    $('unit-box').hidden = units.length <= 1;  // a filter only where there is a choice
    fillSelect($('f-unit'), units, filters.unit);
    fillSelect($('f-section'), board.filters.sections, filters.section);
    fillSelect($('f-person'), board.filters.people, filters.person);
    $('filters').hidden = false;

    const main = $('board');
    main.replaceChildren();
    if (board.steps_hidden) main.append(el('p', 'hint', strings.pick_unit));
    // Unit headings only where the viewer sees more than one unit.
    const manyUnits = board.groups.length > 1 || board.filters.units.length > 1;
    let shown = 0;
    for (const group of board.groups) {
      if (manyUnits) main.append(el('h2', 'unit-title', group.unit ? group.unit.name : strings.no_unit));
      for (const section of group.sections) {
        main.append(el('h3', 'section-title', section.section ? section.section.name : strings.no_section));
        for (const project of section.projects) {
          main.append(projectCard(project));
          shown += 1;
        }
      }
    }
    if (!shown) main.append(el('p', 'empty', strings.nothing));
    if (!$('case').hidden) main.hidden = true;
  }

  function projectCard(project) {
    const light = project.light || 'done';
    const card = el('article', 'project ' + light);
    card.dataset.project = project.code;
    card.dataset.light = light;
    const head = el('div', 'p-head');
    const title = el('div', 's-body');
    title.append(el('div', 'p-name', project.name),
                 el('div', 'p-code', project.code + ' · ' + project.status_text));
    head.append(el('span', 'dot ' + light), title);
    card.append(head);
    if (project.milestone) {
      const m = project.milestone;
      card.append(el('div', 'line', EMOJI[m.light] + ' ' + strings.milestone + ' · ' + m.title
                     + ' · ' + strings.due + ' ' + m.due.text));
    }
    if (project.steps.length) {
      const list = el('ul', 'steps');
      for (const step of project.steps) list.append(stepButton(step));
      card.append(list);
    }
    if (project.steps_more) card.append(el('div', 'more', '+' + project.steps_more + ' ' + strings.more));
    return card;
  }

  function stepButton(step) {
    const item = el('li');
    const button = el('button', 'step');
    button.type = 'button';
    button.dataset.case = String(step.case_id);
    button.dataset.light = step.light || '';
    const body = el('div', 's-body');
    body.append(el('div', 's-name', step.case_title), el('div', 's-meta', step.name));
    const due = step.due ? strings.due + ' ' + step.due.text : strings.no_due;
    body.append(el('div', 's-meta' + (step.light === 'red' ? ' red' : ''), due));
    if (step.holders.length) body.append(el('div', 's-meta', strings.holders + ': ' + step.holders.join('、')));
    button.append(el('span', 'dot ' + (step.light || 'done')), body, el('span', 'chev', '›'));
    button.addEventListener('click', () => openCase(step.case_id));
    item.append(button);
    return item;
  }

  // -- a case's timeline ---------------------------------------------------------------------
  async function openCase(caseId) {
    try {
      const found = await api('board/api/case/' + encodeURIComponent(caseId));
      renderCase(found);
    } catch (error) {
      showNotice(error.message, error.refused);
    }
  }

  function renderCase(found) {
    const body = $('case-body');
    body.replaceChildren();
    const head = el('div', 'card');
    head.append(el('div', 'c-title', found.case.title),
                el('div', 'hint', found.case.project.code + ' ' + found.case.project.name
                   + ' · #' + found.case.query_code),
                el('div', 'line', strings.submitted_by + ' ' + found.case.submitter
                   + (found.case.created ? ' · ' + found.case.created.text : '')));
    body.append(head);
    for (const step of found.steps) {
      const card = el('div', 'card t-step ' + (step.light || ''));
      card.dataset.state = step.state;
      const title = (step.light ? EMOJI[step.light] + ' ' : '') + step.name;
      card.append(el('div', 's-name', title));
      const meta = [step.state_text];
      if (step.round > 1) meta.push(strings.round + ' ' + step.round);
      if (step.due) meta.push(strings.due + ' ' + step.due.text);
      if (step.deemed) meta.push(strings.deemed);
      card.append(el('div', 's-meta', meta.join(' · ')));
      if (step.decisions.length) {
        card.append(el('div', 't-sub', strings.decisions));
        for (const d of step.decisions) {
          card.append(el('div', 't-item', d.text + ' · ' + d.who + (d.at ? ' · ' + d.at.text : '')));
          if (d.reason) card.append(el('div', 't-item hint', strings.reason + ': ' + d.reason));
          if (d.comment) card.append(el('div', 't-item hint', strings.comment + ': ' + d.comment));
        }
      }
      if (step.nudges.length) {
        card.append(el('div', 't-sub', strings.nudges));
        for (const n of step.nudges) {
          const notes = [];
          if (!n.sent) notes.push(strings.not_sent);
          if (n.late) notes.push(strings.late);
          card.append(el('div', 't-item', n.text + ' → ' + n.who + ' · ' + n.at.text
                         + (notes.length ? ' (' + notes.join(', ') + ')' : '')));
        }
      }
      body.append(card);
    }
    $('back').textContent = '‹ ' + strings.back;
    $('board').hidden = true;
    $('top').hidden = true;
    $('case').hidden = false;
    window.scrollTo(0, 0);
  }

  function closeCase() {
    $('case').hidden = true;
    $('top').hidden = false;
    $('board').hidden = false;
  }

  // -- start ---------------------------------------------------------------------------------
  document.addEventListener('DOMContentLoaded', () => {
    applyTheme();
    $('back').addEventListener('click', closeCase);
    for (const key of ['unit', 'section', 'person']) {
      $('f-' + key).addEventListener('change', (event) => {
        filters[key] = event.target.value;
        loadBoard();
      });
    }
    postEvent('web_app_ready');
    postEvent('web_app_expand');
    loadBoard();
  });
  window.greenlightBoard = { reload: loadBoard, last: () => lastBoard };
})();

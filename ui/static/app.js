// The keys page: a live table of ApiKeys (server-sent events from the local server's watch), a detail
// view per key id, and the actions — each within two clicks, disabled when RBAC says no.
// Plain ES module, no framework: every value goes into the DOM as text, never as HTML.
import {
  customExpiration,
  expirationChoice,
  expiresText,
  listOrAll,
  matches,
  modelScope,
  relativeTime,
  sortKeys,
  sourceIps,
} from './format.js';

const $ = (sel) => document.querySelector(sel);
const keys = new Map();
const accessCache = new Map();
let session = { namespace: 'default' };
let scope = 'default';
let events;
let detailKey;
/** True between a snapshot and the next (re)connect: the table is the server's current list. */
let live = false;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'class') node.className = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) node.append(c instanceof Node ? c : String(c));
  return node;
}

async function api(path, body) {
  const res = await fetch(
    path,
    body === undefined
      ? {}
      : {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        },
  );
  const data = await res.json().catch(() => ({ ok: false, errors: { _form: `HTTP ${res.status}` } }));
  if (!res.ok && data.ok === undefined) data.ok = false;
  return data;
}

const idOf = (k) => `${k.namespace}/${k.name}`;
const now = () => Date.now();

function accessFor(namespace) {
  if (!accessCache.has(namespace)) {
    accessCache.set(
      namespace,
      api(`/api/access?namespace=${encodeURIComponent(namespace)}`).then((a) => {
        render();
        return a;
      }),
    );
  }
  return accessCache.get(namespace);
}
/** Synchronously known access (undefined until the API server has answered). */
const knownAccess = new Map();
async function loadAccess(namespace) {
  knownAccess.set(namespace, await accessFor(namespace));
}

function actionButton(label, action, namespace, onclick, extra = {}) {
  const a = knownAccess.get(namespace)?.[action];
  const allowed = a?.allowed === true;
  return el(
    'button',
    {
      type: 'button',
      ...extra,
      disabled: !allowed,
      title: a === undefined ? 'checking permissions…' : allowed ? undefined : `needs: ${a.needs}`,
      onclick: allowed ? onclick : undefined,
    },
    label,
  );
}

// ---- the list ----

function filters() {
  return {
    search: $('#f-search').value.trim(),
    team: $('#f-team').value,
    environment: $('#f-env').value,
    state: $('#f-state').value,
    scope: $('#f-scope').value,
    model: $('#f-model').value.trim(),
    candidates: $('#f-candidates').checked,
  };
}

function stateBadge(k) {
  return el('span', { class: `state state-${k.state.split(' ')[0].toLowerCase()}` }, k.state);
}

function row(k) {
  const t = now();
  const scopeOfModels = modelScope(k);
  const revoked = k.state === 'Revoked';
  for (const ns of [k.namespace]) if (!knownAccess.has(ns)) void loadAccess(ns);
  return el(
    'tr',
    { 'data-key': idOf(k) },
    el(
      'th',
      { scope: 'row' },
      el(
        'button',
        { type: 'button', class: 'link', 'data-focus': `${idOf(k)}:open`, onclick: () => openDetail(idOf(k)) },
        k.name,
      ),
      k.revokeCandidate
        ? el('span', { class: 'candidate', title: 'candidate to revoke' }, ` ${k.revokeCandidate}`)
        : null,
    ),
    el('td', { class: 'ns-col' }, k.namespace),
    el('td', {}, k.spec.team ?? ''),
    el('td', {}, k.spec.environment ?? '—'),
    el('td', {}, stateBadge(k)),
    el(
      'td',
      {},
      el(
        'span',
        { class: scopeOfModels.restricted ? 'scope restricted' : 'scope all' },
        scopeOfModels.restricted ? 'restricted: ' : '',
        scopeOfModels.text,
      ),
    ),
    // Without a list of its own a key gets what its Team allows, which may be confined (docs/design.md §2).
    el('td', {}, listOrAll(k.spec.allowedEndpoints, 'all team endpoints')),
    el('td', {}, listOrAll(sourceIps(k.spec), 'any the team allows')),
    el('td', { title: k.status.expiresAt ?? '' }, expiresText(k, t) ?? ''),
    el('td', { class: 'last-used', title: k.status.lastUsedAt ?? '' }, relativeTime(k.status.lastUsedAt, t) ?? 'never'),
    el('td', { class: 'num requests' }, String(k.status.usage?.requests ?? 0)),
    el('td', { class: 'num credits' }, String(k.status.usage?.credits ?? 0)),
    el(
      'td',
      { class: 'actions' },
      actionButton('Edit', 'edit', k.namespace, () => openEditor('edit', k), { 'data-focus': `${idOf(k)}:edit` }),
      actionButton('Duplicate', 'create', k.namespace, () => openEditor('duplicate', k), {
        'data-focus': `${idOf(k)}:dup`,
      }),
      revoked
        ? null
        : actionButton('Rotate', 'edit', k.namespace, () => confirmRotate(k), { 'data-focus': `${idOf(k)}:rotate` }),
      revoked
        ? null
        : actionButton('Revoke', 'edit', k.namespace, () => confirmRevoke(k), { 'data-focus': `${idOf(k)}:revoke` }),
    ),
  );
}

function syncTeamFilter() {
  const select = $('#f-team');
  const current = select.value;
  const teams = [...new Set([...keys.values()].map((k) => k.spec.team).filter(Boolean))].sort();
  const have = [...select.options].slice(1).map((o) => o.value);
  if (have.join() === teams.join()) return;
  select.replaceChildren(el('option', { value: '' }, 'any'), ...teams.map((t) => el('option', {}, t)));
  select.value = teams.includes(current) ? current : '';
}

function render() {
  const focused = document.activeElement?.getAttribute?.('data-focus');
  syncTeamFilter();
  const shown = sortKeys(
    [...keys.values()].filter((k) => matches(k, filters())),
    $('#f-sort').value,
  );
  $('#keys').classList.toggle('all-namespaces', scope === '');
  $('#keys tbody').replaceChildren(...shown.map(row));
  $('#empty').hidden = shown.length > 0;
  if (live)
    $('#live').textContent =
      `live · ${keys.size} keys in ${scope === '' ? 'all namespaces' : `namespace ${scope}`}` +
      (shown.length < keys.size ? `, ${shown.length} shown` : '');
  if (focused) document.querySelector(`[data-focus="${CSS.escape(focused)}"]`)?.focus();
  const ns = scope;
  const a = knownAccess.get(ns);
  const banner = $('#readonly');
  const missing = a ? ['create', 'edit'].filter((x) => !a[x].allowed).map((x) => a[x].needs) : [];
  banner.hidden = missing.length === 0;
  banner.textContent = missing.length
    ? `Some actions are disabled: your Kubernetes identity may not ${missing.join(', nor ')}.`
    : '';
  const newKey = $('#new-key');
  newKey.disabled = a?.create.allowed !== true;
  newKey.title = a && !a.create.allowed ? `needs: ${a.create.needs}` : '';
  if (detailKey && $('#detail').open) renderDetail();
}

// ---- live updates ----

function connect() {
  events?.close();
  live = false;
  keys.clear();
  render();
  $('#denied').hidden = true;
  $('#live').textContent = 'connecting…';
  void loadAccess(scope).then(render);
  events = new EventSource(`/api/events?namespace=${encodeURIComponent(scope)}`);
  events.addEventListener('snapshot', (e) => {
    keys.clear();
    for (const k of JSON.parse(e.data).keys) keys.set(idOf(k), k);
    live = true;
    render();
  });
  events.addEventListener('upsert', (e) => {
    const k = JSON.parse(e.data).key;
    keys.set(idOf(k), k);
    render();
  });
  events.addEventListener('delete', (e) => {
    const d = JSON.parse(e.data);
    keys.delete(`${d.namespace}/${d.name}`);
    render();
  });
  events.addEventListener('denied', (e) => {
    events.close();
    live = false;
    $('#denied').hidden = false;
    $('#denied').textContent = `You may not see these keys: needs ${JSON.parse(e.data).needs.join(' and ')}.`;
    $('#live').textContent = '';
  });
  events.onerror = () => {
    live = false;
    if (events.readyState !== EventSource.CLOSED) $('#live').textContent = 'reconnecting…';
  };
}

// ---- detail ----

/** The open key's audit trail: { id, resourceVersion, entries } or { id, resourceVersion, error }. */
let history;

async function loadHistory(k) {
  const mine = { id: idOf(k), resourceVersion: k.resourceVersion };
  history = { ...mine, loading: true };
  const a = knownAccess.get(k.namespace)?.history;
  const r =
    a && !a.allowed ? { ok: false, errors: { _form: `needs ${a.needs}` } } : await api(`${keyPath(k, 'history')}`);
  if (history.id !== mine.id) return;
  history = r.ok ? { ...mine, entries: r.entries } : { ...mine, error: Object.values(r.errors ?? {}).join('; ') };
  renderDetail();
}

function historySection(k) {
  if (!history || history.id !== idOf(k) || history.loading)
    return el('p', { class: 'muted' }, 'Loading the audit trail…');
  if (history.error) return el('p', { class: 'muted' }, `Audit trail unavailable: ${history.error}`);
  if (history.entries.length === 0) return el('p', { class: 'muted' }, 'No audit entries yet.');
  return el(
    'table',
    { class: 'history' },
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        ...['Time', 'Action', 'Key id', 'Who', 'Source IP', 'Details'].map((h) => el('th', { scope: 'col' }, h)),
      ),
    ),
    el(
      'tbody',
      {},
      history.entries.map((e) =>
        el(
          'tr',
          {},
          el('td', { title: e.time }, relativeTime(e.time, now()) ?? e.time),
          el('td', {}, e.action),
          el('td', {}, e.keyId ?? ''),
          // The person first; who impersonated them on a line of its own, so long names never break the person's.
          el(
            'td',
            {},
            e.actor,
            e.impersonatedBy ? el('small', { class: 'via muted' }, `impersonated by ${e.impersonatedBy}`) : null,
          ),
          el('td', {}, e.sourceIp ?? 'unknown'),
          el(
            'td',
            {},
            [e.fields?.length ? `changed ${e.fields.join(', ')}` : '', e.reason ?? ''].filter(Boolean).join('; '),
          ),
        ),
      ),
    ),
  );
}

function createdBy() {
  return history?.entries?.find((e) => e.action === 'create')?.actor;
}

function openDetail(id) {
  detailKey = id;
  const k = keys.get(id);
  if (k) void loadHistory(k);
  renderDetail();
  if (!$('#detail').open) $('#detail').showModal();
}

const dl = (pairs) =>
  el(
    'dl',
    {},
    pairs.filter(([, v]) => v !== undefined && v !== '').flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]),
  );

function renderDetail() {
  const k = keys.get(detailKey);
  if (!k) return;
  // The operator appends to the trail after each change of the key: re-read it when the key changed.
  if (history && history.id === idOf(k) && history.resourceVersion !== k.resourceVersion && !history.loading)
    void loadHistory(k);
  const t = now();
  const s = k.spec;
  const st = k.status;
  const when = (iso) => (iso ? `${relativeTime(iso, t)} (${iso})` : 'never');
  const handoff = s.rotation?.handoff;
  $('#detail-title').textContent = `${k.namespace}/${k.name}`;
  const rows = (st.keys ?? []).map((e) =>
    el(
      'tr',
      { 'data-key-id': e.id },
      el('td', {}, el('code', {}, e.id), e.id === st.currentKeyId ? ' (current)' : ''),
      el('td', {}, `…${e.hint}`),
      el('td', {}, e.state),
      el('td', { title: e.createdAt }, relativeTime(e.createdAt, t) ?? ''),
      el('td', {}, e.expiresAt ? relativeTime(e.expiresAt, t) : 'never'),
      el('td', { class: 'last-used', title: e.lastUsedAt ?? '' }, relativeTime(e.lastUsedAt, t) ?? 'never'),
      el('td', { class: 'num requests' }, String(e.requests ?? 0)),
      el('td', { class: 'num' }, String(e.credits ?? 0)),
      el(
        'td',
        {},
        e.revokedAt ? `${relativeTime(e.revokedAt, t)}${e.revokedReason ? `: ${e.revokedReason}` : ''}` : '',
      ),
    ),
  );
  $('#detail-body').replaceChildren(
    ...[
      dl([
        ['State', k.state],
        ['Team', s.team],
        ['Environment', s.environment ?? 'none'],
        ['Models', modelScope(k).text],
        ['Endpoints', listOrAll(s.allowedEndpoints, 'all the team allows')],
        ['IP allowlist', listOrAll(sourceIps(s), 'any source the team allows')],
        ['Expiration', s.expiration ?? 'Never'],
        ['Expires', st.expiresAt ? when(st.expiresAt) : 'never'],
        ['Created', when(k.createdAt)],
        ['Created by', createdBy()],
        ['Last used', when(st.lastUsedAt)],
        ['Lifetime usage', `${st.usage?.requests ?? 0} requests, ${st.usage?.credits ?? 0} credits`],
        [
          'Rate limit',
          [
            s.rateLimit?.requestsPerMinute && `${s.rateLimit.requestsPerMinute} requests/min`,
            s.rateLimit?.tokensPerMinute && `${s.rateLimit.tokensPerMinute} tokens/min`,
          ]
            .filter(Boolean)
            .join(', ') || 'none',
        ],
        [
          'Budget',
          s.budget
            ? `${s.budget.credits} credits${s.budget.period && s.budget.period !== 'Never' ? ` per ${s.budget.period === 'Daily' ? 'day' : 'month'}` : ''}`
            : 'none',
        ],
        [
          'Rotation',
          s.rotation
            ? `${s.rotation.automatic ? `automatic, ${s.rotation.before ?? 'default'} before expiry` : 'manual'}` +
              `; hand-off ${handoff?.mode ? `${handoff.mode}, ` : ''}after ${handoff?.idle ?? '1h'} idle, at most ${handoff?.maxOverlap ?? '7d'}`
            : 'on request',
        ],
        ['Revoked key ids', (s.revokedKeyIds ?? []).join(', ')],
        ['Secret', `${st.secretName ?? s.secret?.name ?? k.name} (data key ${s.secret?.key ?? 'api-key'})`],
        ['Revoke candidate', k.revokeCandidate],
      ]),
      handoffSection(k),
      el('h3', {}, 'Key ids (hand-off evidence)'),
      el(
        'table',
        { class: 'key-ids' },
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            ...['Key id', 'Hint', 'State', 'Created', 'Expires', 'Last used', 'Requests', 'Credits', 'Revoked'].map(
              (h) => el('th', { scope: 'col' }, h),
            ),
          ),
        ),
        el('tbody', {}, rows),
      ),
      rows.length === 0 ? el('p', { class: 'muted' }, 'No key id yet: the operator has not issued this key.') : null,
      el('h3', {}, 'History'),
      historySection(k),
      el('h3', {}, 'Conditions'),
      el(
        'ul',
        {},
        (st.conditions ?? []).map((c) => el('li', {}, `${c.type}=${c.status} ${c.reason}: ${c.message}`)),
      ),
    ].filter(Boolean),
  );
}

/** Manual hand-off (spec.rotation.handoff.mode: Manual): the user confirms it once the successor is in use. */
function handoffSection(k) {
  if (k.spec.rotation?.handoff?.mode !== 'Manual') return null;
  const predecessors = (k.status.keys ?? []).filter((e) => e.state === 'Superseded');
  if (predecessors.length === 0) return el('p', { class: 'muted' }, 'Manual hand-off: nothing is waiting.');
  const current = (k.status.keys ?? []).find((e) => e.id === k.status.currentKeyId);
  const used = current?.lastUsedAt !== undefined;
  const button = actionButton(
    'Complete hand-off',
    'edit',
    k.namespace,
    async () => {
      const r = await api(keyPath(k, 'handoff'), {});
      toast(r.ok ? r.message : Object.values(r.errors ?? {}).join('; '));
    },
    { class: 'primary' },
  );
  if (!used) {
    button.disabled = true;
    button.title = 'the successor has not been used yet';
  }
  return el(
    'section',
    { 'aria-label': 'Manual hand-off' },
    el('h3', {}, 'Manual hand-off'),
    el(
      'p',
      {},
      `Predecessors ${predecessors.map((e) => e.id).join(', ')} stay valid until you complete the hand-off. ` +
        (used
          ? `The successor ${current.id} was last used ${relativeTime(current.lastUsedAt, now())}.`
          : `The successor ${current?.id ?? ''} has not been used yet: roll it out first.`),
    ),
    button,
  );
}

// ---- create / duplicate / edit ----

const form = () => $('#key-form');
let editing;

function toLocalInput(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function setPresets(current) {
  const presets = ['Never', '30d', '90d'];
  if (current && !presets.includes(current) && current !== 'custom') presets.push(current);
  $('#expiration-presets').replaceChildren(
    ...presets.map((p) =>
      el(
        'label',
        { class: 'check' },
        el('input', { type: 'radio', name: 'expirationPreset', value: p }),
        ` ${p === 'Never' ? 'Never' : p.replace(/d$/, ' days')}`,
      ),
    ),
  );
}

async function openEditor(mode, k) {
  editing = { mode, key: k };
  const f = form();
  f.reset();
  clearErrors();
  const s = k?.spec ?? {};
  const choice = expirationChoice(s.expiration);
  setPresets(choice.preset);
  const values = {
    name: mode === 'duplicate' ? `${k.name}-copy` : (k?.name ?? ''),
    namespace: k?.namespace ?? (scope || session.namespace),
    team: s.team ?? '',
    environment: s.environment ?? '',
    models: (s.allowedModels ?? []).join(', '),
    endpoints: (s.allowedEndpoints ?? []).join(', '),
    ips: (s.ipAllowlist ?? []).join(', '),
    rpm: s.rateLimit?.requestsPerMinute ?? '',
    tpm: s.rateLimit?.tokensPerMinute ?? '',
    budgetCredits: s.budget?.credits ?? '',
    budgetPeriod: s.budget?.period ?? 'Never',
    expirationCustom: choice.custom ? toLocalInput(choice.custom) : '',
  };
  for (const [name, v] of Object.entries(values)) f.elements[name].value = String(v);
  for (const r of f.querySelectorAll('input[name=expirationPreset]')) r.checked = r.value === choice.preset;
  f.elements.name.disabled = mode === 'edit';
  f.elements.namespace.disabled = mode !== 'create';
  $('#editor-title').textContent = { create: 'New key', duplicate: `Duplicate ${k?.name}`, edit: `Edit ${k?.name}` }[
    mode
  ];
  $('#editor-submit').textContent = mode === 'edit' ? 'Save' : 'Create';
  $('#editor').showModal();
  (mode === 'edit' ? f.elements.models : f.elements.name).focus();
  const teams = await api(`/api/teams?namespace=${encodeURIComponent(values.namespace)}`);
  $('#teams').replaceChildren(...(teams.teams ?? []).map((t) => el('option', { value: t.name })));
}

function clearErrors() {
  for (const p of document.querySelectorAll('#editor .error')) p.textContent = '';
  for (const i of document.querySelectorAll('#editor [aria-invalid]')) i.removeAttribute('aria-invalid');
}

function showErrors(errors) {
  for (const [field, message] of Object.entries(errors ?? {})) {
    const target = $(`#err-${field}`) ?? $('#err-_form');
    target.textContent = message;
    const input = form().elements[field];
    if (input && input.setAttribute) input.setAttribute('aria-invalid', 'true');
  }
}

function formValues() {
  const f = form();
  const preset = f.querySelector('input[name=expirationPreset]:checked')?.value ?? 'Never';
  const value = (n) => f.elements[n].value;
  return {
    name: value('name'),
    team: value('team'),
    environment: value('environment'),
    models: value('models'),
    endpoints: value('endpoints'),
    ips: value('ips'),
    rpm: value('rpm'),
    tpm: value('tpm'),
    budgetCredits: value('budgetCredits'),
    budgetPeriod: value('budgetPeriod'),
    expiration: preset === 'custom' ? customExpiration(value('expirationCustom')) : preset,
  };
}

async function submitEditor(e) {
  e.preventDefault();
  clearErrors();
  const { mode, key } = editing;
  const values = formValues();
  const path = (k, action) => `/api/keys/${encodeURIComponent(k.namespace)}/${encodeURIComponent(k.name)}/${action}`;
  const result =
    mode === 'create'
      ? await api('/api/keys', { namespace: form().elements.namespace.value.trim(), form: values })
      : mode === 'duplicate'
        ? await api(path(key, 'duplicate'), { form: values })
        : await api(path(key, 'edit'), { form: values, resourceVersion: key.resourceVersion });
  if (!result.ok) return showErrors(result.errors);
  $('#editor').close();
  const namespace = mode === 'create' ? form().elements.namespace.value.trim() || session.namespace : key.namespace;
  if (mode === 'edit') return toast(result.message);
  showOutcome(`${mode === 'create' ? 'Created' : 'Duplicated as'} ${result.name}`, result.message, {
    namespace,
    name: result.name,
  });
}

// ---- rotate / revoke / reveal ----

function confirmDialog(title, body, buttons) {
  $('#confirm-title').textContent = title;
  $('#confirm-body').replaceChildren(...[].concat(body));
  $('#confirm-error').textContent = '';
  $('#confirm-buttons').replaceChildren(
    ...buttons,
    el('button', { type: 'button', onclick: () => $('#confirm').close() }, 'Cancel'),
  );
  if (!$('#confirm').open) $('#confirm').showModal();
  buttons[0]?.focus();
}

async function act(path, body) {
  const result = await api(path, body);
  if (!result.ok) {
    $('#confirm-error').textContent = Object.values(result.errors ?? {}).join('; ');
    return undefined;
  }
  return result;
}

const keyPath = (k, action) => `/api/keys/${encodeURIComponent(k.namespace)}/${encodeURIComponent(k.name)}/${action}`;

function confirmRotate(k) {
  confirmDialog(
    `Rotate ${k.name}?`,
    el(
      'p',
      {},
      'The operator issues a successor key (new key id, same scopes) into the ' +
        `workload Secret. The current key ${k.status.currentKeyId ?? ''} stays valid until the hand-off.`,
    ),
    [
      el(
        'button',
        {
          type: 'button',
          class: 'primary',
          onclick: async () => {
            const r = await act(keyPath(k, 'rotate'), {});
            if (r) showOutcome(`Rotating ${k.name}`, r.message, k, r.keyId);
          },
        },
        'Rotate',
      ),
    ],
  );
}

function confirmRevoke(k) {
  const usable = (k.status.keys ?? []).filter((e) => e.state === 'Active' || e.state === 'Superseded');
  const revoke = (keyId) => async () => {
    const r = await act(keyPath(k, 'revoke'), keyId ? { keyId } : {});
    if (r) {
      $('#confirm').close();
      toast(r.message);
    }
  };
  confirmDialog(
    `Revoke ${k.name}?`,
    [
      el(
        'p',
        {},
        'Revoking the whole key refuses every key id with 401. Revoking one key id refuses only that one ' +
          '(e.g. a superseded key a forgotten consumer still uses).',
      ),
    ],
    [
      el('button', { type: 'button', class: 'danger', onclick: revoke(undefined) }, 'Revoke whole key'),
      ...usable.map((e) =>
        el(
          'button',
          { type: 'button', class: 'danger', 'data-key-id': e.id, onclick: revoke(e.id) },
          `Revoke key id ${e.id} (${e.state}, last used ${relativeTime(e.lastUsedAt, now()) ?? 'never'})`,
        ),
      ),
    ],
  );
}

function showOutcome(title, message, k, previousKeyId) {
  const out = el('div', { id: 'reveal-out' });
  const reveal = actionButton(
    'Reveal key',
    'reveal',
    k.namespace,
    async () => {
      const r = await act(keyPath(k, 'reveal'), {});
      if (!r) return;
      if (previousKeyId && r.keyId === previousKeyId) {
        $('#confirm-error').textContent = 'The operator has not issued the successor yet; try again in a moment.';
        return;
      }
      if (r.keyId === undefined && !r.key) return;
      out.replaceChildren(
        el(
          'label',
          {},
          `Key${r.keyId ? ` (key id ${r.keyId})` : ''}: shown once, copy it now `,
          el('input', { id: 'revealed-key', readonly: true, value: r.key, size: 60, spellcheck: 'false' }),
        ),
      );
      $('#revealed-key').select();
    },
    { class: 'primary' },
  );
  confirmDialog(
    title,
    [
      el('p', {}, message),
      el(
        'p',
        { class: 'muted' },
        'Reveal shows the plaintext key from the ' + 'workload Secret, only now and only if you may read that Secret.',
      ),
      out,
    ],
    [reveal],
  );
  $('#confirm-buttons').lastChild.textContent = 'Close';
}

let toastTimer;
function toast(message) {
  $('#toast').textContent = message;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    $('#toast').textContent = '';
  }, 8000);
}

// ---- start ----

async function start() {
  session = await api('/api/session');
  $('#cluster').textContent = `context ${session.context} · ${session.server}`;
  scope = session.namespace;
  $('#namespace').value = scope;
  $('#scope').addEventListener('submit', (e) => {
    e.preventDefault();
    scope = $('#all-namespaces').checked ? '' : $('#namespace').value.trim() || session.namespace;
    $('#namespace').disabled = scope === '';
    connect();
  });
  $('#all-namespaces').addEventListener('change', () => $('#scope').requestSubmit());
  for (const id of ['#f-search', '#f-model']) $(id).addEventListener('input', render);
  for (const id of ['#f-team', '#f-env', '#f-state', '#f-scope', '#f-sort', '#f-candidates'])
    $(id).addEventListener('change', render);
  $('#new-key').addEventListener('click', () => openEditor('create'));
  $('#key-form').addEventListener('submit', submitEditor);
  $('#editor-cancel').addEventListener('click', () => $('#editor').close());
  $('#detail').addEventListener('close', () => {
    detailKey = undefined;
  });
  // A revealed key leaves the page with its dialog.
  $('#confirm').addEventListener('close', () => $('#confirm-body').replaceChildren());
  setInterval(render, 30_000);
  connect();
}

void start();

// drey console: one module, no dependencies, served from the drey binary.
// Everything it shows comes from the CMF API under /cmf/api/v1. Routes:
//   #/                                 environments
//   #/secrets                          secrets (never their values)
//   #/env/E  #/env/E/statements  #/env/E/pools
//   #/env/E/app/A                      one application
//   #/env/E/statement/S                one statement

const API = '/cmf/api/v1';
const TOKEN_KEY = 'drey.token';
const REFRESH_MS = 3000;

const main = document.getElementById('main');
const banner = document.getElementById('banner');
const session = document.getElementById('session');
const confirmDialog = document.getElementById('confirm');

const settings = { auth: 'none' };

// ---------------------------------------------------------------- helpers

/** Creates an element. Props: class, text, on* listeners, other attributes. */
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const enc = encodeURIComponent;
const envPath = (env) => `${API}/environments/${enc(env)}`;
const appPath = (env, app) => `${envPath(env)}/applications/${enc(app)}`;
const flinkUiPath = (env, app) => `${appPath(env, app)}/flink-web-ui/`;

function get(obj, path) {
  return path.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

function fmtTime(value) {
  if (!value) return '';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function timeCell(value) {
  return value ? h('time', { datetime: value, title: value }, fmtTime(value)) : dash();
}

function dash() {
  return h('span', { class: 'muted', 'aria-label': 'none' }, '—');
}

const OK_STATES = new Set(['RUNNING', 'STABLE', 'COMPLETED', 'FINISHED', 'READY']);
const BAD_STATES = new Set(['FAILED', 'FAILING', 'ERROR']);
const IDLE_STATES = new Set(['SUSPENDED', 'STOPPED', 'CANCELED', 'CANCELLED']);

/** A state as a badge: the text says it, the colour helps. */
function badge(value, field) {
  if (value === undefined || value === null || value === '') return h('span', { class: 'muted', 'data-field': field }, '—');
  const upper = String(value).toUpperCase();
  const tone = OK_STATES.has(upper) ? 'ok' : BAD_STATES.has(upper) ? 'bad' : IDLE_STATES.has(upper) ? '' : 'warn';
  return h('span', { class: `badge ${tone}`, 'data-field': field, 'data-state': upper }, String(value));
}

/** Shows a message in the banner (success) or as an error; clears after a while. */
let bannerTimer;
function say(message, isError = false) {
  clearTimeout(bannerTimer);
  banner.textContent = message;
  banner.className = isError ? 'banner error' : 'banner';
  banner.setAttribute('role', isError ? 'alert' : 'status');
  banner.hidden = false;
  bannerTimer = setTimeout(() => { banner.hidden = true; }, isError ? 15000 : 6000);
}

function errorBox(message) {
  return h('div', { class: 'error-box', role: 'alert' }, message);
}

// ---------------------------------------------------------------- YAML

/** A YAML scalar, quoted when plain YAML would read it as something else. */
function scalar(value) {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const s = String(value);
  const plain = s !== ''
    && !/^[\s\-?:,[\]{}#&*!|>'"%@`]/.test(s)
    && !/(: |\s#|:$|\s$|\n|\t)/.test(s)
    && !/^(true|false|yes|no|on|off|y|n|null|~)$/i.test(s)
    && Number.isNaN(Number(s));
  return plain ? s : JSON.stringify(s);
}

function isCollection(v) {
  return v !== null && typeof v === 'object' && Object.keys(v).length > 0;
}

function inline(v) {
  if (Array.isArray(v)) return '[]';
  if (v !== null && typeof v === 'object') return '{}';
  return scalar(v);
}

function yamlBlock(value, indent) {
  const lines = [];
  if (Array.isArray(value)) {
    for (const item of value) {
      if (isCollection(item)) {
        const inner = yamlBlock(item, `${indent}  `);
        lines.push(`${indent}- ${inner.slice(indent.length + 2)}`);
      } else {
        lines.push(`${indent}- ${inline(item)}`);
      }
    }
  } else {
    for (const [key, item] of Object.entries(value)) {
      if (isCollection(item)) lines.push(`${indent}${scalar(key)}:\n${yamlBlock(item, `${indent}  `)}`);
      else lines.push(`${indent}${scalar(key)}: ${inline(item)}`);
    }
  }
  return lines.join('\n');
}

/** JSON to YAML, for editing what the server returned. */
function toYaml(value) {
  return `${yamlBlock(value, '')}\n`;
}

/** The line of a dotted field (spec.job.upgradeMode) in a YAML text, or 0. */
function lineOfField(text, field) {
  const want = field.replace(/\[\d+\]/g, '').split('.');
  const stack = [];
  let best = 0;
  let bestDepth = 0;
  text.split('\n').forEach((line, i) => {
    const m = /^(\s*)(?:-\s+)?(["']?)([^"':#\s][^:#]*?)\2\s*:(\s|$)/.exec(line);
    if (!m) return;
    const indent = m[1].length;
    while (stack.length && stack[stack.length - 1].indent >= indent) stack.pop();
    stack.push({ indent, key: m[3].trim() });
    const path = stack.map((s) => s.key);
    let depth = 0;
    while (depth < path.length && depth < want.length && path[depth] === want[depth]) depth += 1;
    if (depth === path.length && depth > bestDepth) {
      best = i + 1;
      bestDepth = depth;
    }
  });
  return best;
}

/** Where in the document an error message points: a line (YAML syntax) or a field. */
function errorLocation(message, text) {
  const m = /\bline (\d+)(?:,? column (\d+))?/.exec(message);
  if (m) return { line: Number(m[1]), column: m[2] ? Number(m[2]) : undefined };
  const f = /^((?:apiVersion|kind|metadata|spec|name)(?:\.[\w-]+|\[\d+\])*)/.exec(message);
  if (f) {
    const line = lineOfField(text, f[1]);
    if (line) return { line, field: f[1] };
  }
  return null;
}

function topLevel(text, key) {
  const m = new RegExp(`^${key}:[ \\t]*["']?([^"'\\s#]+)`, 'm').exec(text);
  return m ? m[1] : '';
}

function metadataName(text) {
  const m = /^metadata:[ \t]*\n(?:[ \t]+.*\n|[ \t]*\n)*?[ \t]+name:[ \t]*["']?([^"'\s#]+)/m.exec(text);
  return m ? m[1] : '';
}

// ---------------------------------------------------------------- the API

class ApiError extends Error {
  constructor(status, message, messages) {
    super(message);
    this.status = status;
    this.messages = messages || [message];
  }
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

/** Calls drey. A string body is sent as YAML, anything else as JSON. */
async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  let payload;
  if (typeof body === 'string') {
    headers['Content-Type'] = 'application/yaml';
    payload = body;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body: payload, cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, `drey does not answer (${e.message}). Is the server running?`);
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (response.ok) return data;
  const messages = data && Array.isArray(data.errors) && data.errors.length
    ? data.errors.map((e) => String(e.message))
    : [`${response.status} ${response.statusText}`.trim()];
  const error = new ApiError(response.status, messages.join('\n'), messages);
  if (response.status === 401) unauthorized(error);
  throw error;
}

/** Creates or updates what a YAML document describes, by its kind. */
async function applyDocument(text, env, fallbackKind) {
  const kind = topLevel(text, 'kind') || fallbackKind;
  const name = metadataName(text) || topLevel(text, 'name');
  const needEnv = () => {
    if (!env) throw new ApiError(0, `${kind} documents are applied inside an environment: open one first.`);
    return envPath(env);
  };
  const upsert = async (collection) => {
    try {
      return await api('POST', collection, text);
    } catch (e) {
      if (e.status !== 409 || !name) throw e;
      try {
        return await api('PUT', `${collection}/${enc(name)}`, text);
      } catch (put) {
        throw put.status === 405 ? e : put; // no update on this server: its 409 says why
      }
    }
  };
  let result;
  switch (kind) {
    case 'Environment': result = await api('POST', `${API}/environments`, text); break;
    case 'FlinkApplication': result = await api('POST', `${needEnv()}/applications`, text); break;
    case 'Statement': result = await upsert(`${needEnv()}/statements`); break;
    case 'ComputePool': result = await upsert(`${needEnv()}/compute-pools`); break;
    case 'EnvironmentSecretMapping': result = await upsert(`${needEnv()}/secret-mappings`); break;
    case 'Secret': result = await upsert(`${API}/secrets`); break;
    default:
      throw new ApiError(0, `kind: ${kind || '(none)'} is not something the console can apply `
        + '(Environment, FlinkApplication, Statement, ComputePool, Secret, EnvironmentSecretMapping).');
  }
  const applied = get(result, 'metadata.name') || get(result, 'name') || name;
  return { kind, name: applied, result };
}

// ---------------------------------------------------------------- views

let view = { id: 0 };

/** Starts a new view: clears the page and stops the previous view's refreshes. */
function newView(navKey) {
  view = { id: view.id + 1 };
  const mine = view;
  main.replaceChildren();
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === navKey) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  return {
    alive: () => view === mine,
    /** Runs `fn` now and every REFRESH_MS while this view is shown and the tab visible. */
    poll(fn, ms = REFRESH_MS) {
      const tick = async () => {
        if (view !== mine) return;
        if (!document.hidden) {
          try { await fn(); } catch { /* each region shows its own error */ }
        }
        if (view === mine) setTimeout(tick, ms);
      };
      tick();
    },
  };
}

/** Fills `el` from `load()`; re-renders only when the data changed, so focus survives refreshes. */
async function fill(el, load, render) {
  let data;
  try {
    data = await load();
  } catch (e) {
    if (e.status === 401) throw e;
    const key = `error:${e.message}`;
    if (el.dataset.key !== key) {
      el.dataset.key = key;
      el.replaceChildren(errorBox(e.status === 404 ? e.message : `Could not load: ${e.message}`));
    }
    el.setAttribute('aria-busy', 'false');
    throw e;
  }
  const key = JSON.stringify(data);
  if (el.dataset.key !== key) {
    el.dataset.key = key;
    el.replaceChildren(...[render(data)].flat());
  }
  el.setAttribute('aria-busy', 'false');
  return data;
}

function region(label) {
  return h('div', { class: 'region', 'aria-busy': 'true', 'aria-label': label }, h('p', { class: 'muted' }, 'Loading…'));
}

/** A table; columns: [{title, cell(row), class}]. */
function table(caption, columns, rows, rowProps) {
  return h('div', { class: 'table-wrap' },
    h('table', {},
      h('caption', { class: 'sr-only' }, caption),
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.title)))),
      h('tbody', {}, rows.map((row) => h('tr', rowProps ? rowProps(row) : {},
        columns.map((c) => h('td', { class: c.class, 'data-col': c.key }, c.cell(row))))))));
}

function empty(message, ...more) {
  return h('div', { class: 'empty', 'data-empty': true }, h('p', {}, message), ...more);
}

/** Asks before something irreversible; resolves true when confirmed. */
function confirmAction(title, text, okLabel) {
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').textContent = okLabel;
  confirmDialog.returnValue = '';
  return new Promise((resolve) => {
    confirmDialog.addEventListener('close', () => resolve(confirmDialog.returnValue === 'ok'), { once: true });
    confirmDialog.showModal();
  });
}

/** A button that runs an async action, disabled meanwhile. */
function actionButton(label, action, props = {}) {
  const button = h('button', { type: 'button', ...props }, label);
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await action();
    } catch (e) {
      if (e.status !== 401) say(`${label} failed: ${e.message}`, true);
    } finally {
      if (button.isConnected) button.disabled = false;
    }
  });
  return button;
}

/** A YAML editor that applies its document and shows the server's error next to it. */
function yamlEditor({ id, label, hint, template, submitLabel = 'Apply', apply }) {
  const textarea = h('textarea', {
    id, name: id, spellcheck: 'false', autocapitalize: 'off', autocomplete: 'off', rows: 16, wrap: 'off',
    'aria-describedby': `${id}-hint ${id}-error`,
  }, template);
  const error = h('div', { id: `${id}-error`, class: 'error-box', role: 'alert', hidden: true, 'data-error-for': id });
  const done = h('span', { class: 'muted', role: 'status' });
  const button = h('button', { type: 'submit' }, submitLabel);
  const clear = () => {
    error.hidden = true;
    error.replaceChildren();
    delete error.dataset.line;
    textarea.removeAttribute('aria-invalid');
  };
  const form = h('form', {
    class: 'editor',
    novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      clear();
      done.textContent = '';
      button.disabled = true;
      try {
        done.textContent = await apply(textarea.value);
      } catch (e) {
        if (e.status === 401) return;
        const where = errorLocation(e.message, textarea.value);
        const status = e.status ? ` (HTTP ${e.status})` : '';
        error.replaceChildren(
          h('strong', {}, where ? `Line ${where.line}${where.column ? `, column ${where.column}` : ''}: ` : 'Not applied: '),
          e.messages.join('\n'),
          h('span', { class: 'muted' }, status));
        if (where) {
          error.dataset.line = String(where.line);
          selectLine(textarea, where.line);
        }
        error.hidden = false;
        textarea.setAttribute('aria-invalid', 'true');
      } finally {
        button.disabled = false;
      }
    },
  },
  h('label', { for: id }, label),
  h('p', { id: `${id}-hint`, class: 'hint' }, hint),
  textarea, error,
  h('div', { class: 'actions' }, button, done));
  return { form, textarea };
}

function selectLine(textarea, line) {
  const lines = textarea.value.split('\n');
  const n = Math.min(Math.max(line, 1), lines.length);
  const start = lines.slice(0, n - 1).reduce((sum, l) => sum + l.length + 1, 0);
  textarea.setSelectionRange(start, start + lines[n - 1].length);
  const lineHeight = parseFloat(getComputedStyle(textarea).lineHeight) || 18;
  textarea.scrollTop = Math.max(0, (n - 3) * lineHeight);
}

function crumbs(...parts) {
  return h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' },
    parts.map((p, i) => [i ? ' / ' : '', p.href ? h('a', { href: p.href }, p.text) : h('span', { 'aria-current': 'page' }, p.text)]));
}

// ---------------------------------------------------------------- sign-in

function renderSession() {
  session.replaceChildren();
  if (settings.auth !== 'token') {
    session.append(h('span', {}, 'Authentication off'));
  } else if (token()) {
    session.append(h('span', {}, 'Signed in with a token'),
      h('button', { type: 'button', class: 'small', onclick: () => { sessionStorage.removeItem(TOKEN_KEY); renderTokenForm(); } }, 'Sign out'));
  } else {
    session.append(h('span', {}, 'Not signed in'));
  }
}

function unauthorized(error) {
  sessionStorage.removeItem(TOKEN_KEY);
  renderTokenForm(`drey refused the request (401 Unauthorized): ${error.message}. Enter a valid API token.`);
}

function renderTokenForm(message) {
  newView(null);
  renderSession();
  const input = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'off', 'aria-describedby': 'token-hint token-error', 'aria-invalid': message ? 'true' : null });
  const error = h('p', { id: 'token-error', class: 'error-box', role: 'alert', hidden: !message }, message || '');
  const button = h('button', { type: 'submit' }, 'Sign in');
  main.append(h('form', {
    class: 'panel token-form',
    onsubmit: async (event) => {
      event.preventDefault();
      const value = input.value.trim();
      if (!value) {
        error.textContent = 'Enter a token.';
        error.hidden = false;
        input.setAttribute('aria-invalid', 'true');
        input.focus();
        return;
      }
      sessionStorage.setItem(TOKEN_KEY, value);
      button.disabled = true;
      try {
        await api('GET', `${API}/environments?size=1`);
        renderSession();
        route();
      } catch (e) {
        if (e.status !== 401) {
          error.textContent = e.message;
          error.hidden = false;
          button.disabled = false;
        }
      }
    },
  },
  h('h1', {}, 'Sign in to drey'),
  h('p', { id: 'token-hint', class: 'hint' },
    'This server requires a bearer token (drey server --auth token). Use a root key, for example the one in <data-dir>/root.key. '
    + 'The token stays in this browser tab (sessionStorage) and is sent as "Authorization: Bearer" with every API call.'),
  h('label', { for: 'token' }, 'API token'),
  input, error,
  h('div', { class: 'actions' }, button)));
  input.focus();
}

// ---------------------------------------------------------------- environments

const ENV_TEMPLATE = `name: my-environment
# Optional: defaults merged under every application of the environment.
# flinkApplicationDefaults:
#   spec:
#     flinkConfiguration:
#       taskmanager.numberOfTaskSlots: "1"
`;

function viewEnvironments() {
  const v = newView('environments');
  const list = region('Environments');
  const editor = yamlEditor({
    id: 'environment-yaml',
    label: 'Environment YAML',
    hint: 'An Environment: name, and optionally flinkApplicationDefaults, computePoolDefaults, statementDefaults. Applying an existing name updates it.',
    template: ENV_TEMPLATE,
    apply: async (text) => {
      const { name } = await applyDocument(text, null, 'Environment');
      say(`Environment ${name} saved.`);
      refresh();
      return `Environment ${name} saved.`;
    },
  });
  const refresh = () => fill(list, () => api('GET', `${API}/environments?size=100&sort=name,asc`), (page) => {
    const items = page.items || [];
    if (!items.length) return empty('No environments yet. Create one with the editor below.');
    return table('Environments', [
      { key: 'name', title: 'Name', cell: (e) => h('a', { href: `#/env/${enc(e.name)}` }, e.name) },
      { key: 'namespace', title: 'Namespace', class: 'opt', cell: (e) => e.kubernetesNamespace || dash() },
      { key: 'created', title: 'Created', class: 'opt', cell: (e) => timeCell(e.created_time) },
      { key: 'updated', title: 'Updated', cell: (e) => timeCell(e.updated_time) },
      {
        key: 'actions', title: 'Actions', cell: (e) => actionButton('Delete', async () => {
          if (!await confirmAction(`Delete environment ${e.name}?`, 'drey refuses while it still holds applications, statements or compute pools.', 'Delete environment')) return;
          await api('DELETE', envPath(e.name));
          say(`Environment ${e.name} deleted.`);
          refresh();
        }, { class: 'danger small', 'aria-label': `Delete environment ${e.name}` }),
      },
    ], items, (e) => ({ 'data-name': e.name }));
  });
  main.append(
    h('div', { class: 'title-row' }, h('h1', {}, 'Environments')),
    h('section', { class: 'panel', 'aria-labelledby': 'envs-h' }, h('h2', { id: 'envs-h' }, 'All environments'), list),
    h('section', { class: 'panel', 'aria-labelledby': 'env-new-h' }, h('h2', { id: 'env-new-h' }, 'Create or update an environment'), editor.form));
  v.poll(refresh, 5000);
}

// ---------------------------------------------------------------- one environment

function appTemplate() {
  return `apiVersion: cmf.confluent.io/v1
kind: FlinkApplication
metadata:
  name: my-application
spec:
  flinkConfiguration:
    taskmanager.numberOfTaskSlots: "1"
  jobManager:
    resource:
      memory: 1024m
      cpu: 1
  taskManager:
    resource:
      memory: 1024m
      cpu: 1
  job:
    jarURI: local:///path/under/a/jar-dir/job.jar
    state: running
    parallelism: 1
    upgradeMode: savepoint
`;
}

const STATEMENT_TEMPLATE = `apiVersion: cmf.confluent.io/v1
kind: Statement
metadata:
  name: my-statement
spec:
  statement: SELECT 1
  computePoolName: my-pool
  parallelism: 1
  stopped: false
`;

const POOL_TEMPLATE = `apiVersion: cmf.confluent.io/v1
kind: ComputePool
metadata:
  name: my-pool
spec:
  type: DEDICATED
  clusterSpec:
    flinkConfiguration:
      taskmanager.numberOfTaskSlots: "2"
    taskManager:
      resource:
        memory: 1024m
        cpu: 1
`;

function lastSavepoint(app) {
  const sp = get(app, 'status.lastSavepoint');
  if (!sp) return dash();
  return h('span', { title: sp.location || '' }, fmtTime(sp.time) || sp.location || '');
}

function flinkUiLink(env, app) {
  const running = get(app, 'status.jobStatus.state') === 'RUNNING' && get(app, 'status.clusterInfo');
  if (!running) return null;
  if (settings.auth !== 'none') return null;
  return h('a', { href: flinkUiPath(env, app.metadata.name), target: '_blank', rel: 'noopener', 'data-flink-ui': true },
    'Flink Web UI', h('span', { class: 'sr-only' }, ' (opens in a new tab)'));
}

/** A RUNNING SHARED pool's Flink Web UI, through drey's proxy (no-token servers only, as for applications). */
function poolUiLink(env, pool) {
  if (get(pool, 'status.phase') !== 'RUNNING' || settings.auth !== 'none') return null;
  return h('a', { href: `${envPath(env)}/compute-pools/${enc(pool.metadata.name)}/flink-web-ui/`, target: '_blank', rel: 'noopener' },
    'Flink Web UI', h('span', { class: 'sr-only' }, ' (opens in a new tab)'));
}

function viewEnvironment(env, tab = 'applications') {
  const v = newView('environments');
  const tabs = [['applications', 'Applications'], ['statements', 'Statements'], ['pools', 'Compute pools']];
  main.append(
    crumbs({ text: 'Environments', href: '#/' }, { text: env }),
    h('div', { class: 'title-row' }, h('h1', {}, env)),
    h('nav', { class: 'tabs', 'aria-label': `Environment ${env}` },
      tabs.map(([key, text]) => h('a', { href: key === 'applications' ? `#/env/${enc(env)}` : `#/env/${enc(env)}/${key}`, 'aria-current': key === tab ? 'page' : null }, text))));
  if (tab === 'statements') return statementsTab(v, env);
  if (tab === 'pools') return poolsTab(v, env);
  return applicationsTab(v, env);
}

function applicationsTab(v, env) {
  const list = region('Applications');
  const editor = yamlEditor({
    id: 'application-yaml',
    label: 'Application YAML',
    hint: 'A FlinkApplication (the Flink Kubernetes Operator\'s FlinkDeployment spec). Applying an existing name updates it and rolls the change out per spec.job.upgradeMode. Jars given as local:// or file:// must live under one of drey\'s --jar-dir directories.',
    template: appTemplate(),
    apply: async (text) => {
      const { kind, name } = await applyDocument(text, env, 'FlinkApplication');
      say(`${kind} ${name} applied.`);
      refresh();
      return `${kind} ${name} applied.`;
    },
  });
  const refresh = () => fill(list, () => api('GET', `${envPath(env)}/applications?size=100&sort=name,asc`), (page) => {
    const items = page.items || [];
    if (!items.length) return empty(`No applications in ${env} yet. Apply a FlinkApplication with the editor below.`);
    return table('Applications', [
      { key: 'name', title: 'Name', cell: (a) => h('a', { href: `#/env/${enc(env)}/app/${enc(a.metadata.name)}` }, a.metadata.name) },
      { key: 'desired', title: 'Desired', cell: (a) => badge(get(a, 'spec.job.state'), 'desired') },
      { key: 'lifecycle', title: 'Lifecycle', cell: (a) => badge(get(a, 'status.lifecycleState'), 'lifecycle') },
      { key: 'job', title: 'Job', cell: (a) => badge(get(a, 'status.jobStatus.state'), 'job') },
      { key: 'savepoint', title: 'Last savepoint', class: 'opt', cell: lastSavepoint },
      { key: 'instance', title: 'Instance', class: 'opt mono', cell: (a) => (get(a, 'status.currentDeployedInstanceName') || '').slice(0, 8) || dash() },
      { key: 'error', title: 'Error', class: 'opt', cell: (a) => get(a, 'status.error') || '' },
      { key: 'ui', title: 'Flink UI', cell: (a) => flinkUiLink(env, a) || dash() },
    ], items, (a) => ({ 'data-name': a.metadata.name }));
  });
  const note = settings.auth === 'none' ? null : h('p', { class: 'hint' },
    'Flink Web UI links are shown only when drey runs with --auth none: the proxy at …/flink-web-ui/ requires the bearer token, which a browser link cannot send. '
    + 'With tokens, drey app web-ui-forward NAME --env ENV opens it from a local port with your token.');
  main.append(
    h('section', { class: 'panel', 'aria-labelledby': 'apps-h' },
      h('h2', { id: 'apps-h' }, 'Applications'),
      h('p', { class: 'hint' }, `Refreshed every ${REFRESH_MS / 1000} seconds. Desired is spec.job.state; Lifecycle and Job are what drey and Flink report.`),
      list, note),
    h('section', { class: 'panel', 'aria-labelledby': 'app-new-h' }, h('h2', { id: 'app-new-h' }, 'Apply an application'), editor.form));
  v.poll(refresh);
}

function statementsTab(v, env) {
  const list = region('Statements');
  const editor = yamlEditor({
    id: 'statement-yaml',
    label: 'Statement YAML',
    hint: 'A Statement runs on a compute pool of this environment. Its SQL text and pool cannot change later; stopped, parallelism and properties can.',
    template: STATEMENT_TEMPLATE,
    apply: async (text) => {
      const { kind, name } = await applyDocument(text, env, 'Statement');
      say(`${kind} ${name} applied.`);
      refresh();
      return `${kind} ${name} applied.`;
    },
  });
  const refresh = () => fill(list, () => api('GET', `${envPath(env)}/statements?size=100&sort=name,asc`), (page) => {
    const items = page.items || [];
    if (!items.length) return empty(`No statements in ${env}. A statement needs a compute pool first.`);
    return table('Statements', [
      { key: 'name', title: 'Name', cell: (s) => h('a', { href: `#/env/${enc(env)}/statement/${enc(s.metadata.name)}` }, s.metadata.name) },
      { key: 'pool', title: 'Compute pool', class: 'opt', cell: (s) => get(s, 'spec.computePoolName') || dash() },
      { key: 'phase', title: 'Phase', cell: (s) => badge(get(s, 'status.phase'), 'phase') },
      { key: 'detail', title: 'Detail', class: 'opt', cell: (s) => get(s, 'status.detail') || '' },
      { key: 'created', title: 'Created', class: 'opt', cell: (s) => timeCell(get(s, 'metadata.creationTimestamp')) },
    ], items, (s) => ({ 'data-name': s.metadata.name }));
  });
  main.append(
    h('section', { class: 'panel', 'aria-labelledby': 'stmts-h' }, h('h2', { id: 'stmts-h' }, 'Statements'), list),
    h('section', { class: 'panel', 'aria-labelledby': 'stmt-new-h' }, h('h2', { id: 'stmt-new-h' }, 'Create or update a statement'), editor.form));
  v.poll(refresh);
}

function poolsTab(v, env) {
  const list = region('Compute pools');
  const editor = yamlEditor({
    id: 'pool-yaml',
    label: 'Compute pool YAML',
    hint: 'A ComputePool: spec.type DEDICATED or SHARED and a clusterSpec.',
    template: POOL_TEMPLATE,
    apply: async (text) => {
      const { kind, name } = await applyDocument(text, env, 'ComputePool');
      say(`${kind} ${name} applied.`);
      refresh();
      return `${kind} ${name} applied.`;
    },
  });
  const refresh = () => fill(list, () => api('GET', `${envPath(env)}/compute-pools?size=100&sort=name,asc`), (page) => {
    const items = page.items || [];
    if (!items.length) return empty(`No compute pools in ${env}.`);
    return table('Compute pools', [
      { key: 'name', title: 'Name', cell: (p) => p.metadata.name },
      { key: 'type', title: 'Type', cell: (p) => get(p, 'spec.type') || dash() },
      { key: 'phase', title: 'Phase', cell: (p) => badge(get(p, 'status.phase'), 'phase') },
      { key: 'ui', title: 'Flink', class: 'opt', cell: (p) => poolUiLink(env, p) || dash() },
      { key: 'created', title: 'Created', class: 'opt', cell: (p) => timeCell(get(p, 'metadata.creationTimestamp')) },
      {
        key: 'actions', title: 'Actions', cell: (p) => actionButton('Delete', async () => {
          if (!await confirmAction(`Delete compute pool ${p.metadata.name}?`, 'drey refuses while a statement uses it.', 'Delete compute pool')) return;
          await api('DELETE', `${envPath(env)}/compute-pools/${enc(p.metadata.name)}`);
          say(`Compute pool ${p.metadata.name} deleted.`);
          refresh();
        }, { class: 'danger small', 'aria-label': `Delete compute pool ${p.metadata.name}` }),
      },
    ], items, (p) => ({ 'data-name': p.metadata.name }));
  });
  main.append(
    h('section', { class: 'panel', 'aria-labelledby': 'pools-h' }, h('h2', { id: 'pools-h' }, 'Compute pools'), list),
    h('section', { class: 'panel', 'aria-labelledby': 'pool-new-h' }, h('h2', { id: 'pool-new-h' }, 'Create or update a compute pool'), editor.form));
  v.poll(refresh);
}

// ---------------------------------------------------------------- one application

function savepointName(app) {
  const d = new Date();
  const p = (n) => String(n).padStart(2, '0');
  const stamp = `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
  return `${app.slice(0, 200)}-sp-${stamp}`.replace(/^-+/, '');
}

function viewApplication(env, name) {
  const v = newView('environments');
  const path = appPath(env, name);
  let current = null;
  const summary = region('Status');
  const cluster = h('div', { class: 'region' });
  const savepoints = region('Savepoints');
  const instances = region('Instances');
  const events = region('Events');
  const health = region('Health');
  const link = h('span', { class: 'flink-link' });

  const act = (label, verb, message) => actionButton(label, async () => {
    await api('POST', `${path}/${verb}`, {});
    say(message);
    refresh();
  }, { class: label === 'Suspend' ? 'secondary' : null });
  const start = act('Start', 'start', `Start requested: drey deploys ${name} now.`);
  const suspend = act('Suspend', 'suspend', `Suspend requested: ${name} stops with a savepoint (a plain cancel for upgradeMode stateless).`);
  const savepoint = actionButton('Take savepoint', async () => {
    const spName = savepointName(name);
    await api('POST', `${path}/savepoints`, { metadata: { name: spName }, spec: {} });
    say(`Savepoint ${spName} requested.`);
    refresh();
  }, { class: 'secondary' });
  const remove = actionButton('Delete', async () => {
    if (!await confirmAction(`Delete application ${name}?`, `Its job is stopped and its Flink cluster shut down; ${name}, its instances and events are removed. Savepoints on disk stay.`, 'Delete application')) return;
    await api('DELETE', path);
    say(`Application ${name} is being deleted.`);
    window.location.hash = `#/env/${enc(env)}`;
  }, { class: 'danger' });

  const editor = yamlEditor({
    id: 'application-yaml',
    label: 'Application YAML',
    hint: 'Edit the spec and apply: drey rolls the change out per spec.job.upgradeMode.',
    template: '',
    apply: async (text) => {
      const { kind, name: applied } = await applyDocument(text, env, 'FlinkApplication');
      say(`${kind} ${applied} applied.`);
      refresh();
      return `${kind} ${applied} applied.`;
    },
  });
  let prefilled = false;

  const renderSummary = (app) => {
    const st = app.status || {};
    const job = st.jobStatus || {};
    const desired = get(app, 'spec.job.state');
    start.disabled = desired === 'running';
    suspend.disabled = desired === 'suspended';
    savepoint.disabled = job.state !== 'RUNNING';
    const ui = flinkUiLink(env, app);
    link.replaceChildren(...(ui ? [ui] : []));
    const fact = (term, value, field) => [h('dt', {}, term), h('dd', { 'data-field': field }, value === undefined || value === null || value === '' ? dash() : value)];
    return h('dl', { class: 'facts' },
      fact('Desired state', badge(desired, 'desired-state'), null),
      fact('Lifecycle', badge(st.lifecycleState, 'lifecycle-state'), null),
      fact('Job', badge(job.state, 'job-state'), null),
      fact('Job id', job.jobId ? h('code', {}, job.jobId) : null, 'job-id'),
      fact('Upgrade mode', get(app, 'spec.job.upgradeMode'), 'upgrade-mode'),
      fact('Parallelism', get(app, 'spec.job.parallelism'), 'parallelism'),
      fact('Last savepoint', st.lastSavepoint ? h('span', {}, fmtTime(st.lastSavepoint.time), ' ', h('code', {}, st.lastSavepoint.location || '')) : null, 'last-savepoint'),
      fact('Instance', st.currentDeployedInstanceName ? h('code', {}, st.currentDeployedInstanceName) : null, 'instance'),
      fact('Flink REST', get(st, 'clusterInfo.restUrl') ? h('code', {}, get(st, 'clusterInfo.restUrl')) : null, 'rest-url'),
      fact('Updated', timeCell(get(app, 'metadata.updateTimestamp')), 'updated'),
      st.error ? fact('Error', h('span', { class: 'field-error' }, st.error), 'error') : null);
  };

  const loadCluster = async (app) => {
    const running = get(app, 'status.jobStatus.state') === 'RUNNING' && get(app, 'status.clusterInfo');
    if (!running) {
      cluster.dataset.key = '';
      cluster.replaceChildren(h('p', { class: 'muted' }, 'No Flink cluster runs for this application now.'));
      return;
    }
    await fill(cluster, () => api('GET', `${path}/flink-web-ui/overview`), (o) => h('dl', { class: 'facts' },
      h('dt', {}, 'Flink'), h('dd', {}, o['flink-version'] || ''),
      h('dt', {}, 'TaskManagers'), h('dd', {}, String(o.taskmanagers ?? '')),
      h('dt', {}, 'Slots'), h('dd', {}, `${o['slots-available'] ?? '?'} free of ${o['slots-total'] ?? '?'}`),
      h('dt', {}, 'Jobs'), h('dd', {}, `${o['jobs-running'] ?? 0} running, ${o['jobs-finished'] ?? 0} finished, ${o['jobs-failed'] ?? 0} failed, ${o['jobs-cancelled'] ?? 0} cancelled`)));
  };

  // The figures drey's job watch last saw (what metrics and alerts come
  // from) and the application's firing alerts.
  const renderHealth = (hl) => {
    const f = hl.figures;
    const num = (value, digits = 1) => (value === null || value === undefined ? null : Number(value).toFixed(digits));
    const pct = (value) => (value === null || value === undefined ? null : `${Math.round(Number(value) * 100)} %`);
    const fact = (term, value, field) => [h('dt', {}, term), h('dd', { 'data-field': field }, value === undefined || value === null || value === '' ? dash() : value)];
    const looked = {
      NOT_LOOKED_AT: 'Not looked at yet (the replica that leads looks at every job).',
      NOT_DEPLOYED: 'No job is deployed.',
    }[hl.look];
    const figures = f
      ? h('dl', { class: 'facts' },
        fact('Job', badge(f.state, 'health-state'), null),
        fact('Restarts', String(f.restarts), 'health-restarts'),
        fact('Uptime', f.uptimeSeconds ? `${Math.round(f.uptimeSeconds)} s` : null, 'health-uptime'),
        fact('Last checkpoint', f.lastCheckpointAgeSeconds === null || f.lastCheckpointAgeSeconds === undefined ? null : `${num(f.lastCheckpointAgeSeconds)} s ago, took ${num(f.lastCheckpointDurationSeconds, 2)} s`, 'health-checkpoint'),
        fact('Failed checkpoints', String(f.checkpointsFailed) + (f.checkpointFailing ? ' (the latest failed)' : ''), 'health-checkpoints-failed'),
        fact('Records in/s', num(f.recordsInPerSecond), 'health-records-in'),
        fact('Records out/s', num(f.recordsOutPerSecond), 'health-records-out'),
        fact('Busy', pct(f.busyRatio), 'health-busy'),
        fact('Back-pressured', pct(f.backpressureRatio), 'health-backpressure'))
      : h('p', { class: 'muted', 'data-field': 'health-look' }, looked || `${hl.look}: ${hl.message || ''}`);
    const alerts = (hl.alerts || []).length
      ? table('Firing alerts', [
        { key: 'alert', title: 'Alert', class: 'mono', cell: (a) => a.alert },
        { key: 'severity', title: 'Severity', cell: (a) => a.severity },
        { key: 'message', title: 'Message', cell: (a) => a.message },
        { key: 'since', title: 'Since', cell: (a) => timeCell(a.startsAt) },
      ], hl.alerts, (a) => ({ 'data-alert': a.alert }))
      : h('p', { class: 'muted', 'data-empty': true }, 'No alert is firing.');
    return [figures, h('h3', {}, 'Alerts'), alerts];
  };

  const refresh = async () => {
    try {
      current = await fill(summary, () => api('GET', path), renderSummary);
    } catch (e) {
      if (e.status === 404 && v.alive()) {
        summary.replaceChildren(errorBox(`${e.message}. It may have been deleted.`), h('p', {}, h('a', { href: `#/env/${enc(env)}` }, `Back to ${env}`)));
      }
      return;
    }
    if (!prefilled && current) {
      prefilled = true;
      editor.textarea.value = toYaml({
        apiVersion: current.apiVersion, kind: current.kind,
        metadata: Object.fromEntries(Object.entries({
          name: current.metadata.name, labels: current.metadata.labels, annotations: current.metadata.annotations,
        }).filter(([, value]) => isCollection(value) || typeof value === 'string')),
        spec: current.spec,
      });
    }
    await Promise.allSettled([
      loadCluster(current),
      fill(health, () => api('GET', `/api/drey/v1/environments/${enc(env)}/applications/${enc(name)}/health`), renderHealth),
      fill(savepoints, () => api('GET', `${path}/savepoints?size=10`), (page) => (page.items || []).length
        ? table('Savepoints', [
          { key: 'name', title: 'Name', cell: (s) => s.metadata.name },
          { key: 'state', title: 'State', cell: (s) => badge(get(s, 'status.state'), 'savepoint-state') },
          { key: 'path', title: 'Path', class: 'wrap opt', cell: (s) => get(s, 'status.path') || get(s, 'status.error') || '' },
          { key: 'created', title: 'Created', cell: (s) => timeCell(get(s, 'metadata.creationTimestamp')) },
        ], page.items, (s) => ({ 'data-name': s.metadata.name }))
        : empty('No savepoints yet. Suspending a stateful job, or "Take savepoint", makes one.')),
      fill(instances, () => api('GET', `${path}/instances?size=10`), (page) => (page.items || []).length
        ? table('Instances', [
          { key: 'name', title: 'Instance', class: 'mono', cell: (i) => i.metadata.name },
          { key: 'job', title: 'Job', cell: (i) => badge(get(i, 'status.jobStatus.state'), 'instance-job') },
          { key: 'parallelism', title: 'Parallelism', class: 'opt', cell: (i) => String(get(i, 'status.spec.job.parallelism') ?? '') },
          { key: 'created', title: 'Created', cell: (i) => timeCell(get(i, 'metadata.creationTimestamp')) },
        ], page.items)
        : empty('No instances yet: one is made each time drey deploys the application.')),
      fill(events, () => api('GET', `/cmf/api/v1alpha1/environments/${enc(env)}/applications/${enc(name)}/events?size=20`), (page) => (page.items || []).length
        ? table('Events', [
          { key: 'time', title: 'Time', cell: (e) => timeCell(get(e, 'metadata.creationTimestamp')) },
          { key: 'type', title: 'Type', class: 'mono', cell: (e) => get(e, 'status.type') || '' },
          { key: 'message', title: 'Message', cell: (e) => get(e, 'status.message') || '' },
        ], page.items)
        : empty('No events yet.')),
    ]);
  };

  const authNote = settings.auth === 'none' ? null : h('p', { class: 'hint', id: 'flink-ui-note' },
    'The Flink Web UI of a running application is served through drey at ', h('code', {}, flinkUiPath(env, name)),
    ', behind the same bearer token as the API. A browser link cannot send that header, so the console shows the link only when drey runs with --auth none; '
    + `with tokens, use curl -H "Authorization: Bearer …" or drey app logs, or run drey app web-ui-forward ${name} --env ${env} and open the URL it prints. The cluster overview above comes through that proxy.`);

  main.append(
    crumbs({ text: 'Environments', href: '#/' }, { text: env, href: `#/env/${enc(env)}` }, { text: name }),
    h('div', { class: 'title-row' }, h('h1', {}, name), link),
    h('div', { class: 'actions', role: 'group', 'aria-label': 'Application actions' }, start, suspend, savepoint, remove),
    h('div', { class: 'grid' },
      h('section', { class: 'panel', 'aria-labelledby': 'status-h' }, h('h2', { id: 'status-h' }, 'Status'), summary),
      h('section', { class: 'panel', 'aria-labelledby': 'cluster-h' }, h('h2', { id: 'cluster-h' }, 'Flink cluster'), cluster, authNote)),
    h('section', { class: 'panel', 'aria-labelledby': 'health-h' }, h('h2', { id: 'health-h' }, 'Health'), health),
    h('section', { class: 'panel', 'aria-labelledby': 'sp-h' }, h('h2', { id: 'sp-h' }, 'Savepoints'), savepoints),
    h('section', { class: 'panel', 'aria-labelledby': 'inst-h' }, h('h2', { id: 'inst-h' }, 'Instances'), instances),
    h('section', { class: 'panel', 'aria-labelledby': 'ev-h' }, h('h2', { id: 'ev-h' }, 'Events'), events),
    h('section', { class: 'panel', 'aria-labelledby': 'edit-h' }, h('h2', { id: 'edit-h' }, 'Edit and apply'), editor.form));
  v.poll(refresh);
}

// ---------------------------------------------------------------- one statement

function resultsTable(statement, results) {
  const rows = get(results, 'results.data');
  if (!Array.isArray(rows)) return h('pre', { class: 'block' }, JSON.stringify(results, null, 2));
  if (!rows.length) return empty('The statement has produced no rows yet.');
  const columns = get(statement, 'status.traits.schema.columns') || [];
  const width = Math.max(columns.length, ...rows.map((r) => (r.row || []).length));
  const titles = Array.from({ length: width }, (_, i) => (columns[i] && columns[i].name) || `#${i + 1}`);
  return table('Results', titles.map((title, i) => ({ key: `c${i}`, title, cell: (r) => {
    const value = (r.row || [])[i];
    return value === null || value === undefined ? 'NULL' : typeof value === 'object' ? JSON.stringify(value) : String(value);
  } })), rows);
}

function viewStatement(env, name) {
  const v = newView('environments');
  const path = `${envPath(env)}/statements/${enc(name)}`;
  const summary = region('Statement');
  const results = region('Results');
  const exceptions = region('Exceptions');
  let statement = null;
  const remove = actionButton('Delete', async () => {
    if (!await confirmAction(`Delete statement ${name}?`, 'A running statement\'s job is cancelled first.', 'Delete statement')) return;
    await api('DELETE', path);
    say(`Statement ${name} deleted.`);
    window.location.hash = `#/env/${enc(env)}/statements`;
  }, { class: 'danger' });
  const refresh = async () => {
    try {
      statement = await fill(summary, () => api('GET', path), (s) => h('dl', { class: 'facts' },
        h('dt', {}, 'Phase'), h('dd', {}, badge(get(s, 'status.phase'), 'phase')),
        h('dt', {}, 'Detail'), h('dd', {}, get(s, 'status.detail') || dash()),
        h('dt', {}, 'Compute pool'), h('dd', {}, get(s, 'spec.computePoolName') || dash()),
        h('dt', {}, 'Parallelism'), h('dd', {}, String(get(s, 'spec.parallelism') ?? '—')),
        h('dt', {}, 'Stopped'), h('dd', {}, String(get(s, 'spec.stopped') ?? false)),
        h('dt', {}, 'SQL'), h('dd', {}, h('pre', { class: 'block' }, get(s, 'spec.statement') || ''))));
    } catch {
      return;
    }
    await Promise.allSettled([
      fill(results, async () => {
        try {
          return { ok: await api('GET', `${path}/results`) };
        } catch (e) {
          if (e.status === 400 || e.status === 410) return { none: e.message };
          throw e;
        }
      }, (r) => (r.none ? empty(r.none) : resultsTable(statement, r.ok))),
      fill(exceptions, () => api('GET', `${path}/exceptions`), (list) => {
        const data = (list && list.data) || [];
        if (!data.length) return empty('No exceptions.');
        return table('Exceptions', [
          { key: 'time', title: 'Time', cell: (x) => timeCell(x.timestamp) },
          { key: 'message', title: 'Message', cell: (x) => h('pre', { class: 'block' }, x.message || JSON.stringify(x)) },
        ], data);
      }),
    ]);
  };
  main.append(
    crumbs({ text: 'Environments', href: '#/' }, { text: env, href: `#/env/${enc(env)}` }, { text: 'Statements', href: `#/env/${enc(env)}/statements` }, { text: name }),
    h('div', { class: 'title-row' }, h('h1', {}, name)),
    h('div', { class: 'actions', role: 'group', 'aria-label': 'Statement actions' }, remove),
    h('section', { class: 'panel', 'aria-labelledby': 'st-h' }, h('h2', { id: 'st-h' }, 'Statement'), summary),
    h('section', { class: 'panel', 'aria-labelledby': 'res-h' }, h('h2', { id: 'res-h' }, 'Results'), results),
    h('section', { class: 'panel', 'aria-labelledby': 'exc-h' }, h('h2', { id: 'exc-h' }, 'Exceptions'), exceptions));
  v.poll(refresh);
}

// ---------------------------------------------------------------- secrets

const SECRET_TEMPLATE = `apiVersion: cmf.confluent.io/v1
kind: Secret
metadata:
  name: my-secret
spec:
  data:
    username: alice
    password: change-me
`;

function viewSecrets() {
  const v = newView('secrets');
  const list = region('Secrets');
  const editor = yamlEditor({
    id: 'secret-yaml',
    label: 'Secret YAML',
    hint: 'spec.data is write-only: drey encrypts it at rest and never returns it. Applying an existing name replaces its data.',
    template: SECRET_TEMPLATE,
    apply: async (text) => {
      const { name } = await applyDocument(text, null, 'Secret');
      say(`Secret ${name} saved.`);
      refresh();
      return `Secret ${name} saved.`;
    },
  });
  const refresh = () => fill(list, () => api('GET', `${API}/secrets?size=100&sort=name,asc`), (page) => {
    const items = page.items || [];
    if (!items.length) return empty('No secrets.');
    return table('Secrets', [
      { key: 'name', title: 'Name', cell: (s) => s.metadata.name },
      { key: 'version', title: 'Version', class: 'opt', cell: (s) => String(get(s, 'status.version') ?? '') },
      { key: 'envs', title: 'Mapped in', cell: (s) => (get(s, 'status.environments') || []).join(', ') || dash() },
      { key: 'updated', title: 'Updated', class: 'opt', cell: (s) => timeCell(get(s, 'metadata.updateTimestamp')) },
      {
        key: 'actions', title: 'Actions', cell: (s) => actionButton('Delete', async () => {
          if (!await confirmAction(`Delete secret ${s.metadata.name}?`, 'drey refuses while an environment maps it.', 'Delete secret')) return;
          await api('DELETE', `${API}/secrets/${enc(s.metadata.name)}`);
          say(`Secret ${s.metadata.name} deleted.`);
          refresh();
        }, { class: 'danger small', 'aria-label': `Delete secret ${s.metadata.name}` }),
      },
    ], items, (s) => ({ 'data-name': s.metadata.name }));
  });
  main.append(
    h('div', { class: 'title-row' }, h('h1', {}, 'Secrets')),
    h('p', { class: 'note' }, 'Secret values are never shown: the API does not return them.'),
    h('section', { class: 'panel', 'aria-labelledby': 'sec-h' }, h('h2', { id: 'sec-h' }, 'All secrets'), list),
    h('section', { class: 'panel', 'aria-labelledby': 'sec-new-h' }, h('h2', { id: 'sec-new-h' }, 'Create or update a secret'), editor.form));
  v.poll(refresh, 5000);
}

// ---------------------------------------------------------------- routing

function notFound() {
  newView(null);
  main.append(h('h1', {}, 'Page not found'), h('p', {}, h('a', { href: '#/' }, 'Go to the environments')));
}

const ROUTES = [
  [/^#?\/?$/, () => viewEnvironments()],
  [/^#\/secrets$/, () => viewSecrets()],
  [/^#\/env\/([^/]+)$/, (env) => viewEnvironment(env)],
  [/^#\/env\/([^/]+)\/(statements|pools)$/, (env, tab) => viewEnvironment(env, tab)],
  [/^#\/env\/([^/]+)\/app\/([^/]+)$/, (env, app) => viewApplication(env, app)],
  [/^#\/env\/([^/]+)\/statement\/([^/]+)$/, (env, s) => viewStatement(env, s)],
];

function route() {
  if (settings.auth === 'token' && !token()) {
    renderTokenForm();
    return;
  }
  renderSession();
  const hash = window.location.hash || '#/';
  for (const [pattern, show] of ROUTES) {
    const m = pattern.exec(hash);
    if (m) {
      let args;
      try {
        args = m.slice(1).map(decodeURIComponent);
      } catch {
        break;
      }
      show(...args);
      main.focus({ preventScroll: true });
      return;
    }
  }
  notFound();
}

async function boot() {
  try {
    const response = await fetch('/ui/config.json', { cache: 'no-store' });
    Object.assign(settings, await response.json());
  } catch {
    // Unknown: assume tokens; a 401 would ask for one anyway.
    settings.auth = 'token';
  }
  window.addEventListener('hashchange', route);
  route();
}

boot();

import { apiKey, getJson } from '../api.ts';
import { formatTime, h, jsonBlock } from '../dom.ts';
import { registerView } from '../views.ts';

interface SchemaSummary {
  event_type: string;
  latest_version: number;
  compatibility: string;
  on_violation: string;
  deprecated: boolean;
  deprecation_message: string | null;
  updated_at: string;
  updated_by: { name: string };
}

interface SchemaVersion {
  version: number;
  created_at: string;
  created_by: { name: string };
  schema: Record<string, unknown>;
}

interface Break {
  kind: 'incompatible' | 'unproven';
  keyword: string;
  field: string;
  message: string;
}

interface Diff {
  from: number;
  to: number;
  changes: { path: string; change: string; from?: unknown; to?: unknown }[];
  backward: { compatible: boolean; breaks: Break[] };
  forward: { compatible: boolean; breaks: Break[] };
}

/** A PUT whose refusals (409 breaks, 422 schema problems) are shown, not just their detail. */
async function putSchema(
  type: string,
  body: unknown,
  dryRun: boolean,
): Promise<{ ok: boolean; lines: string[] }> {
  const headers = new Headers({ 'content-type': 'application/json' });
  if (apiKey() !== '') headers.set('authorization', `Bearer ${apiKey()}`);
  const query = dryRun ? '?dry_run=true' : '';
  const response = await fetch(`/api/v1/schemas/${encodeURIComponent(type)}${query}`, {
    method: 'PUT',
    headers,
    body: JSON.stringify(body),
  });
  const answer = (await response.json()) as {
    outcome?: string;
    version?: number;
    detail?: string;
    breaks?: Break[];
    errors?: { field: string; message: string }[];
  };
  if (response.ok) {
    const what = dryRun ? `would be: ${answer.outcome}` : answer.outcome;
    return { ok: true, lines: [`${type}: ${what} (v${answer.version})`] };
  }
  const lines = [`${response.status}: ${answer.detail ?? 'refused'}`];
  for (const b of answer.breaks ?? []) lines.push(`${b.field} [${b.keyword}] ${b.message}`);
  for (const e of answer.errors ?? []) lines.push(`${e.field}: ${e.message}`);
  return { ok: false, lines };
}

const breakList = (breaks: readonly Break[], testId: string) =>
  h(
    'ul',
    { class: 'breaks', 'data-testid': testId },
    ...breaks.map((b) =>
      h(
        'li',
        {},
        h('span', { class: `badge ${b.kind === 'unproven' ? 'failed' : 'invalid'}` }, b.keyword),
        ` ${b.field}: ${b.message}`,
      ),
    ),
  );

/** The event contracts: registered types, their versions, diffs, and a new version's check. */
registerView({
  id: 'schemas',
  title: 'Schemas',
  order: 35,
  mount(el, params) {
    const message = h('p', { class: 'message', role: 'status', 'data-testid': 'schemas-message' });
    const rows = h('tbody');
    const detail = h('aside', { class: 'detail', 'data-testid': 'schema-detail' });
    const say = (text: string, kind: 'ok' | 'error' = 'ok') => {
      message.textContent = text;
      message.className = `message ${kind}`;
    };

    const load = async () => {
      let schemas: SchemaSummary[];
      try {
        ({ schemas } = await getJson<{ schemas: SchemaSummary[] }>('/api/v1/schemas'));
      } catch (error) {
        say((error as Error).message, 'error');
        return;
      }
      rows.replaceChildren(
        ...schemas.map((s) =>
          h(
            'tr',
            { 'data-type': s.event_type, onclick: () => void show(s.event_type) },
            h('td', { class: 'mono' }, s.event_type),
            h('td', { class: 'num' }, `v${s.latest_version}`),
            h('td', {}, s.compatibility),
            h('td', {}, h('span', { class: `badge ${s.on_violation}` }, s.on_violation)),
            h('td', {}, s.deprecated ? h('span', { class: 'badge failed' }, 'deprecated') : ''),
            h('td', {}, `${formatTime(s.updated_at)} · ${s.updated_by.name}`),
          ),
        ),
      );
      if (schemas.length === 0) {
        rows.append(
          h('tr', {}, h('td', { colspan: '6', class: 'muted' }, 'No event type has a schema yet.')),
        );
      }
    };

    /** `notice`: what the last registration said, kept when the detail is built again. */
    const show = async (type: string, version?: number, notice: Node[] = []) => {
      const base = `/api/v1/schemas/${encodeURIComponent(type)}`;
      let versions: SchemaVersion[];
      try {
        ({ versions } = await getJson<{ versions: SchemaVersion[] }>(`${base}/versions`));
      } catch (error) {
        say((error as Error).message, 'error');
        return;
      }
      const latest = versions.at(-1);
      if (latest === undefined) return;
      const current = versions.find((v) => v.version === version) ?? latest;
      const diff =
        current.version > 1
          ? await getJson<Diff>(`${base}/diff?to=${current.version}`).catch(() => undefined)
          : undefined;
      const editor = h('textarea', {
        rows: '12',
        class: 'mono',
        'data-testid': 'schema-editor',
        spellcheck: 'false',
      });
      editor.value = JSON.stringify(latest.schema, null, 2);
      const outcome = h('div', { 'data-testid': 'schema-put-result' }, ...notice);
      const submit = async (dryRun: boolean) => {
        let schema: unknown;
        try {
          schema = JSON.parse(editor.value);
        } catch (error) {
          outcome.replaceChildren(h('p', { class: 'message error' }, (error as Error).message));
          return;
        }
        const result = await putSchema(type, { schema }, dryRun);
        const lines = result.lines.map((line) =>
          h('p', { class: `message ${result.ok ? 'ok' : 'error'}` }, line),
        );
        outcome.replaceChildren(...lines);
        if (result.ok && !dryRun) {
          // The new version shows as the latest; what the registration said stays beside it.
          await load();
          await show(type, undefined, lines);
        }
      };
      detail.replaceChildren(
        h('h3', {}, type),
        h(
          'div',
          { class: 'actions', 'data-testid': 'schema-versions' },
          ...versions.map((v) =>
            h(
              'button',
              {
                type: 'button',
                class: v.version === current.version ? 'active' : '',
                onclick: () => void show(type, v.version),
              },
              `v${v.version}`,
            ),
          ),
        ),
        h(
          'p',
          { class: 'muted' },
          `v${current.version} by ${current.created_by.name}, ${formatTime(current.created_at)}`,
        ),
        jsonBlock(current.schema),
        ...(diff === undefined
          ? []
          : [
              h('h4', {}, `Changes from v${diff.from}`),
              h(
                'ul',
                { 'data-testid': 'schema-diff' },
                ...diff.changes.map((c) =>
                  h('li', { class: 'mono' }, `${c.change} ${c.path || '(root)'}`),
                ),
              ),
              h(
                'p',
                {},
                `backward: ${diff.backward.compatible ? 'compatible' : 'breaks'} · forward: ${diff.forward.compatible ? 'compatible' : 'breaks'}`,
              ),
              breakList([...diff.backward.breaks, ...diff.forward.breaks], 'schema-diff-breaks'),
            ]),
        h('h4', {}, 'Register a new version'),
        editor,
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'button', onclick: () => void submit(true) }, 'Check'),
          h(
            'button',
            { type: 'button', 'data-testid': 'schema-register', onclick: () => void submit(false) },
            'Register',
          ),
        ),
        outcome,
      );
    };

    el.append(
      h('h2', {}, 'Schemas'),
      message,
      h(
        'div',
        { class: 'split' },
        h(
          'table',
          { class: 'grid', 'data-testid': 'schemas-table' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...['event type', 'latest', 'compatibility', 'on violation', '', 'updated'].map((c) =>
                h('th', {}, c),
              ),
            ),
          ),
          rows,
        ),
        detail,
      ),
    );
    void load().then(() => {
      const type = params.get('type');
      if (type !== null) void show(type);
    });
    return undefined;
  },
});

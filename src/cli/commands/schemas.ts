import { readFile } from 'node:fs/promises';
import { COMPATIBILITY_MODES, VIOLATION_ACTIONS } from '../../domain/schemas/model.ts';
import {
  ApiError,
  baseUrl,
  type ClientCommand,
  choiceOption,
  EXIT_FAILURE,
  EXIT_OK,
  type Io,
  intOption,
  needingAdminKey,
  parseCommand,
  requestJson,
  table,
  URL_HELP,
  UsageError,
  unknownAction,
} from './common.ts';

const help = `herald schemas: the event contracts (schema registry) of a running Herald

Usage:
  herald schemas list [--json]
                       every registered event type with its latest version and settings
  herald schemas get TYPE [--version N] [--json]
                       a type's schema (the latest version, or version N)
  herald schemas put TYPE --file FILE [--compatibility M] [--on-violation A]
                     [--description TEXT] [--dry-run] [--json]
                       register FILE (a JSON Schema, draft 2020-12; - reads stdin) as the
                       next version; an incompatible change is refused, naming what breaks
  herald schemas versions TYPE [--json]
                       every version of a type, with who registered it
  herald schemas diff TYPE [--from N] [--to N] [--json]
                       what changed between two versions (default: the latest two) and
                       what breaks in each direction
  herald schemas set TYPE [--compatibility M] [--on-violation A] [--description TEXT]
                     [--deprecate [--message TEXT] | --undeprecate] [--json]
                       change a type's settings, or deprecate it (no new version)

Options:
  --compatibility M    ${COMPATIBILITY_MODES.join(' | ')} (default backward: a new version
                       accepts every event the previous one accepted)
  --on-violation A     ${VIOLATION_ACTIONS.join(' | ')} (default reject: 422; quarantine: 202,
                       then dead-lettered with reason schema_violation)
  --dry-run            check only: print what would change, register nothing
  --json               print JSON
${URL_HELP}
  -h, --help           show this help

Changes need an API key with the admin scope; reading needs analytics:read.
Exit status: 0 done, 1 refused (incompatible, invalid), not found or the API failed, 2 bad usage.
`;

interface SchemaJson {
  event_type: string;
  version: number;
  latest_version: number;
  compatibility: string;
  on_violation: string;
  description: string | null;
  deprecated: boolean;
  deprecation_message: string | null;
  schema: Record<string, unknown>;
  created_at: string;
  created_by: { key_id: string | null; name: string };
  outcome?: string;
}

interface BreakJson {
  kind: string;
  keyword: string;
  field: string;
  path: string;
  message: string;
}

interface ChangeJson {
  path: string;
  change: string;
  from?: unknown;
  to?: unknown;
}

const typePath = (url: string, type: string) => `${url}/api/v1/schemas/${encodeURIComponent(type)}`;

/** `herald schemas …`: the /api/v1/schemas routes from the terminal. */
export const schemasCommand: ClientCommand = {
  name: 'schemas',
  summary: 'Event contracts: register, read, diff and deprecate event schemas',
  help,
  async run(argv, io) {
    const parsed = parseCommand(argv, io, help, {
      file: { type: 'string' },
      version: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      compatibility: { type: 'string' },
      'on-violation': { type: 'string' },
      description: { type: 'string' },
      deprecate: { type: 'boolean' },
      undeprecate: { type: 'boolean' },
      message: { type: 'string' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
    });
    if (parsed === undefined) return EXIT_OK;
    const { values, positionals } = parsed;
    const [action, type, ...rest] = positionals;
    if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
    const url = baseUrl(values.url, io.env, values['api-key']);
    const needType = () => {
      if (type === undefined || type === '') throw new UsageError(`schemas ${action} needs TYPE`);
      return type;
    };
    const print = (value: unknown, text: () => string) =>
      io.stdout.write(values.json ? `${JSON.stringify(value)}\n` : text());
    const settings = () => ({
      ...(values.compatibility === undefined
        ? {}
        : {
            compatibility: choiceOption(
              'compatibility',
              values.compatibility,
              COMPATIBILITY_MODES,
              'backward',
            ),
          }),
      ...(values['on-violation'] === undefined
        ? {}
        : {
            on_violation: choiceOption(
              'on-violation',
              values['on-violation'],
              VIOLATION_ACTIONS,
              'reject',
            ),
          }),
      ...(values.description === undefined ? {} : { description: values.description }),
    });

    switch (action) {
      case 'list': {
        if (type !== undefined) throw new UsageError(`unexpected argument "${type}"`);
        return refusals(io, async () => {
          const { body } = await requestJson<{ schemas: SchemaJson[] }>(`${url}/api/v1/schemas`);
          print(body, () => {
            const rows = body.schemas.map((s) => [
              s.event_type,
              `v${s.latest_version}`,
              s.compatibility,
              s.on_violation,
              s.deprecated ? 'deprecated' : '',
            ]);
            return `${table([['type', 'latest', 'compatibility', 'on violation', ''], ...rows])}\n${body.schemas.length} type(s)\n`;
          });
          return EXIT_OK;
        });
      }
      case 'get': {
        const name = needType();
        const version =
          values.version === undefined ? undefined : intOption('version', values.version, 1, 1);
        return refusals(io, async () => {
          const query = version === undefined ? '' : `?version=${version}`;
          const { body } = await requestJson<SchemaJson>(`${typePath(url, name)}${query}`);
          print(body, () => `${JSON.stringify(body.schema, null, 2)}\n`);
          if (!values.json) {
            io.stderr.write(
              `${body.event_type} v${body.version} of ${body.latest_version}, ${body.compatibility}, ` +
                `${body.on_violation}${body.deprecated ? ', deprecated' : ''}; by ${body.created_by.name} at ${body.created_at}\n`,
            );
          }
          return EXIT_OK;
        });
      }
      case 'put': {
        const name = needType();
        if (values.file === undefined)
          throw new UsageError('schemas put needs --file FILE (or - for stdin)');
        const schema = await readSchema(values.file);
        const dryRun = values['dry-run'] === true;
        return refusals(io, async () => {
          const { status, body } = await requestJson<
            SchemaJson & { dry_run?: boolean; changes?: ChangeJson[] }
          >(`${typePath(url, name)}${dryRun ? '?dry_run=true' : ''}`, {
            method: 'PUT',
            body: { schema, ...settings() },
          });
          print(body, () => {
            if (dryRun) {
              const changes = body.changes ?? [];
              return `${name}: would be ${describeOutcome(body.outcome, body.version)} (dry run)\n${formatChanges(changes)}`;
            }
            return `${name}: ${describeOutcome(body.outcome, body.version)}${status === 201 ? ' (new type)' : ''}\n`;
          });
          return EXIT_OK;
        });
      }
      case 'versions': {
        const name = needType();
        return refusals(io, async () => {
          const { body } = await requestJson<{
            versions: {
              version: number;
              fingerprint: string;
              created_at: string;
              created_by: { name: string };
            }[];
          }>(`${typePath(url, name)}/versions`);
          print(
            body,
            () =>
              `${table([
                ['version', 'created', 'by', 'fingerprint'],
                ...body.versions.map((v) => [
                  `v${v.version}`,
                  v.created_at,
                  v.created_by.name,
                  v.fingerprint.slice(0, 12),
                ]),
              ])}\n`,
          );
          return EXIT_OK;
        });
      }
      case 'diff': {
        const name = needType();
        const query = new URLSearchParams();
        if (values.from !== undefined)
          query.set('from', String(intOption('from', values.from, 1, 1)));
        if (values.to !== undefined) query.set('to', String(intOption('to', values.to, 1, 1)));
        return refusals(io, async () => {
          const { body } = await requestJson<{
            from: number;
            to: number;
            changes: ChangeJson[];
            backward: { compatible: boolean; breaks: BreakJson[] };
            forward: { compatible: boolean; breaks: BreakJson[] };
          }>(`${typePath(url, name)}/diff${query.size > 0 ? `?${query}` : ''}`);
          print(body, () => {
            const verdict = (mode: string, v: { compatible: boolean; breaks: BreakJson[] }) =>
              v.compatible
                ? `${mode}: compatible\n`
                : `${mode}: breaks\n${v.breaks.map((b) => `  ${b.field} [${b.keyword}${b.kind === 'unproven' ? ', unproven' : ''}] ${b.message}\n`).join('')}`;
            return (
              `${name} v${body.from} → v${body.to}\n${formatChanges(body.changes)}` +
              verdict('backward', body.backward) +
              verdict('forward', body.forward)
            );
          });
          return EXIT_OK;
        });
      }
      case 'set': {
        const name = needType();
        if (values.deprecate && values.undeprecate) {
          throw new UsageError('--deprecate and --undeprecate exclude each other');
        }
        if (values.message !== undefined && !values.deprecate) {
          throw new UsageError('--message goes with --deprecate');
        }
        const body = {
          ...settings(),
          ...(values.deprecate ? { deprecated: true } : {}),
          ...(values.undeprecate ? { deprecated: false } : {}),
          ...(values.message === undefined ? {} : { deprecation_message: values.message }),
        };
        if (Object.keys(body).length === 0) {
          throw new UsageError('schemas set needs a setting to change');
        }
        return refusals(io, async () => {
          const { body: result } = await requestJson<SchemaJson>(typePath(url, name), {
            method: 'PATCH',
            body,
          });
          print(
            result,
            () =>
              `${name}: ${result.outcome === 'unchanged' ? 'unchanged' : 'updated'}: ${result.compatibility}, ${result.on_violation}${result.deprecated ? `, deprecated${result.deprecation_message ? ` (${result.deprecation_message})` : ''}` : ''}\n`,
          );
          return EXIT_OK;
        });
      }
      default:
        throw unknownAction(action, ['list', 'get', 'put', 'versions', 'diff', 'set']);
    }
  },
};

async function readSchema(file: string): Promise<unknown> {
  let text: string;
  try {
    text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--file: cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--file: ${file} is not JSON: ${(error as Error).message}`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function describeOutcome(outcome: string | undefined, version: number): string {
  switch (outcome) {
    case 'created':
      return `v${version} registered`;
    case 'version':
      return `v${version} registered`;
    case 'settings':
      return `settings changed (still v${version})`;
    default:
      return `unchanged (v${version})`;
  }
}

function formatChanges(changes: readonly ChangeJson[]): string {
  const sign = { added: '+', removed: '-', changed: '~' } as Record<string, string>;
  return changes
    .map((c) => {
      const value = c.change === 'removed' ? c.from : c.to;
      return `  ${sign[c.change] ?? '?'} ${c.path || '(root)'} ${JSON.stringify(value)}\n`;
    })
    .join('');
}

/** 409 and 422 name what is wrong; 401/403 say an admin key is needed; 404 names the type. */
const refusals = (io: Io, work: () => Promise<number>) =>
  needingAdminKey(io, 'schemas', 'Changing schemas needs a key with the admin scope', () =>
    schemaRefusals(io, work),
  );

/** What the registry refused: each break of an incompatible version, each part of a bad schema. */
async function schemaRefusals(io: Io, work: () => Promise<number>): Promise<number> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    const body = (error.body ?? {}) as {
      detail?: string;
      breaks?: BreakJson[];
      errors?: { field: string; message: string }[];
    };
    if (error.status === 409 && body.breaks !== undefined) {
      io.stderr.write(
        `herald schemas: refused, incompatible (${error.status}):\n${body.breaks
          .map(
            (b) =>
              `  ${b.field} [${b.keyword}${b.kind === 'unproven' ? ', unproven' : ''}] ${b.message}\n`,
          )
          .join('')}`,
      );
      return EXIT_FAILURE;
    }
    if (error.status === 422 && body.errors !== undefined) {
      io.stderr.write(
        `herald schemas: refused, not a usable schema (${error.status}):\n${body.errors
          .map((e) => `  ${e.field}: ${e.message}\n`)
          .join('')}`,
      );
      return EXIT_FAILURE;
    }
    throw error;
  }
}

import { SCOPES } from '../../domain/api-keys.ts';
import {
  ApiError,
  baseUrl,
  type ClientCommand,
  EXIT_FAILURE,
  EXIT_OK,
  type Io,
  needingAdminKey,
  parseCommand,
  requestJson,
  table,
  URL_HELP,
  UsageError,
  unknownAction,
} from './common.ts';

const help = `herald keys: create, list and revoke API keys (needs an admin key when auth is on)

Usage:
  herald keys create --name NAME --scope SCOPE [--scope SCOPE ...] [--json]
                       a new key; it is printed once, here, and never shown again
  herald keys list [--all] [--json]
                       the keys (never the keys themselves): active ones, or --all
  herald keys revoke ID
                       revoke a key (every process stops accepting it within 30 s)

Options:
  --name NAME          what the key is for, e.g. "shop ingest" (1-200 characters)
  --scope SCOPE        ${SCOPES.join(' | ')}; repeat for several
  --all                list revoked keys too
  --json               print JSON
${URL_HELP}
  -h, --help           show this help

Exit status: 0 done, 1 not found, refused or the API failed, 2 bad usage.
`;

interface KeyJson {
  id: string;
  prefix: string;
  name: string;
  scopes: string[];
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
  key?: string;
}

/** `herald keys create|list|revoke`: the /api/v1/keys admin routes from the terminal. */
export const keysCommand: ClientCommand = {
  name: 'keys',
  summary: 'API keys: create (shown once), list, revoke',
  help,
  async run(argv, io) {
    const parsed = parseCommand(argv, io, help, {
      name: { type: 'string' },
      scope: { type: 'string', multiple: true },
      all: { type: 'boolean' },
      json: { type: 'boolean' },
    });
    if (parsed === undefined) return EXIT_OK;
    const { values, positionals } = parsed;
    const [action, ...rest] = positionals;
    const url = baseUrl(values.url, io.env, values['api-key']);
    switch (action) {
      case 'create': {
        if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
        const name = values.name?.trim() ?? '';
        if (name === '' || name.length > 200) {
          throw new UsageError('keys create needs --name (1-200 characters)');
        }
        const scopes = [...new Set(values.scope ?? [])];
        if (scopes.length === 0) throw new UsageError('keys create needs at least one --scope');
        const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
        if (unknown.length > 0) {
          throw new UsageError(
            `--scope: unknown ${unknown.join(', ')}; one of ${SCOPES.join(', ')}`,
          );
        }
        return refusalIsFailure(io, async () => {
          const { body } = await requestJson<KeyJson>(`${url}/api/v1/keys`, {
            body: { name, scopes },
          });
          if (values.json) {
            io.stdout.write(`${JSON.stringify(body)}\n`);
          } else {
            io.stdout.write(
              `${body.key}\n` +
                `created key ${body.id} "${body.name}" (${body.scopes.join(', ')})\n` +
                'This is the only time the key is shown: store it now.\n',
            );
          }
          return EXIT_OK;
        });
      }
      case 'list': {
        if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
        return refusalIsFailure(io, async () => {
          const { body } = await requestJson<{ keys: KeyJson[] }>(`${url}/api/v1/keys`);
          const keys = values.all ? body.keys : body.keys.filter((k) => k.revoked_at === null);
          if (values.json) {
            io.stdout.write(`${JSON.stringify({ keys })}\n`);
            return EXIT_OK;
          }
          io.stdout.write(
            `${table([
              ['id', 'prefix', 'name', 'scopes', 'created', 'last used', 'revoked'],
              ...keys.map((k) => [
                k.id,
                k.prefix,
                k.name,
                k.scopes.join(','),
                k.created_at,
                k.last_used_at ?? '-',
                k.revoked_at ?? '-',
              ]),
            ])}\n${keys.length} key(s)\n`,
          );
          return EXIT_OK;
        });
      }
      case 'revoke': {
        if (rest.length !== 1) throw new UsageError('keys revoke takes exactly one key id');
        const id = rest[0] ?? '';
        return refusalIsFailure(io, async () => {
          try {
            await requestJson(`${url}/api/v1/keys/${encodeURIComponent(id)}`, {
              method: 'DELETE',
            });
          } catch (error) {
            if (error instanceof ApiError && error.status === 404) {
              io.stderr.write(`herald keys: no active key with id "${id}"\n`);
              return EXIT_FAILURE;
            }
            throw error;
          }
          io.stdout.write(`revoked key ${id}\n`);
          return EXIT_OK;
        });
      }
      default:
        throw unknownAction(action, ['create', 'list', 'revoke']);
    }
  },
};

/** A 401/403 names what is missing: an admin key. */
const refusalIsFailure = (io: Io, work: () => Promise<number>) =>
  needingAdminKey(io, 'keys', 'Key administration needs a key with the admin scope', work);

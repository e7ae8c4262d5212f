import { randomBytes } from 'node:crypto';
import { ROLES } from '../../domain/users.ts';
import {
  baseUrl,
  type ClientCommand,
  choiceOption,
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

const help = `herald users: administer user accounts (with an admin API key)

Usage:
  herald users list [--limit N] [--offset N] [--json]
  herald users show ID
  herald users create --username U --email E [--role R] [--full-name N] [--phone P] [--json]
                       the password is $HERALD_USER_PASSWORD, else a generated one printed once
  herald users set-role ID ROLE
  herald users delete ID
                       delete the user and end its sessions

Options:
  --role R             ${ROLES.join(' | ')} (default user)
  --full-name N        the user's name
  --phone P            E.164 number for SMS notifications, e.g. +15551234567
  --limit N, --offset N
                       page through the list (default 100 from 0)
  --json               print JSON
${URL_HELP}
  -h, --help           show this help

Exit status: 0 done, 1 not found, refused, conflicting or the API failed, 2 bad usage.
`;

interface UserJson {
  id: string;
  username: string;
  email: string;
  full_name: string | null;
  phone: string | null;
  role: string;
  created_at: string;
}

/** `herald users list|show|create|set-role|delete`: the /users routes for operators. */
export const usersCommand: ClientCommand = {
  name: 'users',
  summary: 'user accounts: list, show, create, set-role, delete',
  help,
  async run(argv, io) {
    const parsed = parseCommand(argv, io, help, {
      username: { type: 'string' },
      email: { type: 'string' },
      role: { type: 'string' },
      'full-name': { type: 'string' },
      phone: { type: 'string' },
      limit: { type: 'string' },
      offset: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (parsed === undefined) return EXIT_OK;
    const { values, positionals } = parsed;
    const [action, ...rest] = positionals;
    const url = baseUrl(values.url, io.env, values['api-key']);
    const exactly = (count: number, what: string) => {
      if (rest.length !== count) throw new UsageError(`users ${action} takes ${what}`);
    };
    const userUrl = (id: string) => `${url}/users/${encodeURIComponent(id)}`;

    switch (action) {
      case 'list': {
        exactly(0, 'no arguments');
        const query = new URLSearchParams({
          limit: String(intOption('limit', values.limit, 100, 1, 1000)),
          offset: String(intOption('offset', values.offset, 0)),
        });
        return answered(io, async () => {
          const { body } = await requestJson<UserJson[]>(`${url}/users/?${query}`);
          if (values.json) {
            io.stdout.write(`${JSON.stringify(body)}\n`);
            return EXIT_OK;
          }
          io.stdout.write(
            `${table([
              ['id', 'username', 'email', 'role', 'created'],
              ...body.map((u) => [u.id, u.username, u.email, u.role, u.created_at]),
            ])}\n${body.length} user(s)\n`,
          );
          return EXIT_OK;
        });
      }
      case 'show': {
        exactly(1, 'exactly one user id');
        return answered(io, async () => {
          const { body } = await requestJson(userUrl(rest[0] ?? ''));
          io.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
          return EXIT_OK;
        });
      }
      case 'create': {
        exactly(0, 'options, no arguments');
        if (!values.username) throw new UsageError('users create needs --username');
        if (!values.email) throw new UsageError('users create needs --email');
        const role = choiceOption('role', values.role, ROLES, 'user');
        const chosen = io.env.HERALD_USER_PASSWORD;
        const password = chosen || randomBytes(18).toString('base64url');
        const body: Record<string, unknown> = {
          username: values.username,
          email: values.email,
          password,
          role,
        };
        if (values['full-name'] !== undefined) body.full_name = values['full-name'];
        if (values.phone !== undefined) body.phone = values.phone;
        return answered(io, async () => {
          const { body: user } = await requestJson<UserJson>(`${url}/users/`, { body });
          if (values.json) {
            io.stdout.write(`${JSON.stringify(chosen ? user : { ...user, password })}\n`);
          } else {
            io.stdout.write(`created user ${user.id} "${user.username}" (${user.role})\n`);
            if (!chosen) {
              io.stdout.write(`password: ${password}\nThis is the only time it is shown.\n`);
            }
          }
          return EXIT_OK;
        });
      }
      case 'set-role': {
        exactly(2, 'a user id and a role');
        const [id = '', raw] = rest;
        const role = choiceOption('role', raw, ROLES, 'user');
        return answered(io, async () => {
          const { body } = await requestJson<UserJson>(userUrl(id), {
            method: 'PUT',
            body: { role },
          });
          io.stdout.write(`user ${body.id} "${body.username}" is now ${body.role}\n`);
          return EXIT_OK;
        });
      }
      case 'delete': {
        exactly(1, 'exactly one user id');
        const id = rest[0] ?? '';
        return answered(io, async () => {
          await requestJson(userUrl(id), { method: 'DELETE' });
          io.stdout.write(`deleted user ${id}\n`);
          return EXIT_OK;
        });
      }
      default:
        throw unknownAction(action, ['list', 'show', 'create', 'set-role', 'delete']);
    }
  },
};

/** The API's refusals (not found, not allowed, taken) as one line and exit 1. */
const answered = (io: Io, work: () => Promise<number>) =>
  needingAdminKey(io, 'users', 'User administration needs an API key with the admin scope', work);

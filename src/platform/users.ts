import { PostgresOutboxStore } from '../adapters/store/postgres/outbox.ts';
import { PostgresUserStore } from '../adapters/store/postgres/users.ts';
import { OutboxRelay } from '../app/outbox-relay.ts';
import { UserService } from '../app/users.ts';
import type { Config } from '../config.ts';
import type { ScryptParams } from '../domain/users.ts';
import { ErrorCodes, HeraldError } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Broker } from '../ports/broker.ts';
import type { Database } from '../ports/database.ts';
import { consumerId } from './consumer-groups.ts';
import type { Stops } from './stops.ts';

/**
 * The user service and its outbox relay (API role; the relay is started by the caller once
 * nothing can fail the start any more, and stops after the API, to publish what its last
 * requests committed): creates the ADMIN_EMAIL admin if missing; every commit with an event
 * wakes the relay.
 */
export async function startUsers(
  config: Config,
  deps: { db: Database; broker: Broker; logger: Logger; scrypt: ScryptParams | undefined },
  stops: Stops,
): Promise<{ users: UserService; outboxRelay: OutboxRelay }> {
  const { db, broker, logger, scrypt } = deps;
  const outboxRelay = new OutboxRelay(new PostgresOutboxStore(db), broker, logger, {
    holder: consumerId(),
    pollMs: config.outboxPollMs,
  });
  stops.add('outbox relay', () => outboxRelay.stop());
  const users = new UserService(new PostgresUserStore(db), logger, {
    sessionTtlMs: config.sessionTtlMs,
    openRegistration: config.usersOpenRegistration,
    login: {
      freeFailures: config.loginFreeFailures,
      accountFreeFailures: config.loginAccountFreeFailures,
      baseDelayMs: config.loginDelayBaseMs,
      maxDelayMs: config.loginDelayMaxMs,
      windowMs: config.loginWindowMs,
      trustedAddressMs: config.loginTrustedAddressMs,
    },
    onEvent: () => outboxRelay.wake(),
    ...(scrypt === undefined ? {} : { scrypt }),
  });
  if (config.adminEmail !== undefined && config.adminPassword !== undefined) {
    try {
      await users.ensureAdmin(config.adminEmail, config.adminPassword);
    } catch (error) {
      if (!(error instanceof HeraldError && error.code === ErrorCodes.VALIDATION)) throw error;
      throw new HeraldError(
        ErrorCodes.CONFIG_INVALID,
        `ADMIN_EMAIL / ADMIN_PASSWORD: ${error.message}`,
        { cause: error, details: { setting: 'ADMIN_EMAIL', ...error.details } },
      );
    }
  }
  return { users, outboxRelay };
}

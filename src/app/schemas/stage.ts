import { SCHEMA_CHECKED_HEADER } from '../../domain/schemas/model.ts';
import { ErrorCodes, HeraldError } from '../../errors.ts';
import type { Stage } from '../pipeline.ts';
import type { SchemaCatalog } from './catalog.ts';
import { ContractCheck, describeViolation } from './contract-check.ts';

/**
 * The worker's contract stage: a delivered event whose type has a contract is checked against
 * the registry as this process knows it now — so that a quarantined event (accepted with a
 * violation) is dead-lettered with reason `schema_violation`, and the same event replayed after
 * the schema was fixed passes. An event the API checked and found valid (`schema_checked`) is
 * not checked again on its first delivery: its producer was told 202, and a schema changed
 * since (under compatibility none) must not dead-letter it. Types without a contract pass.
 */
export function contractStage(catalog: SchemaCatalog): Stage {
  // SCHEMAS_REQUIRED is the API's to enforce: what it accepted is not refused afterwards.
  const contracts = new ContractCheck(catalog, { required: false });
  return {
    name: 'contract',
    run({ message }) {
      if (message.generation === 0 && message.headers[SCHEMA_CHECKED_HEADER] !== undefined) return;
      const verdict = contracts.check(message.topic, message.value);
      if (verdict.status !== 'violation') return;
      throw new HeraldError(ErrorCodes.SCHEMA_VIOLATION, describeViolation(verdict), {
        details: {
          eventType: verdict.eventType,
          version: verdict.version,
          errors: verdict.errors,
        },
      });
    },
  };
}

/** `stages` with the contract stage right after decoding (first, without a decode stage). */
export function withContractStage(stages: readonly Stage[], catalog: SchemaCatalog): Stage[] {
  const decode = stages.findIndex((s) => s.name === 'decode');
  const stage = contractStage(catalog);
  return [...stages.slice(0, decode + 1), stage, ...stages.slice(decode + 1)];
}

import { ErrorCodes, HeraldError } from '../../errors.ts';
import type { Stage } from '../pipeline.ts';
import type { SchemaCatalog } from './catalog.ts';
import { ContractCheck, describeViolation } from './contract-check.ts';

/**
 * The worker's contract stage: every delivered event whose type has a contract is checked
 * again, against the registry as this process knows it now — so that a quarantined event
 * (accepted with a violation) is dead-lettered with reason `schema_violation`, and the same
 * event replayed after the schema was fixed passes. Types without a contract pass.
 */
export function contractStage(catalog: SchemaCatalog): Stage {
  // SCHEMAS_REQUIRED is the API's to enforce: what it accepted is not refused afterwards.
  const contracts = new ContractCheck(catalog, { required: false });
  return {
    name: 'contract',
    run({ message }) {
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

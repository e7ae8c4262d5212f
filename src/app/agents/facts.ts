import { analyzeFormula } from '../../domain/chemistry/index.ts';
import type { MoleculeFacts, StructureToolkit } from '../../ports/llm.ts';

/**
 * The deterministic facts of a chemical event's molecule: the formula's analysis and, when the
 * event carries SMILES and a toolkit is available, RDKit's descriptors. Undefined for an event
 * without a readable formula (the processing pipeline dead-letters those).
 */
export async function moleculeFacts(
  value: Record<string, unknown>,
  toolkit: StructureToolkit | undefined,
): Promise<MoleculeFacts | undefined> {
  const data = value.data as { formula?: unknown; smiles?: unknown } | undefined;
  if (typeof value.molecule_id !== 'string' || typeof data?.formula !== 'string') return undefined;
  const analysis = analyzeFormula(data.formula);
  if (!analysis.ok) return undefined;
  const facts: MoleculeFacts = {
    moleculeId: value.molecule_id,
    formula: data.formula,
    hill: analysis.hill,
    composition: analysis.composition,
    charge: analysis.charge,
    averageMass: analysis.averageMass,
    monoisotopicMass: analysis.monoisotopicMass,
  };
  if (typeof data.smiles === 'string' && data.smiles !== '') {
    facts.smiles = data.smiles;
    if (toolkit === undefined) {
      facts.structureError = 'no structure toolkit configured';
    } else {
      try {
        facts.structure = await toolkit.describe(data.smiles, analysis.hill);
      } catch (error) {
        facts.structureError = error instanceof Error ? error.message : String(error);
      }
    }
  }
  return facts;
}

/** The cache key of a molecule: its canonical structure when known, else its Hill formula. */
export function cacheKeyOf(facts: MoleculeFacts): string {
  return facts.structure ? `smiles:${facts.structure.canonicalSmiles}` : `formula:${facts.hill}`;
}
